"""The simulator's HTTP side on a stdlib ThreadingHTTPServer: the three gateways at their real
paths, the admin API under /_sim/ and /healthz.

    POST /jd/routerjson        JD JOS (method, app_key, access_token, timestamp, v, 360buy_param_json, sign)
    POST /pdd/api/router       PDD (type, client_id, access_token, timestamp, data_type, sign, ...)
    POST /tmall/router/rest    Taobao TOP (system parameters in the query, business ones in the form)
    POST /_sim/shops           {"platform", "shop", "app_key", "app_secret", "access_token"}
    POST /_sim/orders          {"platform", "shop", "record": {...}} or "records": [...]
    POST /_sim/faults          {"platform", "kind", "count", "after", "method", "delay_ms"}
    GET  /_sim/state           orders per shop, waiting faults, gateway calls per platform
    POST /_sim/reset           {"keep_shops": true}: drop orders, faults and counts
    GET  /healthz

A handler never takes the server down: a bad admin request is a 400 with a message, anything
unexpected a 500 logged with its traceback.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from services.marketplace_simulator.gateways import GATEWAYS, PATHS, Answer
from services.marketplace_simulator.store import Fault, Shop, SimError, Store, platform_of

log = logging.getLogger("marketplace_simulator")
MAX_BODY = 4 << 20


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, stopping: threading.Event):
        self.store = store
        self.stopping = stopping
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "ZhongshuMarketplaceSimulator/1"
    timeout = 60
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _serve(self, method: str) -> None:
        answer = Answer(500, {"error": "internal", "message": "the simulator failed; see its log"})
        try:
            split = urlsplit(self.path)
            raw = self._read_body()
            answer = self._route(method, split.path.rstrip("/") or "/", dict(parse_qsl(split.query)), raw)
        except SimError as exc:
            answer = Answer(exc.status, {"error": "bad_request", "message": exc.message})
        except Exception:
            log.exception("marketplace simulator: %s %s failed", method, self.path)
        self._answer(answer)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise SimError("Content-Length must be a number") from None
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            raise SimError(f"the body must be at most {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def _answer(self, answer: Answer) -> None:
        if isinstance(answer.body, bytes):
            data, kind = answer.body, "text/html; charset=utf-8"
        else:
            data, kind = (
                json.dumps(answer.body, ensure_ascii=False).encode(),
                "application/json; charset=utf-8",
            )
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (its timeout): nothing to do
            self.close_connection = True

    def _params(self, query: dict[str, str], raw: bytes) -> dict[str, str]:
        params = dict(query)
        if "json" in (self.headers.get("Content-Type") or ""):
            body = self._json(raw) if raw else {}
            params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
        else:
            params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    @staticmethod
    def _json(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SimError(f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise SimError("the body must be a JSON object")
        return body

    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> Answer:
        store = self.server.store
        if path in PATHS and method in ("GET", "POST"):
            stopping = self.server.stopping
            gateway = GATEWAYS[PATHS[path]]
            return gateway.serve(self._params(query, raw), store, lambda ms: stopping.wait(ms / 1000))
        if path == "/healthz" and method == "GET":
            return Answer(200, {"status": "ok"})
        if path == "/_sim/state" and method == "GET":
            return Answer(200, store.state())
        if method != "POST":
            raise SimError(f"no such resource: {method} {path}", 404)
        body = self._json(raw)
        if path == "/_sim/shops":
            store.add_shop(shop_of(body))
            return Answer(200, {"status": "ok"})
        if path == "/_sim/orders":
            platform, shop = platform_of(body.get("platform")), str(body.get("shop", ""))
            batch = body["records"] if isinstance(body.get("records"), list) else [body.get("record")]
            outcomes = []
            for record in batch:
                if not isinstance(record, dict):
                    raise SimError("record must be a JSON object in the platform's own shape")
                outcomes.append(store.put_order(platform, shop, record))
            return Answer(200, {"outcomes": outcomes})
        if path == "/_sim/faults":
            store.add_fault(platform_of(body.get("platform")), fault_of(body))
            return Answer(200, store.state())
        if path == "/_sim/reset":
            store.reset(keep_shops=body.get("keep_shops", True) is not False)
            return Answer(200, {"status": "ok"})
        raise SimError(f"no such resource: {method} {path}", 404)


def shop_of(body: dict[str, Any]) -> Shop:
    fields = ("shop", "app_key", "app_secret", "access_token")
    if not all(isinstance(body.get(k), str) and body[k] for k in fields):
        raise SimError(f"a shop needs platform and non-empty {', '.join(fields)}")
    return Shop(platform_of(body.get("platform")), *(body[k] for k in fields))


def fault_of(body: dict[str, Any]) -> Fault:
    try:
        return Fault(
            kind=str(body.get("kind", "")),
            count=int(body.get("count", 1)),
            after=int(body.get("after", 0)),
            method=str(body.get("method", "")),
            delay_ms=float(body.get("delay_ms", 0)),
        )
    except (TypeError, ValueError):
        raise SimError("count and after must be whole numbers, delay_ms a number") from None


class SimulatorHandle:
    """A simulator serving in a background thread (tests, the embedded stack, the make targets)."""

    def __init__(self, store: Store, host: str, port: int):
        self.store = store
        self.host = host
        self.stopping = threading.Event()
        self._server = SimulatorServer((host, port), store, self.stopping)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.1,),
            name=f"marketplace-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def endpoint(self, platform: str) -> str:
        """The gateway URL an adapter's ShopAccess.endpoint points at for this platform."""
        path = {v: k for k, v in PATHS.items()}[platform_of(platform)]
        return self.url + path

    def add_shop(self, shop: Shop) -> None:
        self.store.add_shop(shop)

    def put_order(self, platform: str, shop: str, record: dict[str, Any]) -> str:
        return self.store.put_order(platform, shop, record)

    def add_fault(self, platform: str, kind: str, **options: Any) -> None:
        self.store.add_fault(platform, Fault(kind=kind, **options))

    def stop(self) -> None:
        self.stopping.set()  # wake what waits out a "slow" fault
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(port: int = 0, *, host: str = "127.0.0.1", shops: Iterable[Shop] = ()) -> SimulatorHandle:
    """A simulator on host:port (0: a free port; the handle's `url` says which) knowing `shops`."""
    store = Store()
    for shop in shops:
        store.add_shop(shop)
    return SimulatorHandle(store, host, port)
