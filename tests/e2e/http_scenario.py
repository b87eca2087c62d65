"""The HTTP/JSON API through the edge, in both run modes: every public RPC is a JSON POST with
the same tokens; a bad request is 400 with each field violation readable as JSON; a missing,
tampered or other key's token is 401; an unknown field is named; request_id idempotency and
version preconditions carry over; a tenant sees only its own data, a portal account only its own
customer and no prices; the OpenAPI document lists every RPC and describes what the API answers."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.edge.catalog import public_services
from tests.e2e.scenario import Caller

SALES = Caller("hardware", "陈丽", ("sales", "approver"))
CUSTOMERS = "/oms.customer.v1.CustomerService"
ORDERS = "/oms.order.v1.OrderService"


def post(
    http: httpx.Client, path: str, body: dict, caller: Caller | None = SALES, **headers: str
) -> httpx.Response:
    sent = {"content-type": "application/json", **headers}
    if caller is not None:
        sent["authorization"] = dict(caller.metadata())["authorization"]
    return http.post(path, content=json.dumps(body, ensure_ascii=False).encode(), headers=sent)


def violations(answer: httpx.Response) -> dict[str, str]:
    error = answer.json()
    found = {}
    for detail in error.get("details", []):
        if detail["type"] == "google.rpc.BadRequest":
            for v in detail["debug"]["fieldViolations"]:
                found[v["field"]] = v["description"]
    return found


def check_the_http_api(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=20) as http:
        _customers_and_errors(http)
        _orders_idempotency_and_preconditions(http)
        _tokens(http)
        _refused_before_any_work(http)
        _isolation(http)
        _openapi(http)


def _customers_and_errors(http: httpx.Client) -> None:
    code = f"HT-{uuid.uuid4().hex[:6].upper()}"
    made = post(
        http,
        f"{CUSTOMERS}/CreateCustomer",
        {"code": code, "name": "格力电器珠海 Gree Zhuhai", "salesOwner": "陈丽"},
    )
    assert made.status_code == 200, made.text
    customer = made.json()["customer"]
    assert (customer["code"], customer["name"], customer["tier"]) == (
        code,
        "格力电器珠海 Gree Zhuhai",
        "TIER_C",
    )
    assert made.headers["content-type"].startswith("application/json")
    assert "格力" in made.text  # UTF-8 as itself, not \\u escapes

    got = post(http, f"{CUSTOMERS}/GetCustomer", {"customerId": customer["customerId"]})
    assert got.json()["customer"]["customerId"] == customer["customerId"]

    bad = post(http, f"{CUSTOMERS}/CreateCustomer", {"code": "x", "name": "", "yearsOfCooperation": 200})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_argument", bad.text
    assert set(violations(bad)) == {"code", "name", "years_of_cooperation"}

    unknown = post(http, f"{CUSTOMERS}/ListCustomers", {"pagesize": 1})
    assert unknown.status_code == 400 and "pagesize" in unknown.json()["message"], unknown.text
    token = dict(SALES.metadata())["authorization"]
    broken = http.post(
        f"{CUSTOMERS}/ListCustomers",
        content=b"{not json",
        headers={"content-type": "application/json", "authorization": token},
    )
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_argument"

    missing = post(http, f"{CUSTOMERS}/GetCustomer", {"customerId": str(uuid.uuid4())})
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert http.get("/nowhere").status_code == 404
    assert post(http, "/oms.customer.v1.CustomerService/NoSuchMethod", {}).status_code == 404

    first = post(http, f"{CUSTOMERS}/ListCustomers", {"pageSize": 1})
    token = first.json()["nextPageToken"]
    second = post(http, f"{CUSTOMERS}/ListCustomers", {"pageSize": 1, "pageToken": token}).json()
    assert second["customers"][0]["customerId"] != first.json()["customers"][0]["customerId"]


def _orders_idempotency_and_preconditions(http: httpx.Client) -> None:
    customer = post(
        http,
        f"{CUSTOMERS}/CreateCustomer",
        {"code": f"HO-{uuid.uuid4().hex[:6].upper()}", "name": "美的厨电 Midea Kitchen"},
    ).json()["customer"]
    request_id = str(uuid.uuid4())
    order = {
        "customerId": customer["customerId"],
        "channel": "CHANNEL_DIRECT",
        "dueDate": {"year": 2027, "month": 3, "day": 15},
        "requestId": request_id,
        "lines": [
            {
                "productModel": "SP-08 弹片 spring clip",
                "quantity": 400,
                "workshop": "stamping-1",
            }
        ],
    }
    first = post(http, f"{ORDERS}/CreateOrder", order)
    assert first.status_code == 200, first.text
    again = post(http, f"{ORDERS}/CreateOrder", order)  # a retry after a lost answer: the same order
    assert again.json()["order"]["orderId"] == first.json()["order"]["orderId"]
    made = first.json()["order"]
    stale = post(
        http,
        f"{ORDERS}/ApproveOrder",
        {"orderId": made["orderId"], "expectedVersion": made["version"] + 5},
    )
    assert stale.status_code in (400, 409) and stale.json()["code"] in ("aborted", "failed_precondition"), (
        stale.text
    )


def _tokens(http: httpx.Client) -> None:
    no_token = post(http, f"{CUSTOMERS}/ListCustomers", {}, caller=None)
    assert (no_token.status_code, no_token.json()["code"]) == (401, "unauthenticated")
    good = dict(SALES.metadata())["authorization"].removeprefix("Bearer ")
    head, claims, signature = good.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged_claims["roles"] = ["admin"]
    tampered = ".".join(
        (head, base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode().rstrip("="), signature)
    )
    other_key = jwt.encode(
        {**forged_claims, "roles": ["sales"]},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": "not-ours"},
    )
    for token in (tampered, other_key, "not-a-jwt"):
        answer = http.post(
            f"{CUSTOMERS}/ListCustomers",
            content=b"{}",
            headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
        )
        assert (answer.status_code, answer.json()["code"]) == (401, "unauthenticated"), answer.text
        assert token not in answer.text


def _refused_before_any_work(http: httpx.Client) -> None:
    """Headers are untrusted: each of these is a clear 4xx, never a 500."""
    token = dict(SALES.metadata())["authorization"]
    path = f"{CUSTOMERS}/ListCustomers"
    json_type = {"content-type": "application/json"}
    cases = [
        ({**json_type, "authorization": token, "x-odd": b"\xff\xfe"}, 400, "invalid_argument"),
        ({**json_type, "authorization": "Bearer é".encode()}, 401, "unauthenticated"),
        ({**json_type, "authorization": token, "traceparent": b"00-\x01"}, 400, "invalid_argument"),
        ({"content-type": "application/grpc", "authorization": token}, 415, "unimplemented"),
    ]
    for headers, status, code in cases:
        answer = http.post(path, content=b"{}", headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (headers, answer.text)
    huge = http.post(
        path,
        content=b'{"query": "' + b"x" * (3 * 1024 * 1024) + b'"}',
        headers={**json_type, "authorization": token},
    )
    assert 400 <= huge.status_code < 500, huge.status_code
    invented = http.post(
        f"{CUSTOMERS}/{uuid.uuid4().hex}", content=b"{}", headers={**json_type, "authorization": token}
    )
    assert invented.status_code == 404


def _isolation(http: httpx.Client) -> None:
    mine = post(
        http,
        f"{CUSTOMERS}/CreateCustomer",
        {"code": f"HI-{uuid.uuid4().hex[:6].upper()}", "name": "海尔 Haier"},
    ).json()["customer"]
    other_line = Caller("autoparts", "陈丽", ("sales",))
    hidden = post(http, f"{CUSTOMERS}/GetCustomer", {"customerId": mine["customerId"]}, caller=other_line)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    theirs = post(http, f"{CUSTOMERS}/ListCustomers", {"pageSize": 500}, caller=other_line).json()
    assert mine["customerId"] not in {c["customerId"] for c in theirs.get("customers", [])}

    other = post(
        http,
        f"{CUSTOMERS}/CreateCustomer",
        {"code": f"HJ-{uuid.uuid4().hex[:6].upper()}", "name": "苏泊尔 Supor"},
    ).json()["customer"]
    portal = Caller("hardware", "门户 portal", ("customer",), customer_id=mine["customerId"])
    own = post(http, f"{CUSTOMERS}/GetCustomer", {"customerId": mine["customerId"]}, caller=portal)
    assert own.status_code == 200 and own.json()["customer"]["customerId"] == mine["customerId"]
    refused = post(http, f"{CUSTOMERS}/GetCustomer", {"customerId": other["customerId"]}, caller=portal)
    assert refused.status_code in (403, 404), refused.text
    orders = post(http, f"{ORDERS}/ListOrders", {"pageSize": 500}, caller=portal)
    assert orders.status_code == 200, orders.text
    assert {o["customerId"] for o in orders.json().get("orders", [])} <= {mine["customerId"]}


def _openapi(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    expected = {f"/{s.full_name}/{m.name}" for s in public_services() for m in s.methods}
    assert set(document["paths"]) == expected
    schemas = document["components"]["schemas"]
    create = schemas["oms.customer.v1.CreateCustomerRequest"]["properties"]
    assert create["code"] == {
        "type": "string",
        "minLength": 2,
        "maxLength": 32,
        "pattern": "^[A-Z0-9][A-Z0-9_-]*$",
    }
    assert create["yearsOfCooperation"]["maximum"] == 100
    # what the API answers has only the fields its schema names
    answer = post(http, f"{CUSTOMERS}/ListCustomers", {"pageSize": 3}).json()
    customer_schema = schemas["oms.customer.v1.Customer"]["properties"]
    for customer in answer["customers"]:
        assert set(customer) <= set(customer_schema), set(customer) - set(customer_schema)
