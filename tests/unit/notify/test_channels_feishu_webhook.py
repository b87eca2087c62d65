"""The Feishu bot and the generic signed webhook against a local receiver: exact bodies,
signatures checked by independent implementations of the documented algorithms, truncation to the
20 KB request limit, and the answers mapped to sent / rejected / failed. (WeCom, DingTalk and the
rate limits are in test_channels_webhooks.py.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import replace

import pytest

from services.notify.channels import (
    TRUNCATED,
    FeishuChannel,
    FeishuConfig,
    WebhookChannel,
    WebhookConfig,
)
from tests.unit.notify.support import DUE, URGENT, Receiver, Reply

BODY = DUE.body
REF = "单号 Ref: WO-20261125-00042"
LONG = "超长说明 Long text. " * 3000  # ~60 KB in UTF-8


def feishu(receiver: Receiver, secret: str | None = "nIMtb7r3N9pkXy") -> FeishuChannel:
    url = f"{receiver.url}/open-apis/bot/v2/hook/5e3d587e"
    return FeishuChannel("plant_feishu", FeishuConfig(url=url, secret=secret))


# --- Feishu --------------------------------------------------------------------------------------


def feishu_sign(timestamp: str, secret: str) -> str:
    """From Feishu's documentation: "timestamp\\nsecret" is the HMAC-SHA256 key; the message is empty."""
    return base64.b64encode(
        hmac.new((timestamp + "\n" + secret).encode(), b"", hashlib.sha256).digest()
    ).decode()


def test_feishu_signs_the_body_and_sends_a_card(receiver: Receiver) -> None:
    receiver.default = Reply(body={"code": 0, "msg": "success", "data": {}})
    assert feishu(receiver).send(DUE).outcome == "sent"

    [request] = receiver.requests
    assert request.path == "/open-apis/bot/v2/hook/5e3d587e"
    sent = request.json()
    timestamp = sent.pop("timestamp")
    assert isinstance(timestamp, str) and abs(int(timestamp) - time.time()) < 60  # seconds, now
    assert sent.pop("sign") == feishu_sign(timestamp, "nIMtb7r3N9pkXy")
    assert sent == {
        "msg_type": "interactive",
        "card": {
            "header": {
                "title": {"tag": "plain_text", "content": "工单即将到期 Work order due soon"},
                "template": "blue",
            },
            "elements": [{"tag": "markdown", "content": f"{BODY}\n**{REF}**"}],
        },
    }


def test_feishu_urgent_is_red_and_mentions_the_open_id(receiver: Receiver) -> None:
    receiver.default = Reply(body={"code": 0, "msg": "success", "data": {}})
    feishu(receiver, secret=None).send(URGENT)

    sent = receiver.requests[0].json()
    assert "sign" not in sent and "timestamp" not in sent
    assert sent["card"]["header"]["template"] == "red"
    assert sent["card"]["header"]["title"]["content"] == "【紧急 Urgent】工单即将到期 Work order due soon"
    assert sent["card"]["elements"][0]["content"].startswith("<at id=ou_7d8a6e6d></at>\n")


def test_feishu_cuts_a_long_body_to_fit_the_20_kb_request(receiver: Receiver) -> None:
    receiver.default = Reply(body={"code": 0, "msg": "success", "data": {}})
    feishu(receiver).send(replace(DUE, body=LONG + '"quotes" and \\ escapes\n' * 200))

    request = receiver.requests[0]
    assert 20 * 1024 - 64 < len(request.body) <= 20 * 1024
    assert request.json()["card"]["elements"][0]["content"].endswith(f"{TRUNCATED}\n**{REF}**")


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (
            Reply(body={"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"}),
            "failed",
            10.0,
        ),
        (
            Reply(body={"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}),
            "rejected",
            None,
        ),
        (Reply(body={"code": 19024, "msg": "Key Words Not Found"}), "rejected", None),
        (Reply(status=400, body={"code": 9499, "msg": "Bad Request"}), "rejected", None),
        (Reply(body={"Extra": None, "StatusCode": 0, "StatusMessage": "success"}), "sent", None),
        (Reply(status=503, body="unavailable"), "failed", None),
    ],
)
def test_feishu_answers(receiver: Receiver, reply: Reply, outcome: str, retry_after: float | None) -> None:
    receiver.answer(reply)
    result = feishu(receiver).send(DUE)
    assert (result.outcome, result.retry_after_s) == (outcome, retry_after)


# --- the generic webhook -------------------------------------------------------------------------


def webhook(receiver: Receiver, timeout_s: float = 5.0) -> WebhookChannel:
    config = WebhookConfig(url=f"{receiver.url}/oms/notify", secret="whsec-3f9c", timeout_s=timeout_s)
    return WebhookChannel("plant_sms", config)


def test_webhook_signs_the_raw_body_and_carries_the_idempotency_key(receiver: Receiver) -> None:
    receiver.default = Reply(status=204, body="")
    assert webhook(receiver).send(URGENT).outcome == "sent"

    [request] = receiver.requests
    timestamp = request.headers["X-OMS-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(b"whsec-3f9c", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-OMS-Signature"], f"sha256={expected}")
    assert request.headers["Idempotency-Key"] == request.headers["X-OMS-Message-Id"] == "n-20261125-0001"
    sent = request.json()
    assert sent.pop("sent_at").endswith("+00:00")
    assert sent == {
        "message_id": "n-20261125-0001",
        "kind": "due_warning",
        "recipient": {"name": "王建国", "mobile": "13800001111", "email": "wang@plant.example"},
        "subject": "工单即将到期 Work order due soon",
        "body": BODY,
        "reference": "WO-20261125-00042",
        "urgent": True,
    }


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (Reply(status=200, body="ok"), "sent", None),
        (Reply(status=500, body="oops"), "failed", None),
        (Reply(status=429, body="slow down", headers={"Retry-After": "7"}), "failed", 7.0),
        (Reply(status=400, body="bad payload"), "rejected", None),
        (Reply(status=401, body="bad signature"), "rejected", None),
    ],
)
def test_webhook_answers(receiver: Receiver, reply: Reply, outcome: str, retry_after: float | None) -> None:
    receiver.answer(reply)
    result = webhook(receiver).send(DUE)
    assert (result.outcome, result.status, result.retry_after_s) == (outcome, reply.status, retry_after)


def test_webhook_timeout_is_a_failed_attempt(receiver: Receiver) -> None:
    receiver.answer(Reply(status=200, body="late", delay_s=1.0))
    result = webhook(receiver, timeout_s=0.2).send(DUE)
    assert result.outcome == "failed"
    assert "timeout" in result.detail


def test_a_retry_after_is_passed_on_to_the_dispatcher(receiver: Receiver) -> None:
    receiver.answer(Reply(status=503, body="maintenance", headers={"Retry-After": "3600"}))
    result = webhook(receiver).send(DUE)

    assert (result.outcome, result.status, result.retry_after_s) == ("failed", 503, 3600.0)
    assert len(receiver.requests) == 1
