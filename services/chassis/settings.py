"""Settings from environment variables, with defaults that run the embedded stack locally."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from services.chassis.housekeeping import Retention

DEV_JWT_SECRET = (
    "zhongshu-dev-secret-change-me-0123456789"  # embedded/dev only; refused when OMS_ENV=production
)


class MissingSetting(RuntimeError):
    """A required setting is absent; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    service: str
    env: str = "dev"
    grpc_port: int = 50050
    # Worker threads; 0 = the launcher's default. Handlers are mostly Python (GIL-bound): a few
    # threads per core serve more calls per second than many, which only contend for the GIL.
    grpc_workers: int = 0
    metrics_port: int = 0  # 0 = no metrics HTTP server (embedded tests); /metrics otherwise
    db_url: str = ""
    amqp_url: str = ""  # empty = in-process bus
    jwt_secret: str = DEV_JWT_SECRET
    tenants: tuple[str, ...] = ("hardware", "autoparts")
    peers: dict[str, str] = field(default_factory=dict)
    data_dir: str = "var"
    log_level: str = "INFO"
    relay_interval_s: float = 0.2
    release: str = ""  # names this deployment's queues when several releases share one broker
    retention: Retention = field(default_factory=Retention)

    def peer(self, name: str) -> str:
        try:
            return self.peers[name]
        except KeyError:
            raise MissingSetting(
                f"OMS_{name.upper()}_ADDR is required: address of the {name} service"
            ) from None

    @property
    def sqlalchemy_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir}/{self.service}.db"


PEERS = ("customer", "order", "production", "inventory", "ingest", "notify")


def from_env(service: str, env: dict[str, str] | None = None, **overrides) -> Settings:
    """Read OMS_* variables. In production every secret and address must be given explicitly."""
    e = os.environ if env is None else env
    production = e.get("OMS_ENV", "dev") == "production"

    def get(name: str, default: str | None) -> str:
        value = e.get(name)
        if value is None or value == "":
            if default is None:
                raise MissingSetting(f"{name} is required (OMS_ENV=production has no defaults for it)")
            return default
        return value

    peers = {p: e[f"OMS_{p.upper()}_ADDR"] for p in PEERS if e.get(f"OMS_{p.upper()}_ADDR")}
    values = dict(
        service=service,
        env=e.get("OMS_ENV", "dev"),
        grpc_port=int(get("OMS_GRPC_PORT", "50050")),
        grpc_workers=int(get("OMS_GRPC_WORKERS", "0")),
        metrics_port=int(get("OMS_METRICS_PORT", "0")),
        db_url=get("OMS_DB_URL", None if production else ""),
        amqp_url=get("OMS_AMQP_URL", None if production else ""),
        jwt_secret=get("OMS_JWT_SECRET", None if production else DEV_JWT_SECRET),
        tenants=tuple(t.strip() for t in get("OMS_TENANTS", "hardware,autoparts").split(",") if t.strip()),
        peers=peers,
        data_dir=get("OMS_DATA_DIR", "var"),
        log_level=get("OMS_LOG_LEVEL", "INFO"),
        relay_interval_s=float(get("OMS_RELAY_INTERVAL_S", "0.2")),
        release=get("OMS_RELEASE", ""),
        retention=Retention(
            outbox_days=float(get("OMS_OUTBOX_RETENTION_DAYS", "7")),
            inbox_days=float(get("OMS_INBOX_RETENTION_DAYS", "30")),
        ),
    )
    values.update(overrides)
    return Settings(**values)
