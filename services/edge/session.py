"""Web sessions for the edge's pages: sign-in, refresh and sign-out as HTTP routes whose tokens
live in cookies a page's JavaScript cannot read, and the check that lets a page's API calls
carry them.

- `POST /auth/sign-in` `{"tenantId", "user", "password"}` → 200 `{"user", "accessExpiresAt",
  "sessionExpiresAt"}` and three cookies: `oms_access` (the access token; HttpOnly, every path),
  `oms_refresh` (the refresh token; HttpOnly, only /auth/), `oms_csrf` (a random value the page
  reads and sends back as the `X-CSRF-Token` header). The tokens are never in a body or a URL.
- `POST /auth/refresh`, `POST /auth/sign-out`: with the refresh cookie and the CSRF header.
- An API call (`POST /<Service>/<Method>`) without an Authorization header but with the access
  cookie is let through as `Authorization: Bearer <cookie>` only if its `X-CSRF-Token` header
  equals the `oms_csrf` cookie: another site can make a browser send the cookies (not with
  SameSite=Strict, but older browsers), never read them to set the header (double-submit).

Cookies are `Secure` (browsers keep them over HTTPS, and over plain HTTP on localhost only) and
`SameSite=Strict`; OMS_COOKIE_SECURE=0 drops `Secure` for a trial on a plain-HTTP LAN address.
A bearer-token client (an integration, omsctl over HTTP) is unaffected by any of this.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

from oms.identity.v1 import identity_pb2, identity_pb2_grpc

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ACCESS, REFRESH, CSRF = "oms_access", "oms_refresh", "oms_csrf"
CSRF_HEADER = b"x-csrf-token"
ROUTES = ("/auth/sign-in", "/auth/refresh", "/auth/sign-out")
BODY_MAX_BYTES = 16 * 1024
CALL_TIMEOUT_S = 15.0
STATUS_DETAILS = "grpc-status-details-bin"
# The HTTP status of a failed call, as Connect maps gRPC codes (openapi.py lists them).
HTTP_OF = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict | None = None, headers=()):
        super().__init__(message)
        self.status, self.code, self.extra, self.headers = status, code, extra or {}, list(headers)

    def body(self) -> dict:
        return {"code": self.code, "message": str(self), **self.extra}


def cookies_of(scope: Scope) -> dict[str, str]:
    jar: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        if key.lower() == b"cookie":
            parsed = SimpleCookie()
            try:
                parsed.load(value.decode("latin-1"))
            except CookieError:
                continue
            jar.update({name: morsel.value for name, morsel in parsed.items()})
    return jar


def header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return b""


def csrf_ok(scope: Scope, jar: dict[str, str]) -> bool:
    expected = jar.get(CSRF, "")
    sent = header(scope, CSRF_HEADER).decode("latin-1")
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())


def with_cookie_token(scope: Scope) -> tuple[Scope, Refused | None]:
    """An API call from a page: its access cookie as the bearer token, if the CSRF header matches.
    A call with its own Authorization header is left as it is."""
    if header(scope, b"authorization"):
        return scope, None
    jar = cookies_of(scope)
    token = jar.get(ACCESS, "")
    if not token:
        return scope, None
    if not csrf_ok(scope, jar):
        return scope, Refused(
            403,
            "permission_denied",
            "a call with the session cookie needs the X-CSRF-Token header (oms_csrf)",
        )
    if not all(0x21 <= ord(ch) < 0x7F for ch in token):
        return scope, Refused(401, "unauthenticated", "the session cookie does not hold a token")
    headers = [*scope.get("headers", ()), (b"authorization", f"Bearer {token}".encode())]
    return {**scope, "headers": headers}, None


class WebSessions:
    def __init__(self, secure: bool = True):
        self._secure = secure
        self._stub: identity_pb2_grpc.IdentityServiceStub | None = None

    def bind(self, channel: grpc.aio.Channel) -> None:
        self._stub = identity_pb2_grpc.IdentityServiceStub(channel)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        try:
            if scope["method"] != "POST":
                raise Refused(405, "unimplemented", f"{path} takes POST", headers=[(b"allow", b"POST")])
            if path == "/auth/sign-in":
                status, body, cookies = await self._sign_in(scope, receive)
            elif path == "/auth/refresh":
                status, body, cookies = await self._refresh(scope)
            else:
                status, body, cookies = await self._sign_out(scope)
            await _answer(send, status, body, [(b"set-cookie", c.encode()) for c in cookies])
        except Refused as refused:
            cleared = [(b"set-cookie", c.encode()) for c in self._cleared()] if refused.status == 401 else []
            await _answer(send, refused.status, refused.body(), [*refused.headers, *cleared])

    async def _sign_in(self, scope: Scope, receive: Receive) -> tuple[int, dict, list[str]]:
        _same_origin(scope)
        if not header(scope, b"content-type").lower().startswith(b"application/json"):
            # a cross-site form can post urlencoded text without asking; JSON it cannot
            raise Refused(415, "invalid_argument", "sign-in takes application/json")
        fields = _fields(await _read(receive), ("tenantId", "user", "password"))
        request = identity_pb2.SignInRequest(
            tenant_id=fields["tenantId"],
            user=fields["user"],
            password=fields["password"],
            client=header(scope, b"user-agent").decode("latin-1")[:200],
        )
        reply = await self._call("SignIn", request)
        return 200, self._public(reply.session), self._set(reply.session)

    async def _refresh(self, scope: Scope) -> tuple[int, dict, list[str]]:
        jar = self._checked(scope)
        token = jar.get(REFRESH, "")
        if not token:
            raise Refused(401, "unauthenticated", "no session: sign in")
        reply = await self._call("RefreshSession", identity_pb2.RefreshSessionRequest(refresh_token=token))
        return 200, self._public(reply.session), self._set(reply.session)

    async def _sign_out(self, scope: Scope) -> tuple[int, dict, list[str]]:
        jar = self._checked(scope)
        token = jar.get(REFRESH, "")
        if token:
            try:
                await self._call("SignOut", identity_pb2.SignOutRequest(refresh_token=token))
            except Refused as refused:
                if refused.status >= 500:
                    raise
        return 200, {}, self._cleared()

    def _checked(self, scope: Scope) -> dict[str, str]:
        _same_origin(scope)
        jar = cookies_of(scope)
        if not csrf_ok(scope, jar):
            raise Refused(
                403, "permission_denied", "needs the X-CSRF-Token header (the oms_csrf cookie's value)"
            )
        return jar

    async def _call(self, method: str, request):
        if self._stub is None:
            raise Refused(503, "unavailable", "the edge is starting")
        try:
            return await getattr(self._stub, method)(request, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            raise _refused(exc) from None

    @staticmethod
    def _public(session: identity_pb2.Session) -> dict:
        """What the page may see: who signed in and until when, never a token."""
        return {
            "user": json_format.MessageToDict(session.user),
            "accessExpiresAt": json_format.MessageToDict(session.access_expires_at),
            "sessionExpiresAt": json_format.MessageToDict(session.session_expires_at),
        }

    def _cookie(self, name: str, value: str, max_age: int, path: str = "/", http_only: bool = True) -> str:
        parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max(0, max_age)}", "SameSite=Strict"]
        if http_only:
            parts.append("HttpOnly")
        if self._secure:
            parts.append("Secure")
        return "; ".join(parts)

    def _set(self, session: identity_pb2.Session) -> list[str]:
        now = _now_s()
        access_s = session.access_expires_at.seconds - now
        session_s = session.session_expires_at.seconds - now
        cookies = [self._cookie(ACCESS, session.access_token, access_s)]
        if session.refresh_token:  # empty: a second tab's refresh; the jar holds the new one
            cookies.append(self._cookie(REFRESH, session.refresh_token, session_s, path="/auth/"))
            cookies.append(self._cookie(CSRF, secrets.token_urlsafe(24), session_s, http_only=False))
        return cookies

    def _cleared(self) -> list[str]:
        return [
            self._cookie(ACCESS, "", 0),
            self._cookie(REFRESH, "", 0, path="/auth/"),
            self._cookie(CSRF, "", 0, http_only=False),
        ]


def _now_s() -> int:
    return int(time.time())


def _same_origin(scope: Scope) -> None:
    """A browser names the page a request comes from (Origin); another site's is refused."""
    origin = header(scope, b"origin").decode("latin-1")
    host = header(scope, b"host").decode("latin-1")
    if origin and origin != "null" and origin.split("://", 1)[-1] != host:
        raise Refused(403, "permission_denied", "a request from another site")


