"""Prometheus metrics shared by every service (labelled by service, so the embedded stack can
host all six in one registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_HANDLED = Counter("oms_grpc_server_handled_total", "gRPC calls completed", ["service", "method", "code"])
RPC_LATENCY = Histogram(
    "oms_grpc_server_handling_seconds",
    "gRPC call latency",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_PUBLISHED = Counter("oms_outbox_published_total", "Events relayed from the outbox", ["service"])
OUTBOX_RELAY_ERRORS = Counter("oms_outbox_relay_errors_total", "Failed relay attempts", ["service"])
OUTBOX_UNROUTED = Counter(
    "oms_outbox_unrouted_total", "Events the broker could route to no queue", ["exchange", "event_type"]
)
OUTBOX_LAG = Gauge(
    "oms_outbox_oldest_unpublished_seconds",
    "Age of the oldest event waiting in the outbox (read from the database at scrape time)",
    ["service"],
)
OUTBOX_PARKED = Counter(
    "oms_outbox_parked_total", "Events set aside after the broker refused them repeatedly", ["service"]
)
OUTBOX_PARKED_NOW = Gauge(
    "oms_outbox_parked_events", "Parked events waiting for a person (read at scrape time)", ["service"]
)
EVENTS_CONSUMED = Counter(
    "oms_events_consumed_total",
    "Events handled by consumers, by outcome (ok, duplicate, retry, dead_letter)",
    ["consumer", "event_type", "outcome"],
)


def serve_metrics(port: int, host: str | None = None) -> None:
    """/metrics on host:port (0 = off). `host` is the settings' bind host (None = all interfaces,
    for callers that have not said). A busy port stops start-up naming OMS_METRICS_PORT."""
    if not port:
        return
    from services.chassis.settings import PortUnavailable, http_host

    addr = http_host(host) if host is not None else "0.0.0.0"
    try:
        start_http_server(port, addr=addr)
    except OSError as exc:
        raise PortUnavailable(
            f"cannot serve metrics on {addr}:{port} (OMS_METRICS_PORT={port}, OMS_BIND_HOST={host}): "
            f"{exc.strerror or exc}"
        ) from None
