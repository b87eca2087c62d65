"""The plant's channels as the end-to-end stacks reach them: a signed webhook receiver and a WeCom
group robot on local ports (tenants/hardware.toml names them by OMS_NOTIFY_HARDWARE_WEBHOOK_URL and
OMS_NOTIFY_HARDWARE_WECOM_URL).

Both fail the first try of every message (503; WeCom's "system busy" errcode -1) and take the
next: every notice the scenarios cause goes through a failed try and a retry, so "an endpoint that
fails then recovers gets each message exactly once" is checked on all of them. The webhook
receiver checks every request's signature and refuses a forged one (401)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "e2e-webhook-secret"


@dataclass(frozen=True)
class Accepted:
    channel: str  # "webhook" or "wecom"
    payload: dict[str, Any]


class ChannelInbox:
    def __init__(self) -> None:
        self.accepted: list[Accepted] = []
        self.tries: Counter[str] = Counter()  # per message (webhook: message_id; WeCom: content)
        self.forged = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def env(self) -> dict[str, str]:
        host, port = self._server.server_address[:2]
        return {
            "OMS_NOTIFY_HARDWARE_WEBHOOK_URL": f"http://{host!s}:{port}/hook",
            "OMS_NOTIFY_HARDWARE_WEBHOOK_SECRET": SECRET,
            "OMS_NOTIFY_HARDWARE_WECOM_URL": f"http://{host!s}:{port}/cgi-bin/webhook/send?key=e2e-robot-key",
            "OMS_NOTIFY_DISPATCH_S": "1",
        }

    def webhook_messages(self, reference: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                a.payload
                for a in self.accepted
                if a.channel == "webhook" and a.payload.get("reference") == reference
            ]

    def wecom_texts(self, needle: str) -> list[str]:
        with self._lock:
            texts = [_wecom_text(a.payload) for a in self.accepted if a.channel == "wecom"]
        return [t for t in texts if needle in t]

    def take(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        payload = json.loads(raw)
        if path.startswith("/hook"):
            timestamp = headers.get("X-OMS-Timestamp", "")
            expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(headers.get("X-OMS-Signature", ""), f"sha256={expected}"):
                with self._lock:
                    self.forged += 1
                return 401, {"error": "bad signature"}
            key, channel = headers.get("Idempotency-Key", ""), "webhook"
        else:
            key, channel = "wecom:" + _wecom_text(payload), "wecom"
        with self._lock:
            self.tries[key] += 1
            if self.tries[key] == 1:
                return (
                    (503, {"error": "down"})
                    if channel == "webhook"
                    else (200, {"errcode": -1, "errmsg": "busy"})
                )
            self.accepted.append(Accepted(channel, payload))
        return 200, {"errcode": 0, "errmsg": "ok"}

    def __enter__(self) -> ChannelInbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _wecom_text(payload: dict[str, Any]) -> str:
    kind = payload.get("msgtype", "")
    return str(payload.get(kind, {}).get("content", ""))


def _handler(inbox: ChannelInbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, answer = inbox.take(self.path, dict(self.headers.items()), raw)
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