async def _read(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "invalid_argument", "the request ended early")
        body += message.get("body", b"")
        if len(body) > BODY_MAX_BYTES:
            raise Refused(413, "resource_exhausted", f"the body is over {BODY_MAX_BYTES} bytes")
        if not message.get("more_body"):
            return body


def _fields(body: bytes, names: tuple[str, ...]) -> dict[str, str]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "invalid_argument", "the body is not JSON") from None
    if not isinstance(document, dict):
        raise Refused(400, "invalid_argument", "the body is not a JSON object")
    violations = [
        {"field": name, "description": "must be a string"}
        for name in names
        if not isinstance(document.get(name, ""), str)
    ]
    if violations:
        raise Refused(400, "invalid_argument", "request has invalid fields", {"fieldViolations": violations})
    return {name: document.get(name, "") for name in names}


def _refused(exc: grpc.aio.AioRpcError) -> Refused:
    code = exc.code()
    extra: dict = {}
    headers = []
    for key, value in exc.trailing_metadata() or ():
        if key != STATUS_DETAILS or not isinstance(value, bytes):
            continue
        for detail in status_pb2.Status.FromString(value).details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                extra["fieldViolations"] = [
                    {"field": v.field, "description": v.description} for v in bad.field_violations
                ]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                extra["retryAfterSeconds"] = info.retry_delay.seconds
                headers.append((b"retry-after", str(info.retry_delay.seconds).encode()))
    status = HTTP_OF.get(code, 502)
    message = (
        (exc.details() or code.name.lower()) if status != 502 else "the sign-in service failed; try again"
    )
    return Refused(status, code.name.lower(), message, extra, headers)


async def _answer(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
