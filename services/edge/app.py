"""The edge as one ASGI application:

- `POST /<package.Service>/<Method>`: every public RPC as Connect (JSON or binary protobuf; also
  gRPC-Web), served by the code generated from the protos and forwarded to its service over gRPC
  (forward.py). A Connect client works as is; plain HTTP is one JSON POST (README "HTTP API").
- `GET /openapi.json`: the OpenAPI 3.1 document of the same (openapi.py).
- `POST /auth/sign-in`, `/auth/refresh`, `/auth/sign-out`: web sessions in cookies (session.py).
- `GET /`, `/portal`, `/board`, `/static/…`: the web pages (web/).
- `GET /healthz`: liveness.
Everything else is a 404 in the same JSON error shape.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from services.edge.catalog import PublicService, public_services
from services.edge.codec import codecs, readable_error
from services.edge.forward import Forwarder
from services.edge.openapi import is_open, openapi_document
from services.edge.session import ROUTES as SESSION_ROUTES
from services.edge.session import WebSessions, with_cookie_token
from services.edge.web import Pages

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUESTS = Counter(
    "oms_edge_requests_total", "HTTP requests by route (service/method) and HTTP status", ["route", "status"]
)
SECONDS = Histogram(
    "oms_edge_request_seconds",
    "HTTP request time at the edge, backend call included",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# Largest request body the API reads: the agents' sheets travel as bytes in ingest's
# UploadAgentSheet; every other request is far smaller (a 200-line order is some 100 KB of JSON).
READ_MAX_BYTES = 12 * 1024 * 1024
READ_MAX_BYTES_BY_BACKEND = {"ingest": READ_MAX_BYTES}
DEFAULT_READ_MAX_BYTES = 2 * 1024 * 1024
# Largest response metadata (trailers) the edge reads from a backend: every field violation of
# the largest request (see _start).
TRAILERS_MAX_BYTES = 4 * 1024 * 1024


class Edge:
    """`peers` maps a backend ("order") to its gRPC address ("127.0.0.1:50052")."""

    def __init__(
        self,
        peers: dict[str, str],
        *,
        secure_cookies: bool = True,
        tenants: list[dict[str, str]] | None = None,
    ):
        self.peers = peers
        self.sessions = WebSessions(secure_cookies)
        self.pages = Pages(tenants or [])
        self.services = public_services()
        self.document = json.dumps(openapi_document(self.services), ensure_ascii=False).encode()
        self._apps: dict[str, ASGIApp] = {}
        self._methods = {s.full_name: {m.name for m in s.methods} for s in self.services}
        self._channels: list[grpc.aio.Channel] = []

    def _start(self) -> None:
        """In the server's event loop (grpc.aio channels belong to the loop they are made in)."""
        options = [
            ("grpc.max_send_message_length", READ_MAX_BYTES),
            ("grpc.max_receive_message_length", -1),
            # A backend's error travels in its trailers (grpc-status-details-bin): a request with
            # many bad fields (200 lines of an order) makes a BadRequest of tens of KB. Past
            # gRPC's default metadata limits (8 KB soft, 16 KB hard) the channel drops it and the
            # caller got RESOURCE_EXHAUSTED "Stream removed" (HTTP 429, "retry later") instead of
            # the 400 naming its fields.
            ("grpc.max_metadata_size", TRAILERS_MAX_BYTES),
            ("grpc.absolute_max_metadata_size", TRAILERS_MAX_BYTES),
        ]
        channels = {
            name: grpc.aio.insecure_channel(addr, options=options) for name, addr in self.peers.items()
        }
        self._channels = list(channels.values())
        for service in self.services:
            self._apps[service.full_name] = _connect_app(service, channels[service.backend])
        self.sessions.bind(channels["identity"])

    async def _stop(self) -> None:
        for channel in self._channels:
            await channel.close(grace=5)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        started = time.perf_counter()
        status = {"code": 500}

        # A unary answer is sent whole, with its length (Connect's application streams it,
        # chunked): one write, and an error's body can be made readable (codec.py).
        held: list[MutableMapping[str, Any]] = []
        chunks: list[bytes] = []

        async def counting(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                held.append(message)
                return
            if held and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                start, body = held.pop(), b"".join(chunks)
                if _is_json_error(start):
                    body = readable_error(body)
                headers = [
                    (k, v)
                    for k, v in start["headers"]
                    if k.lower() not in (b"content-length", b"transfer-encoding")
                ]
                await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        service_name, _, method = path.lstrip("/").partition("/")
        app = self._apps.get(service_name)
        if app is not None and method:
            # Only routes that exist become metric labels (a caller's invented names would each
            # add a series).
            known = method in self._methods[service_name]
            route = f"{service_name.rsplit('.', 1)[-1]}/{method}" if known else "other"
            refusal = None
            if known:
                scope, from_cookie = with_cookie_token(scope)
                refusal = (
                    (from_cookie.status, from_cookie.body())
                    if from_cookie
                    else _refusal(scope, token_needed=not is_open(path))
                )
            if refusal is not None:
                await _json(counting, *refusal)
            else:
                await app(scope, receive, counting)
        elif path in SESSION_ROUTES:
            route = path
            await self.sessions.handle(scope, receive, counting)
        else:
            route = path if path in ("/openapi.json", "/healthz") or self.pages.serves(path) else "other"
            await self._plain(scope, path, counting)
        REQUESTS.labels(route, str(status["code"])).inc()
        SECONDS.labels(route).observe(time.perf_counter() - started)

    async def _plain(self, scope: Scope, path: str, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _json(send, 404 if path not in ("/openapi.json", "/healthz") else 405, _error(path))
        elif path == "/openapi.json":
            await _respond(send, 200, self.document, b"application/json")
        elif self.pages.serves(path):
            await self.pages.send(path, scope["method"] == "HEAD", send)
        elif path == "/healthz":
            await _json(send, 200, {"status": "SERVING"})
        else:
            await _json(send, 404, _error(path))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self._start()
                except Exception as exc:  # a broken start must say why, not hang the server
                    log.exception("edge: start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _connect_app(service: PublicService, channel: grpc.aio.Channel) -> ASGIApp:
    short = service.descriptor.name
    application = getattr(service.connect, f"{short}ASGIApplication")
    limit = READ_MAX_BYTES_BY_BACKEND.get(service.backend, DEFAULT_READ_MAX_BYTES)
    return application(Forwarder(service, channel), read_max_bytes=limit, codecs=codecs())


def _refusal(scope: Scope, *, token_needed: bool) -> tuple[int, dict[str, str]] | None:
    """What the edge refuses before reading a body or calling a service (headers are untrusted):
    gRPC over HTTP/1.1 (it needs trailers: use a gRPC port, or Connect / gRPC-Web here); headers
    that are not UTF-8, or a token or trace context that is not printable ASCII; no token at all
    (every RPC but sign-in needs one: nothing is read for a caller who cannot be served)."""
    headers: dict[bytes, bytes] = {}
    for key, value in scope.get("headers", ()):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return 400, {"code": "invalid_argument", "message": f"header {key[:40]!r} is not UTF-8"}
        headers[key.lower()] = value
    if headers.get(b"content-type", b"").lower().startswith(b"application/grpc") and not headers[
        b"content-type"
    ].lower().startswith(b"application/grpc-web"):
        return 415, {"code": "unimplemented", "message": "gRPC needs HTTP/2 trailers: use the gRPC port"}
    for name in (b"authorization", b"traceparent", b"tracestate"):
        value = headers.get(name)
        if value is not None and not all(0x20 <= b < 0x7F for b in value):
            if name == b"authorization":
                return 401, {"code": "unauthenticated", "message": "the bearer token is not printable ASCII"}
            return 400, {
                "code": "invalid_argument",
                "message": f"header {name.decode()} is not printable ASCII",
            }
    if token_needed and not headers.get(b"authorization"):
        return 401, {"code": "unauthenticated", "message": "missing bearer token (Authorization header)"}
    return None


def _is_json_error(start: MutableMapping[str, Any]) -> bool:
    if start["status"] < 400:
        return False
    return any(
        k.lower() == b"content-type" and v.startswith(b"application/json") for k, v in start["headers"]
    )


def _error(path: str) -> dict[str, str]:
    return {"code": "not_found", "message": f"no such route: {path[:200]}"}


async def _json(send: Send, status: int, body: dict) -> None:
    await _respond(send, status, json.dumps(body, ensure_ascii=False).encode(), b"application/json")


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
