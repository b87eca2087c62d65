"""The settings of each channel, one small frozen dataclass per kind.

`directory.py` builds these from the tenant file's [notify.channels] and the environment; secrets
come from the environment, never the tenant file. Fields that
hold a credential are left out of `repr` so a logged config shows no key: a WeCom or DingTalk
webhook URL carries the robot's key or access token in its query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class WeComConfig:
    """企业微信 group robot: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=… (the key is the
    only credential; the robot has no signing)."""

    url: str = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    markdown_max_bytes: int = 4096  # markdown.content, as documented
    text_max_bytes: int = 2048  # text.content, used when @-mentioning by mobile


@dataclass(frozen=True)
class DingTalkConfig:
    """钉钉 custom robot: https://oapi.dingtalk.com/robot/send?access_token=…, signed with the
    robot's "加签" secret (SEC…) when set."""

    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    # Not confirmed in DingTalk's documentation (see the doc): a conservative cut of markdown.text.
    text_max_bytes: int = 4000


@dataclass(frozen=True)
class FeishuConfig:
    """飞书 custom bot: https://open.feishu.cn/open-apis/bot/v2/hook/<id> (Lark:
    open.larksuite.com), signed with the bot's secret when "签名校验" is on."""

    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    body_max_bytes: int = 20 * 1024  # the whole request body, as documented


@dataclass(frozen=True)
class WebhookConfig:
    """A generic HTTPS endpoint of the plant's own systems, signed with a shared secret."""

    url: str = field(repr=False)
    secret: str = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class SmtpConfig:
    """An SMTP submission server. `security`: "starttls" (port 587), "ssl" (implicit TLS, port 465,
    what Tencent and Alibaba enterprise mail offer) or "plain" (a relay on the plant's network)."""

    host: str
    port: int
    from_address: str
    from_name: str = "中枢 OMS"
    security: Literal["starttls", "ssl", "plain"] = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
