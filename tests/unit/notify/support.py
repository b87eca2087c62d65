"""Test support for the notify channels: a local HTTP receiver standing in for a robot's or a
plant system's webhook, and sample messages.

The receiver records every request as it arrived (raw path with query, headers, raw body) and
answers from a script: queued replies first, then the default one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from services.notify.channels import Message, Recipient


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})  # dict = JSON, str = text
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer late (after the client's timeout)


@dataclass(frozen=True)
class Received:
    path: str  # path and query, exactly as sent
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query))

    @property
    def raw_query(self) -> str:
        return urlsplit(self.path).query


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answered: list[int] = []  # the status each request was answered with, in order
        self.replies: deque[Reply] = deque()
        self.default = Reply()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def take(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
            reply = self.replies.popleft() if self.replies else self.default
            self.answered.append(reply.status)
            return reply

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out has gone: its late answer has nowhere to go


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply = receiver.take(Received(self.path, dict(self.headers.items()), body))
            if reply.delay_s:
                time.sleep(reply.delay_s)
            payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            raw = payload.encode()
            self.send_response(reply.status)
            content_type = "text/html" if isinstance(reply.body, str) else "application/json"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


WANG = Recipient(
    name="王建国", mobile="13800001111", email="wang@plant.example", feishu_open_id="ou_7d8a6e6d"
)
DUE = Message(
    message_id="n-20261125-0001",
    kind="due_warning",
    recipient=WANG,
    subject="工单即将到期 Work order due soon",
    body="工单 WO-20261125-00042 将于 2026-11-27 到期。\nWork order WO-20261125-00042 is due on 2026-11-27.",
    reference="WO-20261125-00042",
)
URGENT = replace(DUE, urgent=True)
