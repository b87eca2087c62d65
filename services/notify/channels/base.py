"""The one interface every notification channel implements, and what a send answers.

A channel turns a `Message` into its platform's request and the platform's answer into a
`DeliveryResult`: "sent", "rejected" (permanent: a retry cannot help, e.g. a wrong key or
signature, a malformed request) or "failed" (transient: timeout, 5xx, rate limit; retry). Retrying,
backoff and the attempt log live in `delivery.py`, the same for every channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

Outcome = Literal["sent", "rejected", "failed"]

# Appended where a text was cut to fit a platform's size limit: a long message is shortened, never
# refused, and the reader sees that something is missing.
TRUNCATED = "…(截断 truncated)"


@dataclass(frozen=True)
class Recipient:
    """Who a message is for, with the addresses the channels may use. A channel uses what it can:
    e-mail needs `email`; the chat robots post to a group and @-mention `mobile` (WeCom, DingTalk)
    or `feishu_open_id` (Feishu has no mention by mobile) when the message is urgent."""

    name: str
    mobile: str | None = None
    email: str | None = None
    feishu_open_id: str | None = None


@dataclass(frozen=True)
class Message:
    """One notification. `message_id` is stable across retries and channels: the generic webhook
    sends it as its idempotency key and e-mail derives its Message-ID from it."""

    message_id: str
    kind: str  # e.g. "due_warning", "work_order_revised"
    recipient: Recipient
    subject: str  # Chinese with English beside: "工单即将到期 Work order due soon"
    body: str
    reference: str = ""  # e.g. the work order number
    urgent: bool = False


@dataclass(frozen=True)
class DeliveryResult:
    """What one send answered. `status` is the HTTP status or SMTP reply code, `code` the
    platform's own answer code (errcode / code); `retry_after_s` a delay the platform asked for."""

    outcome: Outcome
    detail: str
    status: int | None = None
    code: int | None = None
    retry_after_s: float | None = None


class Channel(Protocol):
    """A way to reach people. `send` makes one attempt and never retries by itself; it should
    answer a DeliveryResult rather than raise, though `attempt` survives a channel that raises."""

    @property
    def name(self) -> str: ...

    def send(self, message: Message) -> DeliveryResult: ...


def truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` cut so that, with the TRUNCATED marker, it takes at most `max_bytes` in UTF-8.

    The platforms count bytes, not characters, and a Chinese character is three of them; the cut
    never splits a character."""
    if len(text.encode()) <= max_bytes:
        return text
    budget = max(max_bytes - len(TRUNCATED.encode()), 0)
    cut = text.encode()[:budget].decode("utf-8", errors="ignore")
    return cut + TRUNCATED


def fit_text(text: str, render: Callable[[str], bytes], max_bytes: int) -> str:
    """The longest cut of `text` whose rendered request (`render(text)`) fits in `max_bytes`.

    For limits on a whole request (Feishu's 20 KB body), where JSON escaping and the rest of the
    request take their share: a binary search over the cut, some 16 renders for 60 KB of text."""
    if len(render(text)) <= max_bytes:
        return text
    low, high = 0, len(text.encode()) - 1  # the cut lengths (bytes) still in question
    best = ""  # not even the marker alone fits: the rest of the request is too large
    while low <= high:
        middle = (low + high) // 2
        candidate = truncate_utf8(text, middle)
        if len(render(candidate)) <= max_bytes:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def heading(message: Message) -> str:
    """The first line of a chat message: the subject, marked when urgent."""
    return f"【紧急 Urgent】{message.subject}" if message.urgent else message.subject


def reference_line(message: Message) -> str:
    return f"单号 Ref: {message.reference}" if message.reference else ""
