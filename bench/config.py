"""How much each case does: the full run (`make bench`) and the quick run (`make bench-quick`, CI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    quick: bool
    warmup: int
    read_calls: int  # GetOrder calls per variant
    callers: int  # concurrent callers for the concurrent read variant
    write_calls: int  # CreateOrder calls per database
    relay_events: int
    relay_batch: int
    flow_orders: int  # approvals per mode
    flow_rate: float  # approvals per second offered
    scale_small: int  # orders in PostgreSQL for the small scale point
    scale_large: int
    scale_queries: int


FULL = Config(
    quick=False,
    warmup=200,
    read_calls=3000,
    callers=16,
    write_calls=1000,
    relay_events=20_000,
    relay_batch=500,
    flow_orders=500,
    flow_rate=50.0,
    scale_small=10_000,
    scale_large=1_000_000,
    scale_queries=300,
)

# Small counts: proves every case still runs end to end; its figures mean little.
QUICK = Config(
    quick=True,
    warmup=20,
    read_calls=200,
    callers=16,
    write_calls=60,
    relay_events=2_000,
    relay_batch=500,
    flow_orders=40,
    flow_rate=50.0,
    scale_small=10_000,  # the smallest book that fills two pages of the query
    scale_large=50_000,
    scale_queries=50,
)
