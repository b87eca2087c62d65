"""企业微信 (WeCom) group robot: POST JSON to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=….

Markdown (`markdown.content`, at most 4096 bytes) by default. WeCom's markdown cannot @-mention by
mobile (`mentioned_mobile_list` belongs to the text message), so an urgent message to someone with
a mobile goes as text (at most 2048 bytes) with `mentioned_mobile_list`. The robot has no signing:
the key in the URL is the credential. Answers: {"errcode":0,"errmsg":"ok"}; 45009 rate limit
(20 messages a minute per robot); 93000 invalid webhook URL (a wrong key). Sources: the doc.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from services.notify.channels._http import HttpChannel, dumps, robot_outcome
from services.notify.channels.base import DeliveryResult, Message, fit_text, heading, reference_line
from services.notify.channels.config import WeComConfig

RATE_LIMITED = {45009: 60.0}  # the limit is per minute: wait the minute out
# -1: "system busy" in WeCom's global error codes.
TRANSIENT = (-1,)


class WeComChannel(HttpChannel):
    def __init__(
        self,
        name: str,
        config: WeComConfig,
        *,
        client: httpx.Client | None = None,
        now: Callable[[], float] = time.time,
    ):
        super().__init__(name, config.url, config.timeout_s, client=client, now=now)
        self._config = config

    def send(self, message: Message) -> DeliveryResult:
        answer = self._post(self._config.url, dumps(self.body(message)))
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

    def body(self, message: Message) -> dict[str, Any]:
        """The request body for `message`. A long body is cut to the platform's limit; the subject
        and the reference line are always kept."""
        mobile = message.recipient.mobile
        ref = reference_line(message)
        if message.urgent and mobile:

            def text(body: str) -> str:
                return _join([heading(message), body, ref])

            content = text(fit_text(message.body, lambda b: text(b).encode(), self._config.text_max_bytes))
            return {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": [mobile]}}
        title = message.subject
        if message.urgent:
            title = f'<font color="warning">【紧急 Urgent】</font>{title}'

        def markdown(body: str) -> str:
            return _join([f"**{title}**", body, f"> {ref}" if ref else ""])

        content = markdown(
            fit_text(message.body, lambda b: markdown(b).encode(), self._config.markdown_max_bytes)
        )
        return {"msgtype": "markdown", "markdown": {"content": content}}


def _join(lines: list[str]) -> str:
    return "\n".join(line for line in lines if line)
