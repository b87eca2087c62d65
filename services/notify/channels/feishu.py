"""飞书 (Feishu / Lark) custom bot: POST JSON to https://open.feishu.cn/open-apis/bot/v2/hook/<id>.

An interactive card (`msg_type` "interactive", `card`) whose header is the subject (red when urgent)
and whose one markdown element is the body; the custom bot has no mention by mobile, so an urgent
message mentions `<at id=open_id></at>` when the recipient's open_id is known. Signing ("签名校验"):
timestamp in seconds, "<timestamp>\\n<secret>" used as the HMAC-SHA256 KEY over an empty message,
base64; sent as "timestamp" and "sign" fields of the JSON body (valid for an hour). The whole
request body may take at most 20 KB. Answers: {"code":0,"msg":"success"} (older:
"StatusCode":0); 11232 rate limit (100 a minute, 5 a second per bot); 19021 signature or
timestamp refused; 19022 IP not allowed; 19024 keyword missing; 9499 bad request. Sources: the doc.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import httpx

from services.notify.channels._http import HttpChannel, dumps, robot_outcome
from services.notify.channels.base import DeliveryResult, Message, fit_text, heading, reference_line
from services.notify.channels.config import FeishuConfig

# 11232 also comes from load on Feishu's side at round hours (the doc): a short wait is enough.
RATE_LIMITED = {11232: 10.0}


def sign(timestamp_s: int, secret: str) -> str:
    """Feishu's signature: note the key is "<timestamp>\\n<secret>" and the message empty (unlike
    DingTalk, where the secret is the key and that string the message)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FeishuChannel(HttpChannel):
    def __init__(
        self,
        name: str,
        config: FeishuConfig,
        *,
        client: httpx.Client | None = None,
        now: Callable[[], float] = time.time,
    ):
        super().__init__(name, config.url, config.timeout_s, [config.secret], client=client, now=now)
        self._config = config

    def send(self, message: Message) -> DeliveryResult:
        answer = self._post(self._config.url, dumps(self.body(message)))
        if isinstance(answer, DeliveryResult):
            return answer
        payload = answer.json or {}
        code = payload.get("code", payload.get("StatusCode"))
        text = payload.get("msg", payload.get("StatusMessage", ""))
        return robot_outcome(
            answer, code if isinstance(code, int) else None, str(text), rate_limited=RATE_LIMITED
        )

    def body(self, message: Message) -> dict[str, Any]:
        """The request body for `message`, signed when the bot has a secret; a long body is cut so
        that the whole request fits the 20 KB limit."""
        signature: dict[str, str] = {}
        if self._config.secret:
            timestamp = int(self._now())
            signature = {"timestamp": str(timestamp), "sign": sign(timestamp, self._config.secret)}
        open_id = message.recipient.feishu_open_id if message.urgent else None
        ref = reference_line(message)

        def request(body: str) -> dict[str, Any]:
            parts = [f"<at id={open_id}></at>" if open_id else "", body, f"**{ref}**" if ref else ""]
            card = {
                "header": {
                    "title": {"tag": "plain_text", "content": heading(message)},
                    "template": "red" if message.urgent else "blue",
                },
                "elements": [{"tag": "markdown", "content": "\n".join(p for p in parts if p)}],
            }
            return {**signature, "msg_type": "interactive", "card": card}

        limit = self._config.body_max_bytes
        return request(fit_text(message.body, lambda b: dumps(request(b)), limit))
