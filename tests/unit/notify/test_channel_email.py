"""E-mail against a local SMTP server (aiosmtpd): headers, a UTF-8 Chinese subject and body, the
Message-ID from the message_id, login, and SMTP reply codes mapped to failed (4xx, retried) and
rejected (5xx)."""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.notify.channels import EmailChannel, SmtpConfig
from tests.unit.notify.support import DUE, URGENT


class Inbox:
    """An aiosmtpd handler that keeps what it accepts and answers RCPT from a script."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.rcpt_replies: deque[str] = deque()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def mail(self, index: int = 0) -> EmailMessage:
        parsed = message_from_bytes(self.received[index][2], policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"oms", b"s3cret")
    return AuthResult(success=ok, handled=False)  # False: the server answers 535 itself


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    # Login without TLS only because this server is local to the test.
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def channel(port: int, **overrides: Any) -> EmailChannel:
    config = SmtpConfig(host="127.0.0.1", port=port, from_address="oms@plant.example", security="plain")
    return EmailChannel("email", replace(config, **overrides))


def test_a_chinese_message_arrives_with_its_headers(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    result = channel(port).send(DUE)

    assert (result.outcome, result.status) == ("sent", 250)
    [(mail_from, rcpt_tos, raw)] = inbox.received
    assert (mail_from, rcpt_tos) == ("oms@plant.example", ["wang@plant.example"])
    assert raw.isascii()  # encoded for any relay: no 8-bit header or body
    mail = inbox.mail()
    assert mail["Subject"] == "工单即将到期 Work order due soon"
    assert mail["From"] == "中枢 OMS <oms@plant.example>"
    assert mail["To"] == "王建国 <wang@plant.example>"
    assert mail["Message-ID"] == "<n-20261125-0001@plant.example>"
    assert mail["X-OMS-Kind"] == "due_warning"
    assert mail["X-OMS-Reference"] == "WO-20261125-00042"
    assert "Importance" not in mail
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content() == f"{DUE.body}\n\n单号 Ref: WO-20261125-00042\n"


def test_an_urgent_message_is_marked(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    channel(port).send(URGENT)

    mail = inbox.mail()
    assert mail["Subject"] == "【紧急 Urgent】工单即将到期 Work order due soon"
    assert (mail["Importance"], mail["X-Priority"]) == ("high", "1")


def test_login_when_configured(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    assert channel(port, user="oms", password="s3cret").send(DUE).outcome == "sent"

    refused = channel(port, user="oms", password="wrong").send(DUE)
    assert (refused.outcome, refused.status) == ("rejected", 535)
    assert len(inbox.received) == 1


def test_a_4xx_answer_is_a_failed_try_and_the_next_try_arrives_once(smtp: tuple[Inbox, int]) -> None:
    """Greylisting: 451 is transient (the dispatcher tries again later), the next try is taken."""
    inbox, port = smtp
    inbox.rcpt_replies.append("451 4.7.1 Greylisted, please try again later")

    first, second = channel(port).send(DUE), channel(port).send(DUE)

    assert [(r.outcome, r.status) for r in (first, second)] == [("failed", 451), ("sent", 250)]
    assert len(inbox.received) == 1


def test_a_5xx_answer_is_rejected(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.rcpt_replies.append("550 5.1.1 No such user here")

    result = channel(port).send(DUE)

    assert (result.outcome, result.status) == ("rejected", 550)
    assert "No such user" in result.detail
    assert inbox.received == []


def test_an_unreachable_server_is_a_failed_attempt() -> None:
    result = channel(free_port(), timeout_s=2.0).send(DUE)
    assert result.outcome == "failed"


def test_a_recipient_without_an_address_is_rejected() -> None:
    message = replace(DUE, recipient=replace(DUE.recipient, email=None))
    assert channel(free_port()).send(message).outcome == "rejected"


def test_the_password_stays_out_of_the_config_repr() -> None:
    config = SmtpConfig(host="smtp.exmail.qq.com", port=465, from_address="a@b.c", password="s3cret")
    assert "s3cret" not in repr(config)
