"""Sign-in through the edge, in both run modes: the demo accounts sign in over the HTTP API and
their tokens work on every service; a portal account's token sees only its own customer; wrong
passwords are throttled (429 with Retry-After) alike for real and unknown names; an expired, a
tampered and another key's token are refused; refresh tokens rotate and sign-out ends the
session; a disabled account is out at once; web sessions keep their tokens in HttpOnly cookies
and accept an API call only with the CSRF header."""

from __future__ import annotations

import base64
import json
import uuid
from http.cookies import SimpleCookie

import httpx

from omsctl.tokens import dev_issuer
from tests.e2e.http_scenario import CUSTOMERS, ORDERS, post
from tests.e2e.scenario import Caller

IDENTITY = "/oms.identity.v1.IdentityService"
ADMIN = Caller("hardware", "管理员", ("admin",))
DEMO_PASSWORD = "zhongshu-demo"


def sign_in(http: httpx.Client, user: str, password: str = DEMO_PASSWORD, tenant: str = "hardware"):
    return post(
        http, f"{IDENTITY}/SignIn", {"tenantId": tenant, "user": user, "password": password}, caller=None
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def call(http: httpx.Client, path: str, body: dict, token: str) -> httpx.Response:
    return http.post(
        path,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **bearer(token)},
    )


