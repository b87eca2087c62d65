"""钉钉 (DingTalk) custom robot: POST JSON to https://oapi.dingtalk.com/robot/send?access_token=….

Markdown: {"msgtype":"markdown","markdown":{"title","text"},"at":{"atMobiles":[…],"isAtAll":false}}.
A mention shows only when the text itself contains "@<mobile>", so an urgent message to someone
with a mobile carries both. Signing ("加签"): timestamp in milliseconds, string to sign
"<timestamp>\\n<secret>", HMAC-SHA256 keyed with the secret, base64, URL-encoded, added to the URL
as &timestamp=…&sign=… (valid for an hour). Answers: {"errcode":0,"errmsg":"ok"}; 130101 "send too
fast, exceed 20 times per minute"; 310000 signature / keyword / IP refused; 300001 token does not
exist. Sources: the doc.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from services.notify.channels._http import HttpChannel, dumps, robot_outcome
from services.notify.channels.base import DeliveryResult, Message, fit_text, heading, reference_line
from services.notify.channels.config import DingTalkConfig

RATE_LIMITED = {130101: 60.0}  # 20 a minute per robot: wait the minute out
TRANSIENT = (-1,)  # "system busy"


def sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk's signature (before URL encoding)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkChannel(HttpChannel):
    def __init__(
        self,
        name: str,
        config: DingTalkConfig,
        *,
        client: httpx.Client | None = None,
        now: Callable[[], float] = time.time,
    ):
        super().__init__(name, config.url, config.timeout_s, [config.secret], client=client, now=now)
        self._config = config

    def send(self, message: Message) -> DeliveryResult:
        answer = self._post(self.signed_url(), dumps(self.body(message)))
        if isinstance(answer, DeliveryResult):
            return answer
        payload = answer.json or {}
        code = payload.get("errcode")
        return robot_outcome(
            answer,
            code if isinstance(code, int) else None,
            str(payload.get("errmsg", "")),
            rate_limited=RATE_LIMITED,
            transient=TRANSIENT,
        )

    def signed_url(self) -> str:
        """The webhook URL, with a fresh timestamp and signature when the robot has a secret. Built
        by hand: httpx's `params` would replace the access_token already in the query."""
        url, secret = self._config.url, self._config.secret
        if not secret:
            return url
        timestamp = int(self._now() * 1000)
        separator = "&" if "?" in url else "?"
        return f"{url}{separator}timestamp={timestamp}&sign={quote(sign(timestamp, secret), safe='')}"

    def body(self, message: Message) -> dict[str, Any]:
        """The request body for `message`; a long body is cut, the subject and reference kept."""
        mobile = message.recipient.mobile if message.urgent else None
        ref = reference_line(message)

        def text(body: str) -> str:
            parts = [
                f"#### {heading(message)}",
                body,
                f"> {ref}" if ref else "",
                f"@{mobile}" if mobile else "",
            ]
            # Two newlines: DingTalk's markdown joins single-newline lines into one paragraph.
            return "\n\n".join(part for part in parts if part)

        content = text(fit_text(message.body, lambda b: text(b).encode(), self._config.text_max_bytes))
        return {
            "msgtype": "markdown",
            # The title is what the conversation list and the phone's notification show.
            "markdown": {"title": heading(message), "text": content},
            "at": {"atMobiles": [mobile] if mobile else [], "isAtAll": False},
        }
