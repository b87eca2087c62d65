"""The simulator's HTTP side: the contract of docs/wms-adapter.md on a stdlib ThreadingHTTPServer,
with the faults of faults.py, and, from the process that started it, connections refused
(`SimulatorHandle.offline()`).

A handler never takes the server down: a bad request is a 400 with a message, and an unexpected
error is a 500 logged with its traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from services.wms_simulator.checks import (
    number,
    object_of,
    parse_lines,
    reservation_id_of,
    text,
    warehouse_of,
)
from services.wms_simulator.faults import Faults, FaultSwitch
from services.wms_simulator.store import SimError, Store

log = logging.getLogger("wms_simulator")

MAX_BODY = 1 << 20


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, faults: FaultSwitch):
        self.store = store
        self.faults = faults
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut every open (kept-alive) connection: a stopped WMS must not go on answering on them."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    server_version = "ZhongshuWmsSimulator/1"
    timeout = 60  # an idle kept-alive connection is closed after a minute
    # headers and body go out in two writes: without TCP_NODELAY the body waits for the client's
    # delayed ACK (~40 ms a call on Linux)
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _serve(self, method: str) -> None:
        status, body = 500, {"error": "internal", "message": "the WMS simulator failed; see its log"}
        try:
            raw = self._read_body()
            split = urlsplit(self.path)
            # split the raw path first, then decode each part: a material name may hold "/"
            parts = [unquote(p) for p in split.path.strip("/").split("/")]
            query = parse_qs(split.query, keep_blank_values=True)
            status, body = self._route(method, parts, query, raw)
        except SimError as exc:
            status, body = exc.status, exc.body()
        except Exception:
            log.exception("WMS simulator: %s %s failed", method, self.path)
        self._answer(status, body)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise SimError(400, "bad_request", "Content-Length must be a number") from None
        if length > MAX_BODY or length < 0:
            self.close_connection = True
            # Read (and drop) a moderately oversized body first: answering while the client is
            # still sending makes its socket reset before it reads the 413.
            if 0 < length <= 4 * MAX_BODY:
                self.rfile.read(length)
            raise SimError(413, "too_large", f"the body must be at most {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if status == 503:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (a timeout) or the connection was cut: nothing to do
            self.close_connection = True

    @staticmethod
    def _json(raw: bytes) -> dict[str, Any]:
        if not raw:
            raise SimError(400, "bad_request", "a JSON body is required")
        try:
            return object_of(json.loads(raw))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SimError(400, "bad_request", f"the body is not valid JSON: {exc}") from None

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]], raw: bytes
    ) -> tuple[int, Any]:
        faults = self.server.faults
        store = self.server.store
        if parts == ["healthz"] and method == "GET":
            if faults.now.down:
                raise SimError(503, "unavailable", "the WMS is down (simulated)")
            return 200, {"status": "ok"}
        if parts[:2] == ["_sim", "faults"] and len(parts) == 2:
            if method == "POST":
                return 200, asdict(faults.set(**self._json(raw)))
            if method == "GET":
                return 200, asdict(faults.now)
            raise SimError(405, "method_not_allowed", f"{method} is not allowed here")
        if len(parts) < 4 or parts[0] != "v1" or parts[1] != "warehouses":
            raise SimError(404, "not_found", f"no such resource: {self.path}")
        warehouse = warehouse_of(parts[2])
        rest = parts[3:]
        faults.suffer()
        if rest == ["stock"] and method == "GET":
            materials = [text(m, "material", 200) for m in query.get("material", [])]
            return 200, {"items": store.stock(warehouse, materials)}
        if len(rest) == 2 and rest[0] == "stock" and method == "PUT":
            material = text(rest[1], "material", 200)
            body = self._json(raw)
            item = store.put_stock(
                warehouse,
                material,
                text(body.get("unit"), "unit", 16),
                number(body.get("on_hand"), "on_hand", positive=False),
                text(body.get("location", ""), "location", 32, required=False),
            )
            return 200, item
        if rest == ["reservations"] and method == "GET":
            state = query.get("state", [""])[0]
            if state not in ("", "open", "released", "issued"):
                raise SimError(400, "bad_request", "state must be open, released or issued")
            return 200, {"items": store.reservations(warehouse, state)}
        if len(rest) >= 2 and rest[0] == "reservations":
            reservation_id = reservation_id_of(rest[1])
            if len(rest) == 3 and rest[2] == "issue" and method == "POST":
                reservation, changed = store.issue(warehouse, reservation_id)
                return 200, {**reservation, "changed": changed}
            if len(rest) == 2:
                if method == "GET":
                    found = store.reservation(warehouse, reservation_id)
                    if found is None:
                        raise SimError(
                            404, "not_found", f"no reservation {reservation_id} in warehouse {warehouse}"
                        )
                    return 200, found
                if method == "PUT":
                    body = self._json(raw)
                    hard_lock = body.get("hard_lock", False)
                    if not isinstance(hard_lock, bool):
                        raise SimError(400, "bad_request", "hard_lock must be true or false")
                    reservation, changed = store.put_reservation(
                        warehouse,
                        reservation_id,
                        text(body.get("order_no"), "order_no", 64),
                        hard_lock,
                        parse_lines(body.get("lines")),
                    )
                    return 200, {**reservation, "changed": changed}
                if method == "DELETE":
                    reservation, changed = store.release(warehouse, reservation_id)
                    return 200, {**reservation, "changed": changed}
        raise SimError(404, "not_found", f"no such resource: {method} {self.path}")


class SimulatorHandle:
    """A simulator serving in a background thread (tests, the embedded stack)."""

    def __init__(self, store: Store, faults: FaultSwitch, host: str, port: int):
        self.store = store
        self.faults = faults
        self.host = host
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self._listen()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _listen(self) -> None:
        server = SimulatorServer((self.host, self.port), self.store, self.faults)
        self.port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever, args=(0.1,), name=f"wms-simulator-{self.port}", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread

    def _close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        assert self._thread is not None
        self._thread.join(5)
        self._server = self._thread = None

    def set_faults(self, **changes: Any) -> Faults:
        """latency_ms, error_rate (0..1), down (503 everywhere), hang (hold requests)."""
        return self.faults.set(**changes)

    def clear_faults(self) -> Faults:
        return self.faults.set(**asdict(Faults()))

    def offline(self) -> None:
        """Stop listening and cut open connections: calls are refused (the WMS host is down)."""
        self._close()

    def online(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self._listen()

    def stop(self) -> None:
        self.faults.stopping.set()
        self.faults.set()  # wake what waits out a latency or a hang
        self._close()
        self.store.close()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    port: int = 0,
    db_path: str = ":memory:",
    *,
    host: str = "127.0.0.1",
    latency_ms: float = 0.0,
    error_rate: float = 0.0,
    down: bool = False,
    hang: bool = False,
) -> SimulatorHandle:
    """A simulator on host:port (0: a free port; the handle's `url` says which), its stock in
    `db_path` (":memory:" for a throwaway one)."""
    try:
        faults = FaultSwitch(Faults(latency_ms=latency_ms, error_rate=error_rate, down=down, hang=hang))
    except SimError as exc:
        raise ValueError(exc.message) from None
    return SimulatorHandle(Store(db_path), faults, host, port)
