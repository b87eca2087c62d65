"""Settings from environment variables, with defaults that run the embedded stack locally."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from services.chassis.housekeeping import Retention

DEV_JWT_SECRET = (
    "zhongshu-dev-secret-change-me-0123456789"  # embedded/dev only; refused when OMS_ENV=production
)
ENVIRONMENTS = ("dev", "production")
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # gRPC listens on [::] for it (IPv4 and IPv6), the metrics server on 0.0.0.0
_ALL = {"0.0.0.0", "::", "[::]", "*"}


class SettingError(RuntimeError):
    """A setting stops start-up; the message names the variable. The launchers print it on one
    line and exit with status 2."""


class MissingSetting(SettingError):
    """A required setting is absent; the message names the variable."""


class InvalidSetting(SettingError):
    """A setting has a value the service cannot run with; the message names the variable."""


class PortUnavailable(SettingError):
    """A server cannot listen where it was told to; the message names the variable."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume it is reachable from elsewhere


def listens_everywhere(host: str) -> bool:
    return host in _ALL


def grpc_address(host: str, port: int) -> str:
    """The address gRPC binds for `host`: all interfaces as [::], IPv6 literals in brackets."""
    if listens_everywhere(host):
        return f"[::]:{port}"
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def http_host(host: str) -> str:
    """The host the metrics HTTP server binds for `host` (all interfaces as 0.0.0.0, IPv4 only,
    as before: an IPv6 wildcard fails where a pod has IPv6 disabled; say "::" to get it)."""
    return ALL_INTERFACES if host in ("0.0.0.0", "[::]", "*") else host.strip("[]")


def connect_host(host: str) -> str:
    """Where a client on this machine reaches a server bound to `host`."""
    if listens_everywhere(host) or host == "localhost":
        return LOOPBACK
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True)
class Settings:
    service: str
    env: str = "dev"
    # Interface the gRPC and metrics servers listen on: loopback in dev (the dev token secret is
    # public), all interfaces in production (pods are reached on their own address).
    bind_host: str = LOOPBACK
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
    # Shutdown (SIGTERM): health answers NOT_SERVING for drain_delay_s while calls are still
    # served (load balancers and clients move away), then new calls are refused and in-flight
    # ones get up to shutdown_grace_s to finish before they are cancelled.
    drain_delay_s: float = 0.0
    shutdown_grace_s: float = 10.0

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

    @property
    def production(self) -> bool:
        return self.env == "production"


PEERS = ("customer", "order", "production", "inventory", "ingest", "notify")


def from_env(service: str, env: dict[str, str] | None = None, **overrides) -> Settings:
    """Read OMS_* variables. In production every secret and address must be given explicitly."""
    e = os.environ if env is None else env
    environment = e.get("OMS_ENV", "") or "dev"
    if environment not in ENVIRONMENTS:
        raise InvalidSetting(f"OMS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    production = environment == "production"

    def get(name: str, default: str | None) -> str:
        value = e.get(name)
        if value is None or value == "":
            if default is None:
                raise MissingSetting(f"{name} is required (OMS_ENV=production has no defaults for it)")
            return default
        return value

    def number(name: str, default: str, kind: type[int] | type[float] = int, low: float = 0) -> int | float:
        text = get(name, default)
        try:
            value = kind(text)
        except ValueError:
            raise InvalidSetting(f"{name} must be a number, not {text!r}") from None
        if value < low:
            raise InvalidSetting(f"{name} must be at least {low}, not {text!r}")
        return value

    def port(name: str, default: str) -> int:
        value = number(name, default)
        if value > 65535:
            raise InvalidSetting(f"{name} must be a port number (0-65535), not {value}")
        return value

    peers = {p: e[f"OMS_{p.upper()}_ADDR"] for p in PEERS if e.get(f"OMS_{p.upper()}_ADDR")}
    values = dict(
        service=service,
        env=environment,
        bind_host=get("OMS_BIND_HOST", ALL_INTERFACES if production else LOOPBACK).strip(),
        grpc_port=port("OMS_GRPC_PORT", "50050"),
        grpc_workers=number("OMS_GRPC_WORKERS", "0"),
        metrics_port=port("OMS_METRICS_PORT", "0"),
        db_url=get("OMS_DB_URL", None if production else ""),
        amqp_url=get("OMS_AMQP_URL", None if production else ""),
        jwt_secret=get("OMS_JWT_SECRET", None if production else DEV_JWT_SECRET),
        tenants=tuple(t.strip() for t in get("OMS_TENANTS", "hardware,autoparts").split(",") if t.strip()),
        peers=peers,
        data_dir=get("OMS_DATA_DIR", "var"),
        log_level=get("OMS_LOG_LEVEL", "INFO"),
        relay_interval_s=number("OMS_RELAY_INTERVAL_S", "0.2", float),
        release=get("OMS_RELEASE", ""),
        retention=Retention(
            outbox_days=number("OMS_OUTBOX_RETENTION_DAYS", "7", float),
            inbox_days=number("OMS_INBOX_RETENTION_DAYS", "30", float),
        ),
        # In Kubernetes, endpoints are removed while the pod is already terminating: keep serving
        # a few seconds. A desk has no load balancer to wait for.
        drain_delay_s=number("OMS_DRAIN_DELAY_S", "5" if production else "0", float),
        shutdown_grace_s=number("OMS_SHUTDOWN_GRACE_S", "10", float),
    )
    values.update(overrides)
    settings = Settings(**values)
    check_exposure(settings)
    check_release_isolation(settings)
    return settings


def amqp_vhost(url: str) -> str:
    """The vhost an AMQP URL names ("/" when it names none, as RabbitMQ reads it)."""
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def check_release_isolation(settings: Settings) -> None:
    """Exchanges are per vhost: releases sharing one would each receive every other business
    line's events. A tenant release in production has a vhost of its own."""
    shared = settings.amqp_url and amqp_vhost(settings.amqp_url) == "/"
    if settings.env == "production" and settings.release and shared:
        raise InvalidSetting(
            f"OMS_AMQP_URL names RabbitMQ's default vhost, which every release on the broker "
            f"shares: give release {settings.release!r} (OMS_RELEASE) a vhost of its own, "
            f"e.g. amqp://user:password@host:5672/oms-{settings.release}"
        )


def check_exposure(settings: Settings) -> None:
    """Anyone who can reach the port can mint tokens with the public dev secret: with it, listen
    on this machine only."""
    if settings.jwt_secret == DEV_JWT_SECRET and not is_loopback(settings.bind_host):
        raise InvalidSetting(
            f"OMS_BIND_HOST={settings.bind_host} would let other machines call this service while "
            "OMS_JWT_SECRET is the public dev secret (anyone can sign tokens with it): set "
            "OMS_JWT_SECRET to a secret of your own, or listen on 127.0.0.1"
        )
