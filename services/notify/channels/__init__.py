"""Notification channels behind one interface (`Channel.send(Message) -> DeliveryResult`), and
`attempt`, one try of one message as a row of the delivery log. docs/notify-channels.md has
each platform's format, signing and answers, with sources."""

from services.notify.channels.base import (
    TRUNCATED,
    Channel,
    DeliveryResult,
    Message,
    Outcome,
    Recipient,
)
from services.notify.channels.config import (
    DingTalkConfig,
    FeishuConfig,
    SmtpConfig,
    WebhookConfig,
    WeComConfig,
)
from services.notify.channels.delivery import Attempt, attempt
from services.notify.channels.dingtalk import DingTalkChannel
from services.notify.channels.email import EmailChannel
from services.notify.channels.feishu import FeishuChannel
from services.notify.channels.webhook import WebhookChannel
from services.notify.channels.wecom import WeComChannel

__all__ = [
    "TRUNCATED",
    "Attempt",
    "Channel",
    "DeliveryResult",
    "DingTalkChannel",
    "DingTalkConfig",
    "EmailChannel",
    "FeishuChannel",
    "FeishuConfig",
    "Message",
    "Outcome",
    "Recipient",
    "SmtpConfig",
    "WeComChannel",
    "WeComConfig",
    "WebhookChannel",
    "WebhookConfig",
    "attempt",
]
