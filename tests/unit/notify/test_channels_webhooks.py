"""The WeCom and DingTalk robots against a local receiver: exact bodies, signatures checked by an
independent implementation of the documented algorithm, mentions, truncation, each platform's
answers mapped to sent / rejected / failed, and a rate limit's hint passed on. (Feishu and the
generic webhook are in test_channels_feishu_webhook.py.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from dataclasses import replace

import pytest

from services.notify.channels import (
    TRUNCATED,
    DingTalkChannel,
    DingTalkConfig,
    WeComChannel,
    WeComConfig,
)
from tests.unit.notify.support import DUE, URGENT, Receiver, Reply

BODY = DUE.body
REF = "单号 Ref: WO-20261125-00042"
LONG = "超长说明 Long text. " * 3000  # ~60 KB in UTF-8


def wecom(receiver: Receiver) -> WeComChannel:
    return WeComChannel("plant_wecom", WeComConfig(url=f"{receiver.url}/cgi-bin/webhook/send?key=K-693a91f6"))


def dingtalk(receiver: Receiver, secret: str | None = "SEC0f3+/=9a") -> DingTalkChannel:
    url = f"{receiver.url}/robot/send?access_token=tok-98975521"
    return DingTalkChannel("plant_dingtalk", DingTalkConfig(url=url, secret=secret))


# --- WeCom ---------------------------------------------------------------------------------------


def test_wecom_sends_markdown(receiver: Receiver) -> None:
    result = wecom(receiver).send(DUE)

    assert (result.outcome, result.code) == ("sent", 0)
    [request] = receiver.requests
    assert request.path == "/cgi-bin/webhook/send?key=K-693a91f6"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    content = f"**工单即将到期 Work order due soon**\n{BODY}\n> {REF}"
    assert request.json() == {"msgtype": "markdown", "markdown": {"content": content}}


def test_wecom_urgent_mentions_the_mobile_in_a_text_message(receiver: Receiver) -> None:
    wecom(receiver).send(URGENT)

    content = f"【紧急 Urgent】工单即将到期 Work order due soon\n{BODY}\n{REF}"
    assert receiver.requests[0].json() == {
        "msgtype": "text",
        "text": {"content": content, "mentioned_mobile_list": ["13800001111"]},
    }


def test_wecom_urgent_without_a_mobile_stays_markdown(receiver: Receiver) -> None:
    wecom(receiver).send(replace(URGENT, recipient=replace(URGENT.recipient, mobile=None)))

    sent = receiver.requests[0].json()
    assert sent["msgtype"] == "markdown"
    assert sent["markdown"]["content"].startswith(
        '**<font color="warning">【紧急 Urgent】</font>工单即将到期'
    )


@pytest.mark.parametrize(("message", "kind", "limit"), [(DUE, "markdown", 4096), (URGENT, "text", 2048)])
def test_wecom_cuts_a_long_body_to_the_documented_limit(receiver: Receiver, message, kind, limit) -> None:
    assert wecom(receiver).send(replace(message, body=LONG)).outcome == "sent"

    content = receiver.requests[0].json()[kind]["content"]
    assert len(content.encode()) <= limit
    assert len(content.encode()) > limit - 10  # cut, not emptied
    assert content.endswith(f"{TRUNCATED}\n> {REF}" if kind == "markdown" else f"{TRUNCATED}\n{REF}")


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (Reply(body={"errcode": 45009, "errmsg": "api freq out of limit"}), "failed", 60.0),
        (Reply(body={"errcode": 93000, "errmsg": "invalid webhook url"}), "rejected", None),
        (Reply(body={"errcode": 40008, "errmsg": "invalid message type"}), "rejected", None),
        (Reply(body={"errcode": -1, "errmsg": "system busy"}), "failed", None),
        (Reply(status=502, body="<html>bad gateway</html>"), "failed", None),
        (Reply(status=200, body="<html>portal</html>"), "failed", None),
    ],
)
def test_wecom_answers(receiver: Receiver, reply: Reply, outcome: str, retry_after: float | None) -> None:
    receiver.answer(reply)
    result = wecom(receiver).send(DUE)
    assert (result.outcome, result.retry_after_s) == (outcome, retry_after)


def test_an_unreachable_robot_fails_without_leaking_its_key() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again on leaving: nothing listens there
    url = f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=K-secret-key"
    result = WeComChannel("w", WeComConfig(url=url)).send(DUE)
    assert result.outcome == "failed"
    assert "K-secret-key" not in result.detail
    assert "K-secret-key" not in repr(WeComConfig(url=url))


# --- DingTalk ------------------------------------------------------------------------------------


def dingtalk_sign(timestamp: str, secret: str) -> str:
    """From DingTalk's documentation: HmacSHA256 keyed with the secret over "timestamp\\nsecret"."""
    digest = hmac.new(secret.encode(), (timestamp + "\n" + secret).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_dingtalk_signs_the_url(receiver: Receiver) -> None:
    assert dingtalk(receiver).send(DUE).outcome == "sent"

    [request] = receiver.requests
    query = request.query
    assert query["access_token"] == "tok-98975521"  # the URL's own query is kept
    assert abs(int(query["timestamp"]) - time.time() * 1000) < 60_000  # milliseconds, now
    assert query["sign"] == dingtalk_sign(query["timestamp"], "SEC0f3+/=9a")
    raw_sign = request.raw_query.split("sign=")[1]
    assert not set("+/=") & set(raw_sign)  # URL-encoded: a raw "+" would read as a space


def test_dingtalk_without_a_secret_posts_to_the_url_as_given(receiver: Receiver) -> None:
    dingtalk(receiver, secret=None).send(DUE)
    assert receiver.requests[0].path == "/robot/send?access_token=tok-98975521"


def test_dingtalk_markdown_body(receiver: Receiver) -> None:
    dingtalk(receiver).send(DUE)

    assert receiver.requests[0].json() == {
        "msgtype": "markdown",
        "markdown": {
            "title": "工单即将到期 Work order due soon",
            "text": f"#### 工单即将到期 Work order due soon\n\n{BODY}\n\n> {REF}",
        },
        "at": {"atMobiles": [], "isAtAll": False},
    }


def test_dingtalk_urgent_mentions_the_mobile_in_at_and_in_the_text(receiver: Receiver) -> None:
    dingtalk(receiver).send(URGENT)

    sent = receiver.requests[0].json()
    assert sent["at"] == {"atMobiles": ["13800001111"], "isAtAll": False}
    assert sent["markdown"]["title"] == "【紧急 Urgent】工单即将到期 Work order due soon"
    assert sent["markdown"]["text"].endswith(f"> {REF}\n\n@13800001111")


def test_dingtalk_cuts_a_long_body(receiver: Receiver) -> None:
    dingtalk(receiver).send(replace(URGENT, body=LONG))

    text = receiver.requests[0].json()["markdown"]["text"]
    assert len(text.encode()) <= 4000
    assert text.endswith(f"{TRUNCATED}\n\n> {REF}\n\n@13800001111")  # the mention survives the cut


@pytest.mark.parametrize(
    ("answer", "outcome", "retry_after"),
    [
        ({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, "failed", 60.0),
        ({"errcode": 310000, "errmsg": "sign not match"}, "rejected", None),
        ({"errcode": 310000, "errmsg": "keywords not in content"}, "rejected", None),
        ({"errcode": 300001, "errmsg": "token is not exist"}, "rejected", None),
    ],
)
def test_dingtalk_answers(receiver: Receiver, answer: dict, outcome: str, retry_after: float | None) -> None:
    receiver.answer(Reply(body=answer))
    result = dingtalk(receiver).send(DUE)
    assert (result.outcome, result.code, result.retry_after_s) == (outcome, answer["errcode"], retry_after)


# --- rate limits ---------------------------------------------------------------------------------


def test_a_rate_limited_robot_asks_for_its_minute(receiver: Receiver) -> None:
    """WeCom's limit is per minute: the answer carries a 60 s hint the dispatcher honours."""
    receiver.answer(Reply(body={"errcode": 45009, "errmsg": "api freq out of limit"}))
    limited, then = wecom(receiver).send(DUE), wecom(receiver).send(DUE)

    assert (limited.outcome, limited.code, limited.retry_after_s) == ("failed", 45009, 60.0)
    assert (then.outcome, then.code) == ("sent", 0)
    assert len(receiver.requests) == 2
