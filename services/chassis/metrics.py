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
OUTBOX_LAG = Gauge("oms_outbox_oldest_unpublished_seconds", "Age of the oldest unrelayed event", ["service"])
EVENTS_CONSUMED = Counter(
    "oms_events_consumed_total",
    "Events handled by consumers, by outcome (ok, duplicate, retry, dead_letter)",
    ["consumer", "event_type", "outcome"],
)


def serve_metrics(port: int) -> None:
    if port:
        start_http_server(port)
