"""What ingest tells Prometheus: every record by channel and what became of it, and each shop's
pulls. An operator alerts on a shop failing for an hour or the review queue growing."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from services.ingest.domain.report import COUNTERS, RunCounts

RECORDS = Counter(
    "oms_ingest_records_total",
    "Incoming records by channel (marketplace, upload, form) and outcome (report.py's counters)",
    ["tenant", "source", "outcome"],
)
PULLS = Histogram(
    "oms_ingest_pull_seconds",
    "Marketplace pulls per shop by result (ok, rate_limited, refused, unreachable, failed)",
    ["tenant", "shop", "platform", "result"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


def count(tenant: str, source: str, counts: RunCounts) -> None:
    for outcome in COUNTERS:
        if outcome != "received" and (n := getattr(counts, outcome)):
            RECORDS.labels(tenant, source, outcome).inc(n)
