"""Case 2: a write RPC, CreateOrder (validation, domain, the order and its outbox row in one
transaction), on SQLite (embedded) and PostgreSQL (distributed), against the floor of a bare
SQLAlchemy Core insert of the same rows in one transaction per order."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from bench.api import Api, order_request
from bench.config import Config
from bench.measure import Sample, peak_rss_kb, reset_peak_rss, run_sequential
from bench.report import Report, Row, compare
from bench.stacks import Environment, fresh_database
from bench.worker import run_job
from services.chassis.db import make_engine
from services.order.adapters.tables import metadata, order_lines, orders


def chassis_creates(api: Api, pid: int, count: int, warmup: int) -> Sample:
    customer = api.a_customer_id()
    requests = iter([order_request(customer) for _ in range(count + warmup)])
    reset_peak_rss(pid)
    sample = run_sequential(lambda: api.orders.CreateOrder(next(requests), metadata=api.md), count, warmup)
    sample.peak_rss_kb = peak_rss_kb(pid)
    return sample


def run(env: Environment, cfg: Config, report: Report) -> None:
    count, warmup = cfg.write_calls, min(cfg.warmup, 50)

    sqlite_url = f"sqlite:///{env.work_dir / 'bare-insert.db'}"
    base = Row.of(
        "write.bare-insert.sqlite", Sample.from_json(run_job("bare-insert", _args(sqlite_url, cfg)))
    )
    stack = env.embedded()
    api = Api(stack.addresses())
    try:
        mine = Row.of("write.CreateOrder.sqlite", chassis_creates(api, stack.pid, count, warmup))
    finally:
        api.close()
    report.add(base, compare(mine, base))

    with fresh_database("insert") as pg_url:
        base = Row.of("write.bare-insert.pg", Sample.from_json(run_job("bare-insert", _args(pg_url, cfg))))
    dist = env.distributed()
    api = Api(dist.addresses())
    try:
        mine = Row.of("write.CreateOrder.pg", chassis_creates(api, dist.pid("order"), count, warmup))
    finally:
        api.close()
    report.add(base, compare(mine, base))
    report.notes.append(
        "write: bare-insert = orders row + 2 order_lines + 1 outbox row via SQLAlchemy Core, one "
        "transaction per order, same engine settings; CreateOrder also asks the customer service "
        "(GetCustomer) and takes an order number"
    )


def _args(url: str, cfg: Config) -> dict:
    return {"url": url, "count": cfg.write_calls, "warmup": min(cfg.warmup, 50)}


def bare_insert_job(args: dict) -> dict:
    """Worker: insert `count` orders with SQLAlchemy Core only (runs in its own process)."""
    engine = make_engine(args["url"])
    metadata.create_all(engine)
    outbox = metadata.tables["outbox"]
    customer = str(uuid.uuid4())
    due = date.today() + timedelta(days=21)
    n = 0

    def one() -> None:
        nonlocal n
        n += 1
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
    sample = run_sequential(one, args["count"], args["warmup"])
    engine.dispose()
    doc = sample.to_json()
    doc["setup_s"] = time.perf_counter() - started - sample.seconds
    return doc
