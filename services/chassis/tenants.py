"""Tenants (business lines) and their configuration, from `tenants/<id>.toml`.

Adding a business line is adding a file (README). Every file a service serves is read and checked
against one schema (services/chassis/tenant_config.py) when the service starts: a misspelt key, a
wrong type, a missing section or an unknown time zone stops start-up with the file, the key and
what was expected, rather than failing the first request that reads it.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import PrivateAttr, ValidationError

from services.chassis.rules import RuleInvalid, check_tenant_rules
from services.chassis.settings import InvalidSetting
from services.chassis.tenant_config import TenantConfig, describe_errors

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "tenants"
_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def notify_secret_prefix(tenant_id: str) -> str:
    return f"OMS_NOTIFY_{tenant_id.upper().replace('-', '_')}_"


def notify_secret_names(tenant_id: str, tenant: TenantConfig) -> list[str]:
    """A tenant's channels may read only variables named for that tenant: notify holds every
    business line's channel secrets in one environment, and a file naming another line's robot
    URL (or the database's) would post to that line's group or send the value to its own host."""
    prefix = notify_secret_prefix(tenant_id)
    return [
        f"notify.channels.{name}.{key}: {value!r} must start with {prefix} (this business line's own)"
        for name, channel in tenant.notify.channels.items()
        for key in ("url_env", "secret_env", "user_env", "password_env")
        if (value := getattr(channel, key)) and not value.startswith(prefix)
    ]


class Tenant(TenantConfig):
    """A business line served: its id (the file's name) and its checked configuration. Sections
    are typed attributes (`tenant.options.colours`, `tenant.workshops["plating"].lead`)."""

    _tenant_id: str = PrivateAttr(default="")
    _source: Path | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        if isinstance(context, dict):
            self._tenant_id = context.get("tenant_id", "")
            self._source = context.get("source")

    @classmethod
    def from_file(cls, tenant_id: str, path: Path) -> Tenant:
        """Read and check one tenant file; InvalidSetting names the file, the keys and what was
        expected."""
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidSetting(f"tenant file {path} is not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidSetting(f"tenant file {path} cannot be read: {exc}") from None
        try:
            tenant = cls.model_validate(doc, context={"tenant_id": tenant_id, "source": path})
        except ValidationError as exc:
            raise InvalidSetting(f"tenant file {path} is invalid: {describe_errors(exc)}") from None
        try:
            check_tenant_rules(tenant)
        except RuleInvalid as exc:
            raise InvalidSetting(f"tenant file {path} is invalid: {exc}") from None
        problems = notify_secret_names(tenant_id, tenant)
        if problems:
            raise InvalidSetting(f"tenant file {path} is invalid: {'; '.join(problems)}")
        return tenant

    @property
    def tenant_id(self) -> str:
        return self._tenant_id

    @property
    def source(self) -> Path | None:
        return self._source

    # The [tenant] table, as every service reads it.
    @property
    def name_zh(self) -> str:
        return self.line.name_zh

    @property
    def name_en(self) -> str:
        return self.line.name_en

    @property
    def number_prefix(self) -> str:
        return self.line.number_prefix

    @property
    def timezone(self) -> str:
        return self.line.timezone

    @property
    def tz(self) -> ZoneInfo:
        """The plant's calendar: order-number days, "today", due dates."""
        return self.line.tz


def tenant_dir() -> Path:
    return Path(os.environ.get("OMS_TENANT_DIR") or DEFAULT_DIR)


@functools.cache
def tenant_file(tenant_id: str) -> Tenant:
    """One tenant's file, read and checked once per process: for what is built without a service
    context (tests, tools); a service reads its tenants from its context (ServiceContext.tenant)."""
    return load_tenants((tenant_id,))[tenant_id]


def load_tenants(ids: tuple[str, ...], directory: Path | None = None) -> dict[str, Tenant]:
    """Every served tenant's file, checked; the first bad one stops start-up (InvalidSetting)."""
    directory = directory or tenant_dir()
    out = {}
    for tenant_id in ids:
        if not _TENANT_ID.match(tenant_id):
            raise InvalidSetting(f"OMS_TENANTS: {tenant_id!r} is not a tenant id (letters, digits, - and _)")
        path = directory / f"{tenant_id}.toml"
        if not path.is_file():
            raise InvalidSetting(
                f"OMS_TENANTS names tenant {tenant_id!r}, which has no file {path} "
                f"(tenant files are read from OMS_TENANT_DIR, default {DEFAULT_DIR})"
            )
        out[tenant_id] = Tenant.from_file(tenant_id, path)
    return out
