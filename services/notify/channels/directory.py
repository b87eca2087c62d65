"""The channels of a tenant, built from its `[notify.channels.<name>]` tables and the environment.

Credentials come from environment variables named in the file (a Kubernetes Secret in a cluster).
A channel whose variables are unset is not built: `unavailable` says why, and the dispatcher records
that reason on each try of a delivery meant for it (on the usual retry schedule), so the delivery
log tells the plant's IT person what to set, and the message goes once it is. The other channels
work as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from services.chassis.tenant_config import NotifyChannel
from services.chassis.tenants import Tenant
from services.notify.channels.base import Channel
from services.notify.channels.config import (
    DingTalkConfig,
    FeishuConfig,
    SmtpConfig,
    WebhookConfig,
    WeComConfig,
)
from services.notify.channels.dingtalk import DingTalkChannel
from services.notify.channels.email import EmailChannel
from services.notify.channels.feishu import FeishuChannel
from services.notify.channels.webhook import WebhookChannel
from services.notify.channels.wecom import WeComChannel

log = logging.getLogger(__name__)


class MissingSetting(Exception):
    pass


@dataclass
class TenantChannels:
    """The channels one tenant may use: built ones by name, and why the others are not."""

    channels: dict[str, Channel] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # name -> reason

    def close(self) -> None:
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()


def build_channels(tenant: Tenant, environ: Mapping[str, str]) -> TenantChannels:
    built = TenantChannels()
    for name, spec in tenant.notify.channels.items():
        try:
            built.channels[name] = build_channel(name, spec, environ)
        except MissingSetting as exc:
            built.unavailable[name] = str(exc)
            log.warning("notify: tenant %s channel %s is not configured: %s", tenant.tenant_id, name, exc)
    return built


def build_channel(name: str, spec: NotifyChannel, environ: Mapping[str, str]) -> Channel:
    def env(variable: str, *, required: bool = True) -> str | None:
        if not variable:
            return None
        value = environ.get(variable, "").strip()
        if not value and required:
            raise MissingSetting(f"environment variable {variable} is not set")
        return value or None

    url = spec.url or env(spec.url_env) or ""
    if spec.type != "smtp" and not url.startswith(("https://", "http://")):
        raise MissingSetting(f"{spec.url_env or 'url'} is not an http(s) URL")
    makers: dict[str, Callable[[], Channel]] = {
        "wecom": lambda: WeComChannel(name, WeComConfig(url=url, timeout_s=spec.timeout_s)),
        "dingtalk": lambda: DingTalkChannel(
            name, DingTalkConfig(url=url, secret=env(spec.secret_env), timeout_s=spec.timeout_s)
        ),
        "feishu": lambda: FeishuChannel(
            name, FeishuConfig(url=url, secret=env(spec.secret_env), timeout_s=spec.timeout_s)
        ),
        "webhook": lambda: WebhookChannel(
            name, WebhookConfig(url=url, secret=env(spec.secret_env) or "", timeout_s=spec.timeout_s)
        ),
        "smtp": lambda: EmailChannel(
            name,
            SmtpConfig(
                host=spec.host,
                port=spec.port,
                from_address=spec.from_address,
                from_name=spec.from_name,
                security=spec.security,
                user=env(spec.user_env),
                password=env(spec.password_env),
                timeout_s=spec.timeout_s,
            ),
        ),
    }
    return makers[spec.type]()
