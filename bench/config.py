"""How much each case does: the full run (`make bench`) and the quick run (`make bench-quick`, CI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    quick: bool
    warmup: int
    read_calls: int  # GetOrder calls per variant
    callers: int  # concurrent callers sharing one channel (the older concurrent read variant)
    own_callers: int  # concurrent callers, each with its own channel
    write_calls: int  # CreateOrder calls per database and client count
    write_clients: tuple[int, ...]  # concurrent CreateOrder clients, each with its own channel
    relay_events: int
    relay_batch: int
    flow_orders: int  # approvals per mode
    flow_rate: float  # approvals per second offered
    ramp_rates: tuple[float, ...]  # orders per second offered, step by step, until p99 >= 1 s
    ramp_orders: int  # orders created and approved per step
    ramp_budget_s: float  # no step starts after this long
    replica_calls: int  # CreateOrder calls (8 clients) against 1 and against 2 order processes
    scale_small: int  # orders in PostgreSQL for the small scale point
    scale_large: int
    scale_queries: int
    reservation_calls: int = 2000  # ReserveMaterials on one hot material (and as many bare UPDATEs)
    reservation_threads: int = 8
    board_work_orders: int = 100_000  # open work orders (and as many shipped) for GetBoard
    board_calls: int = 500


FULL = Config(
    quick=False,
    warmup=200,
    read_calls=3000,
    callers=16,
    own_callers=8,
    write_calls=1000,
    write_clients=(1, 8, 32),
    relay_events=20_000,
    relay_batch=500,
    flow_orders=500,
    flow_rate=50.0,
    ramp_rates=(50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0),
    ramp_orders=1000,
    ramp_budget_s=150.0,
    replica_calls=1000,
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
    own_callers=8,
    write_calls=60,
    write_clients=(1, 8, 32),
    relay_events=2_000,
    relay_batch=500,
    flow_orders=40,
    flow_rate=50.0,
    ramp_rates=(50.0, 100.0),
    ramp_orders=40,
    ramp_budget_s=30.0,
    replica_calls=60,
    scale_small=10_000,  # the smallest book that fills two pages of the query
    scale_large=50_000,
    scale_queries=50,
    reservation_calls=100,
    board_calls=50,
)
