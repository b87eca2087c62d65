"""Case 5: list orders, one keyset page of 50, with a small and a large order book in PostgreSQL
(loaded with COPY): by state and due window (the board), and one customer's orders (a key
account's sales screen, and what its portal accounts list). An index-backed query costs about the
same at both sizes; a scan would grow with the table.

The book is realistic for a plant: two tenants (70/30), 5% of orders awaiting approval, due dates
spread over two years around today, one line per order, 500 customers of which one key account
places a tenth of the orders.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
from sqlalchemy import create_engine

from bench.config import Config
from bench.measure import Sample, run_sequential
from bench.report import Report, Row, compare
from bench.stacks import Environment, fresh_database
from bench.worker import run_job
from services.chassis.migrations import upgrade

PENDING = "ORDER_STATE_PENDING_APPROVAL"
KEY_ACCOUNT = "00000000-0000-4000-8000-000000000000"  # customer 0: a tenth of the book
WINDOW_DAYS = 365  # wide enough that even the small book fills several pages


def window() -> tuple[date, date]:
    today = date.today()
    return today, today + timedelta(days=WINDOW_DAYS)


def migrate(url: str) -> None:
    from services.order.app import definition

    engine = create_engine(url)
    upgrade(definition.migrations_dir, engine)
    engine.dispose()


def load(url: str, start: int, stop: int, seed: int = 7) -> float:
    """COPY orders start..stop-1 (and one line each) in one transaction, then ANALYZE; returns seconds."""
    rng = random.Random(seed + start)
    today = date.today()
    created = datetime.now(UTC)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(start, stop)]
        with conn.cursor() as cur:
            with cur.copy(
                "COPY orders (order_id, tenant_id, order_no, customer_id, channel, priority, state, "
                "due_date, version, created_by, created_at, approved_by) FROM STDIN"
            ) as copy:
                for i, order_id in zip(range(start, stop), ids, strict=True):
                    tenant = "hardware" if rng.random() < 0.7 else "autoparts"
                    pending = rng.random() < 0.05
                    copy.write_row(
                        (
                            order_id,
                            tenant,
                            f"{'HW' if tenant == 'hardware' else 'AP'}-{i:09d}",
                            KEY_ACCOUNT if rng.random() < 0.1 else f"00000000-0000-4000-8000-{i % 500:012d}",
                            rng.choice(("CHANNEL_DIRECT", "CHANNEL_AGENT", "CHANNEL_MARKETPLACE")),
                            "PRIORITY_HIGH" if rng.random() < 0.1 else "PRIORITY_NORMAL",
                            PENDING if pending else "ORDER_STATE_APPROVED",
                            today + timedelta(days=rng.randint(-365, 365)),
                            1 if pending else 2,
                            "陈丽",
                            created,
                            "" if pending else "王建国",
                        )
                    )
            with cur.copy(
                "COPY order_lines (order_id, tenant_id, line_no, product_model, quantity, colour, "
                "surface_treatment, workshop, unit_price_fen) FROM STDIN"
            ) as copy:
                for order_id in ids:
                    copy.write_row(
                        (order_id, "hardware", 0, "HB-2040 铰链 hinge", 5000, "银色 silver", "电镀 plating",
                         "stamping-1", 85)
                    )  # fmt: skip
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE orders")
        conn.execute("ANALYZE order_lines")
    return time.perf_counter() - started


def plan(url: str, kind: str = "state") -> str:
    """The planner's choice for the page query: proves (or disproves) that an index serves it."""
    due_from, due_to = window()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    where, params = (
        ("state = %s AND due_date >= %s AND due_date <= %s", (PENDING, due_from, due_to))
        if kind == "state"
        else ("customer_id = %s", (KEY_ACCOUNT,))
    )
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"EXPLAIN SELECT * FROM orders WHERE tenant_id = 'hardware' AND {where} "
            "ORDER BY due_date, order_id LIMIT 51",
            params,
        ).fetchall()
    return " / ".join(r[0].strip() for r in rows[:2])


def run(env: Environment, cfg: Config, report: Report) -> None:
    with fresh_database("scale") as url:
        migrate(url)
        rows: dict[str, list[Row]] = {"state": [], "customer": []}
        loaded = 0
        for size in (cfg.scale_small, cfg.scale_large):
            load_s = load(url, loaded, size)
            loaded = size
            for kind, found in rows.items():
                args = {"url": url, "count": cfg.scale_queries, "kind": kind}
                sample = Sample.from_json(run_job("scale-query", args))
                name = "ListOrders" if kind == "state" else "ListOrders.customer"
                row = Row.of(f"scale.{name}.{_label(size)}", sample)
                row.note = f"loaded in {load_s:.0f}s; plan: {plan(url, kind)}"
                found.append(row)
    for kind, (small, large) in rows.items():
        report.add(small, compare(large, small, of="p50", aim="<= 2"))
        what = (
            f"state = pending approval, {WINDOW_DAYS}-day due window"
            if kind == "state"
            else "one key account's orders (a tenth of the book), no other filter"
        )
        report.notes.append(
            f"scale: OrderRepository.list ({what}, page of 50, first and second keyset page "
            "alternately, lines hydrated) on PostgreSQL; ratio = p50 large / p50 small. Plans: "
            f"{small.case}: {small.note}; {large.case}: {large.note}"
        )


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def query_job(args: dict) -> dict:
    """Worker: time the repository's keyset page query, as the order service runs it."""
    from services.chassis.db import make_engine
    from services.chassis.identity import Identity, acting_as
    from services.chassis.runtime import unit_of_work_factory
    from services.order.app import definition
    from services.order.domain.model import OrderState

    engine = make_engine(args["url"])
    uow = unit_of_work_factory(definition, engine)
    due_from, due_to = window()

    by_customer = args.get("kind") == "customer"

    def page(token: str) -> tuple[list, str]:
        with uow(read_only=True) as tx:
            if by_customer:
                return tx.orders.list(
                    state=None,
                    due_from=None,
                    due_to=None,
                    page_size=50,
                    page_token=token,
                    customer_id=KEY_ACCOUNT,
                )
            return tx.orders.list(
                state=OrderState.PENDING_APPROVAL,
                due_from=due_from,
                due_to=due_to,
                page_size=50,
                page_token=token,
            )

    with acting_as(Identity("hardware", "bench", frozenset({"admin"}))):
        first, token = page("")
        second, _ = page(token)
        if len(first) != 50 or len(second) != 50:
            raise AssertionError(f"pages of {len(first)} and {len(second)} orders, expected 50")
        tokens = ["", token]
        n = 0

        def one() -> None:
            nonlocal n
            page(tokens[n % 2])
            n += 1

        sample = run_sequential(one, args["count"], warmup=20)
    engine.dispose()
    return sample.to_json()
