"""Case 2: a write RPC, CreateOrder (validation, customer check, order number, the order and its
outbox row in one transaction), on SQLite (embedded) and PostgreSQL (distributed), with 1, 8 and 32
concurrent clients (each its own channel), against the floor of a bare SQLAlchemy Core insert of
the same rows in one transaction per order (run in a process of its own: 1 thread, and 8 on
PostgreSQL). During the 8-client PostgreSQL run it also measures the CPU one create costs the order
service's process and its PostgreSQL backends."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from bench.api import Api, PerThreadChannel, metadata, order_request
from bench.config import Config
from bench.measure import CpuMeter, Sample, peak_rss_kb, process_tree, reset_peak_rss, run_concurrent
from bench.report import Report, Row, compare, spread
from bench.stacks import Environment, fresh_database
from bench.worker import run_job
from oms.order.v1 import order_pb2_grpc
from services.chassis.db import make_engine
from services.order.adapters.tables import metadata as tables
from services.order.adapters.tables import order_lines, orders

AIM_PG_8X = ">= 0.6"  # CreateOrder on PostgreSQL, 8 clients, against the bare insert with 8 threads
AIM_SPREAD_32X = 5.0  # embedded, 32 clients: p99 <= 5 x p50
AIM_CPU_MS = 2.5  # order process + its PostgreSQL backends, per create


def creates(
    addresses: dict[str, str],
    pid: int,
    count: int,
    clients: int,
    warmup: int,
    meters: tuple[CpuMeter, ...] = (),
) -> Sample:
    """`count` CreateOrder calls from `clients` threads, each with a channel of its own; `meters`
    run over the measured calls only."""
    api = Api(addresses)
    customer = api.a_customer_id()
    api.close()
    md = metadata()
    requests = iter([order_request(customer) for _ in range(count + warmup)])
    stubs = PerThreadChannel(addresses["order"], order_pb2_grpc.OrderServiceStub)

    def create() -> None:
        stubs.get().CreateOrder(next(requests), metadata=md)

    try:
        run_concurrent(create, warmup, max(1, min(clients, warmup)))
        reset_peak_rss(pid)
        with contextlib.ExitStack() as measuring:
            for meter in meters:
                measuring.enter_context(meter)
            sample = run_concurrent(create, count, clients, setup=stubs.get)
    finally:
        stubs.close()
    sample.peak_rss_kb = peak_rss_kb(pid)
    return sample


def bare_insert(url: str, cfg: Config, threads: int, label: str) -> Row:
    args = {"url": url, "count": cfg.write_calls, "warmup": min(cfg.warmup, 50), "threads": threads}
    return Row.of(f"write.bare-insert.{label}.{threads}x", Sample.from_json(run_job("bare-insert", args)))


def run(env: Environment, cfg: Config, report: Report) -> None:
    count, warmup = cfg.write_calls, min(cfg.warmup, 50)

    base = bare_insert(f"sqlite:///{env.work_dir / 'bare-insert.db'}", cfg, 1, "sqlite")
    report.add(base)
    stack = env.embedded()
    for clients in cfg.write_clients:
        mine = Row.of(
            f"write.CreateOrder.sqlite.{clients}x",
            creates(stack.addresses(), stack.pid, count, clients, warmup),
        )
        report.add(spread(mine, AIM_SPREAD_32X) if clients == 32 else compare(mine, base))

    with fresh_database("insert") as pg_url:
        base1 = bare_insert(pg_url, cfg, 1, "pg")
    with fresh_database("insert8") as pg_url:
        base8 = bare_insert(pg_url, cfg, 8, "pg")
    report.add(base1, base8)
    dist = env.distributed()
    order_pid = dist.pid("order")
    for clients in cfg.write_clients:
        cpu = CpuMeter(process_tree(order_pid))
        pg = CpuMeter(lambda: dist.backend_pids("order"))
        sample = creates(dist.addresses(), order_pid, count, clients, warmup, (cpu, pg))
        mine = Row.of(f"write.CreateOrder.pg.{clients}x", sample)
        if clients == 1:
            report.add(compare(mine, base1))
            continue
        report.add(compare(mine, base8, aim=AIM_PG_8X if clients == 8 else ""))
        if clients == 8:
            ms = (cpu.seconds + pg.seconds) * 1000 / count
            report.notes.append(
                f"write: CPU per create, PostgreSQL, 8 clients: {ms:.2f} ms "
                f"(aim <= {AIM_CPU_MS} ms: {'met' if ms <= AIM_CPU_MS else 'MISSED'}) = order process "
                f"{cpu.seconds * 1000 / count:.2f} ms + its PostgreSQL backends "
                f"{pg.seconds * 1000 / count:.2f} ms: utime+stime from /proc/<pid>/stat over the "
                f"{count} measured creates (warm-up outside), counting the {pg.counted} backends of "
                f"{dist.database('order')} alive at start and at end ({pg.left_out} seen at one end "
                "only, left out)"
            )
    report.notes.append(
        "write: bare-insert = orders row + 2 order_lines + 1 outbox row via SQLAlchemy Core, one "
        "transaction per order, same engine settings, order numbers from an in-process counter, "
        "in a process of its own (Nx = N threads); CreateOrder Nx = N client threads, each its own "
        "channel and connection; it also asks the customer service (GetCustomer) and takes an "
        "order number. Nx rows compare with the bare insert of as many threads (32x on PostgreSQL "
        "with 8 threads; SQLite rows with 1 thread: SQLite takes one writer at a time); SQLite 32x "
        "is judged by its own p99 / p50"
    )


def bare_insert_job(args: dict) -> dict:
    """Worker: insert `count` orders with SQLAlchemy Core only (runs in its own process)."""
    engine = make_engine(args["url"])
    tables.create_all(engine)
    outbox = tables.tables["outbox"]
    customer = str(uuid.uuid4())
    due = date.today() + timedelta(days=21)
    numbers = itertools.count(1)

    def one() -> None:
        n = next(numbers)
        order_id, now = str(uuid.uuid4()), datetime.now(UTC)
        event_id = str(uuid.uuid4())
        body = {
            "event_id": event_id,
            "event_type": "order_created",
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": now.isoformat(),
            "data": {"order_id": order_id, "order_no": f"HW-{n:08d}", "customer_id": customer},
        }
        with engine.begin() as conn:
            conn.execute(
                insert(orders).values(
                    order_id=order_id,
                    tenant_id="hardware",
                    order_no=f"HW-{n:08d}",
                    customer_id=customer,
                    channel="CHANNEL_DIRECT",
                    priority="PRIORITY_NORMAL",
                    state="ORDER_STATE_PENDING_APPROVAL",
                    due_date=due,
                    version=1,
                    created_by="陈丽",
                    created_at=now,
                    approved_by="",
                    request_id=str(uuid.uuid4()),
                )
            )
            conn.execute(
                insert(order_lines),
                [
                    dict(
                        order_id=order_id,
                        tenant_id="hardware",
                        line_no=i,
                        product_model=model,
                        quantity=100,
                        colour="",
                        surface_treatment="",
                        workshop=shop,
                        unit_price_fen=85,
                    )
                    for i, (model, shop) in enumerate((("HB-2040", "stamping-1"), ("BK-310", "assembly")))
                ],
            )
            conn.execute(
                insert(outbox).values(
                    event_id=event_id,
                    tenant_id="hardware",
                    exchange="order.events",
                    event_type="order_created",
                    body=json.dumps(body, ensure_ascii=False),
                    headers=json.dumps({"tenant_id": "hardware", "event_type": "order_created"}),
                    created_at=now,
                )
            )

    started = time.perf_counter()
    threads = args.get("threads", 1)
    run_concurrent(one, args["warmup"], threads)
    sample = run_concurrent(one, args["count"], threads)
    engine.dispose()
    doc = sample.to_json()
    doc["setup_s"] = time.perf_counter() - started - sample.seconds
    return doc
