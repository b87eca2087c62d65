"""Tenants (business lines) and their configuration, from `tenants/<id>.toml`.

Each service reads the sections it needs; adding a business line is adding a file (README).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "tenants"


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name_zh: str
    name_en: str
    number_prefix: str
    config: dict[str, Any] = field(default_factory=dict)
    timezone: str = "Asia/Shanghai"  # the plant's calendar: order-number days, "today", due dates

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.config.get(name, {}))


def load_tenants(ids: tuple[str, ...], directory: Path | None = None) -> dict[str, Tenant]:
    directory = directory or Path(os.environ.get("OMS_TENANT_DIR", DEFAULT_DIR))
    out = {}
    for tenant_id in ids:
        path = directory / f"{tenant_id}.toml"
        if not path.exists():
            raise FileNotFoundError(f"tenant {tenant_id!r} has no configuration file {path}")
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        t = doc.get("tenant", {})
        out[tenant_id] = Tenant(
            tenant_id=tenant_id,
            name_zh=t.get("name_zh", tenant_id),
            name_en=t.get("name_en", tenant_id),
            number_prefix=t.get("number_prefix", tenant_id[:2].upper()),
            config=doc,
        )
    return out