def check_sign_in(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        _demo_accounts_sign_in(http)
        _portal_account_sees_its_own_customer(http)
        _wrong_passwords_are_throttled(http)
        _bad_tokens_are_refused(http)
        _refresh_rotates_and_sign_out_ends(http)
        _disabled_accounts_are_out(http)
        _web_session_cookies(http)


def _demo_accounts_sign_in(http: httpx.Client) -> None:
    answer = sign_in(http, "陈丽")
    assert answer.status_code == 200, answer.text
    session = answer.json()["session"]
    assert session["user"]["user"] == "陈丽" and session["user"]["roles"] == ["sales"]
    assert "passwordHash" not in answer.text and DEMO_PASSWORD not in answer.text
    listed = call(http, f"{ORDERS}/ListOrders", {"pageSize": 5}, session["accessToken"])
    assert listed.status_code == 200, listed.text
    me = call(http, f"{IDENTITY}/WhoAmI", {}, session["accessToken"])
    assert me.json()["user"]["user"] == "陈丽"
    # a sales person is no administrator
    refused = call(http, f"{IDENTITY}/ListUsers", {}, session["accessToken"])
    assert refused.status_code == 403, refused.text
    # another business line's directory does not know her
    other_line = sign_in(http, "陈丽", tenant="autoparts")
    assert other_line.status_code == 401 and other_line.json()["code"] == "unauthenticated"


def _portal_account_sees_its_own_customer(http: httpx.Client) -> None:
    session = sign_in(http, "美的采购").json()["session"]
    token = session["accessToken"]
    midea = session["user"]["customerId"]
    assert session["user"]["roles"] == ["customer"] and session["user"]["customerCode"] == "MIDEA-SD"
    own = call(http, f"{CUSTOMERS}/GetCustomer", {"customerId": midea}, token)
    assert own.status_code == 200 and own.json()["customer"]["code"] == "MIDEA-SD"
    everyone = call(http, f"{CUSTOMERS}/ListCustomers", {}, token)
    assert everyone.status_code == 403
    supor = post(http, f"{CUSTOMERS}/ListCustomers", {"code": "SUPOR-HZ"}, caller=ADMIN).json()["customers"][
        0
    ]
    hidden = call(http, f"{CUSTOMERS}/GetCustomer", {"customerId": supor["customerId"]}, token)
    assert hidden.status_code in (403, 404)
    orders = call(http, f"{ORDERS}/ListOrders", {"pageSize": 500}, token)
    assert orders.status_code == 200
    assert {o["customerId"] for o in orders.json().get("orders", [])} <= {midea}
    # the directory is for administrators
    assert call(http, f"{IDENTITY}/CreateUser", {}, token).status_code == 403


def _new_user(http: httpx.Client, roles=("sales",), password: str = "钢板-2026-hinge") -> str:
    name = f"测试{uuid.uuid4().hex[:8]}"
    made = post(
        http,
        f"{IDENTITY}/CreateUser",
        {"user": name, "roles": list(roles), "password": password},
        caller=ADMIN,
    )
    assert made.status_code == 200, made.text
    assert made.json()["user"]["createdBy"] == "管理员"
    return name


def _wrong_passwords_are_throttled(http: httpx.Client) -> None:
    for name in (_new_user(http), f"无此人{uuid.uuid4().hex[:6]}"):  # a real name and an unknown one
        answers = [sign_in(http, name, "guess-guess") for _ in range(5)]
        assert [a.status_code for a in answers] == [401] * 5, [a.text for a in answers]
        assert len({a.json()["message"] for a in answers}) == 1
        waiting = sign_in(http, name, "钢板-2026-hinge")  # even the right password waits
        assert waiting.status_code == 429, waiting.text
        assert waiting.json()["code"] == "resource_exhausted"
        retry = [d for d in waiting.json()["details"] if d["type"] == "google.rpc.RetryInfo"]
        assert retry and retry[0]["debug"]["retryDelay"] == "30s", waiting.text


def _bad_tokens_are_refused(http: httpx.Client) -> None:
    token = sign_in(http, "陈丽").json()["session"]["accessToken"]
    head, claims, signature = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged["roles"] = ["admin"]
    tampered = ".".join(
        (head, base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("="), signature)
    )
    expired = dev_issuer().mint("hardware", "陈丽", ["sales"], ttl_s=-60)
    for bad in (tampered, expired):
        answer = call(http, f"{ORDERS}/ListOrders", {}, bad)
        assert (answer.status_code, answer.json()["code"]) == (401, "unauthenticated"), answer.text
    assert "expired" in call(http, f"{ORDERS}/ListOrders", {}, expired).json()["message"]


def _refresh_rotates_and_sign_out_ends(http: httpx.Client) -> None:
    first = sign_in(http, "王计划").json()["session"]
    second = post(http, f"{IDENTITY}/RefreshSession", {"refreshToken": first["refreshToken"]}, caller=None)
    assert second.status_code == 200, second.text
    renewed = second.json()["session"]
    assert renewed["refreshToken"] != first["refreshToken"]
    assert call(http, f"{ORDERS}/ListOrders", {}, renewed["accessToken"]).status_code == 200
    out = post(http, f"{IDENTITY}/SignOut", {"refreshToken": renewed["refreshToken"]}, caller=None)
    assert out.status_code == 200
    again = post(http, f"{IDENTITY}/RefreshSession", {"refreshToken": renewed["refreshToken"]}, caller=None)
    assert again.status_code == 401
    junk = post(http, f"{IDENTITY}/RefreshSession", {"refreshToken": "x\u0000y"}, caller=None)
    assert junk.status_code == 400  # the field's pattern, not a 500


def _disabled_accounts_are_out(http: httpx.Client) -> None:
    name = _new_user(http)
    session = sign_in(http, name, "钢板-2026-hinge").json()["session"]
    off = post(
        http, f"{IDENTITY}/UpdateUser", {"user": name, "roles": ["sales"], "disabled": True}, caller=ADMIN
    )
    assert off.status_code == 200 and off.json()["user"]["disabled"] is True, off.text
    assert sign_in(http, name, "钢板-2026-hinge").status_code == 401
    refreshed = post(
        http, f"{IDENTITY}/RefreshSession", {"refreshToken": session["refreshToken"]}, caller=None
    )
    assert refreshed.status_code == 401


def _cookies(answer: httpx.Response) -> dict[str, SimpleCookie]:
    jar = {}
    for line in answer.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(line)
        jar.update({name: cookie for name in cookie})
    return jar


def _web_session_cookies(http: httpx.Client) -> None:
    json_type = {"content-type": "application/json"}
    body = json.dumps({"tenantId": "hardware", "user": "陈丽", "password": DEMO_PASSWORD}).encode()
    answer = http.post("/auth/sign-in", content=body, headers=json_type)
    assert answer.status_code == 200, answer.text
    assert "accessToken" not in answer.text and "refreshToken" not in answer.text
    assert answer.json()["user"]["user"] == "陈丽"
    jar = _cookies(answer)
    access, refresh, csrf = (jar[n][n] for n in ("oms_access", "oms_refresh", "oms_csrf"))
    assert access["httponly"] and access["secure"] and access["samesite"] == "Strict"
    assert refresh["httponly"] and refresh["path"] == "/auth/"
    assert not csrf["httponly"]  # the page reads it to send it back as a header
    cookie = f"oms_access={access.value}; oms_refresh={refresh.value}; oms_csrf={csrf.value}"

    listed = f"{ORDERS}/ListOrders"
    with_csrf = http.post(
        listed, content=b"{}", headers={**json_type, "cookie": cookie, "x-csrf-token": csrf.value}
    )
    assert with_csrf.status_code == 200, with_csrf.text
    for headers in ({"cookie": cookie}, {"cookie": cookie, "x-csrf-token": "forged"}):
        refused = http.post(listed, content=b"{}", headers={**json_type, **headers})
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied"), refused.text

    # a form another site posts (not JSON) and a request naming another origin are refused
    form = http.post(
        "/auth/sign-in", content=b"user=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 415
    cross = http.post("/auth/sign-in", content=body, headers={**json_type, "origin": "https://evil.example"})
    assert cross.status_code == 403

    renewed = http.post("/auth/refresh", headers={"cookie": cookie, "x-csrf-token": csrf.value})
    assert renewed.status_code == 200, renewed.text
    new = _cookies(renewed)
    assert new["oms_access"]["oms_access"].value and new["oms_refresh"]["oms_refresh"].value != refresh.value
    cookie = "; ".join(f"{n}={new[n][n].value}" for n in ("oms_access", "oms_refresh", "oms_csrf"))
    csrf_value = new["oms_csrf"]["oms_csrf"].value
    out = http.post("/auth/sign-out", headers={"cookie": cookie, "x-csrf-token": csrf_value})
    assert out.status_code == 200
    assert all(c[n]["max-age"] == "0" for n, c in _cookies(out).items())
    gone = http.post("/auth/refresh", headers={"cookie": cookie, "x-csrf-token": csrf_value})
    assert gone.status_code == 401, gone.text
    wrong = http.post(
        "/auth/sign-in",
        content=json.dumps({"tenantId": "hardware", "user": 5, "password": []}).encode(),
        headers=json_type,
    )
    assert wrong.status_code == 400
    assert {v["field"] for v in wrong.json()["fieldViolations"]} == {"user", "password"}
