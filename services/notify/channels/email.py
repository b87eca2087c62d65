"""E-mail over SMTP (stdlib smtplib): a UTF-8 plain-text message with a Chinese subject and body.

The Message-ID is derived from the message_id, so every retry carries the same one and a mail
system or reader that deduplicates on it shows one copy. SMTP reply codes decide the outcome:
4xx (greylisting, mailbox busy, "try again later") = failed and retried; 5xx (no such user, relay
refused, authentication failed) = rejected. Not reaching the server at all = failed.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from services.notify.channels.base import DeliveryResult, Message, Outcome, reference_line
from services.notify.channels.config import SmtpConfig

MAX_DETAIL = 300


class EmailChannel:
    def __init__(self, name: str, config: SmtpConfig):
        self._name = name
        self._config = config

    @property
    def name(self) -> str:
        return self._name

    def send(self, message: Message) -> DeliveryResult:
        address = message.recipient.email
        if not address:
            return DeliveryResult("rejected", f"{message.recipient.name} has no e-mail address")
        try:
            with self._connect() as smtp:
                if self._config.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self._config.user:
                    smtp.login(self._config.user, self._config.password or "")
                smtp.send_message(self.email(message))
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return _by_code(code, text)
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, auth failed…
            return _by_code(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPNotSupportedError as exc:  # e.g. no STARTTLS: a configuration error
            return DeliveryResult("rejected", f"SMTP: {exc}"[:MAX_DETAIL])
        except (smtplib.SMTPException, OSError) as exc:  # disconnected, refused, timeout, TLS
            return DeliveryResult("failed", f"SMTP unreachable: {type(exc).__name__}: {exc}"[:MAX_DETAIL])
        return DeliveryResult("sent", "250 accepted", status=250)

    def email(self, message: Message) -> EmailMessage:
        """The e-mail for `message` (public for the tests)."""
        config, recipient = self._config, message.recipient
        mail = EmailMessage()
        mail["Subject"] = f"【紧急 Urgent】{message.subject}" if message.urgent else message.subject
        mail["From"] = formataddr((config.from_name, config.from_address))
        mail["To"] = formataddr((recipient.name, recipient.email or ""))
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id_header(message.message_id, config.from_address)
        mail["X-OMS-Kind"] = message.kind
        if message.reference:
            mail["X-OMS-Reference"] = message.reference
        if message.urgent:
            mail["Importance"] = "high"
            mail["X-Priority"] = "1"
        ref = reference_line(message)
        text = f"{message.body}\n\n{ref}\n" if ref else f"{message.body}\n"
        # base64, not 8bit: a relay without 8BITMIME must not mangle the Chinese text.
        mail.set_content(text, charset="utf-8", cte="base64")
        return mail

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        if config.security == "ssl":
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
        return smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)


def message_id_header(message_id: str, from_address: str) -> str:
    """<message_id@domain of the sender>, with anything not allowed in a Message-ID replaced."""
    domain = from_address.rpartition("@")[2] or "oms.invalid"
    local = re.sub(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]", "-", message_id) or "message"
    return f"<{local}@{domain}>"


def _by_code(code: int, text: bytes | str) -> DeliveryResult:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else text
    outcome: Outcome = "failed" if 400 <= code < 500 else "rejected"
    return DeliveryResult(outcome, f"SMTP {code}: {detail}"[:MAX_DETAIL], status=code)
