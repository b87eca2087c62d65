"""Case: the shop-floor board (GetBoard) at 100k open work orders in PostgreSQL, through gRPC (token
check, validation, the production service's handler, four queries), against its own counting
query alone in the same run: `SELECT workshop, stage, count(*) … GROUP BY` over the tenant's open
work orders, straight from psycopg.

A second baseline shows what the partial index saves: the same GROUP BY over all the tenant's
work orders, shipped ones included.

The book: two tenants (70/30), 100k open work orders over their workshops and the four open
stages, as many shipped ones again (history the board must not pay for), due dates from 30 days ago to 60
ahead, so a third of the unfinished work is overdue and the lists are always full. Loaded with
COPY, then VACUUM ANALYZE (what autovacuum does to a real table), so the board's partial indexes
answer with index-only scans: the plans are shown in the notes.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import grpc
import psycopg
from sqlalchemy import create_engine

from bench.api import metadata
from bench.config import Config
from bench.measure import Sample, peak_rss_kb, reset_peak_rss, run_sequential
from bench.report import Report, Row, compare
from bench.stacks import ROOT, Environment, free_port, fresh_database, python_env, wait_serving
from oms.production.v1 import production_pb2, production_pb2_grpc
from services.chassis.migrations import upgrade
from services.production.adapters.tables import OPEN_WORK, UNFINISHED_WORK

AIM = "<= 3"  # p50 of GetBoard (4 queries + gRPC + auth) within 3x its own counting query alone
WORKSHOPS = {"hardware": ("stamping-1", "plating", "assembly"), "autoparts": ("stamping-2", "welding")}
OPEN_STAGES = (
    ("STAGE_TO_SCHEDULE", 0.40),
    ("STAGE_IN_PROCESS", 0.35),
    ("STAGE_QC_PASSED", 0.15),
    ("STAGE_READY_TO_SHIP", 0.10),
)
BARE = "SELECT workshop, stage, count(*) FROM work_orders WHERE tenant_id = %s GROUP BY workshop, stage"
BARE_OPEN = (  # the board's own counting query alone, on its partial index
    f"SELECT workshop, stage, count(*) FROM work_orders WHERE tenant_id = %s AND {OPEN_WORK} "
    "GROUP BY workshop, stage"
)


def migrate(url: str) -> None:
    from services.production.app import definition

    engine = create_engine(url)
    upgrade(definition.migrations_dir, engine)
    engine.dispose()


def load(url: str, open_count: int, seed: int = 11) -> float:
    """COPY `open_count` open and as many shipped work orders; VACUUM ANALYZE; returns seconds."""
    rng = random.Random(seed)
    today = date.today()
    created = datetime.now(UTC)
    stages = [s for s, _ in OPEN_STAGES]
    weights = [w for _, w in OPEN_STAGES]
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY work_orders (work_order_id, tenant_id, work_order_no, order_id, order_no, workshop, "
                "stage, due_date, created_at) FROM STDIN"
            ) as copy,
        ):
            for i in range(2 * open_count):
                tenant = "hardware" if rng.random() < 0.7 else "autoparts"
                shipped = i >= open_count
                order_no = f"{'HW' if tenant == 'hardware' else 'AP'}-{i:09d}"
                copy.write_row(
                    (
                        str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        tenant,
                        f"WO-{order_no}-01",
                        str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        order_no,
                        rng.choice(WORKSHOPS[tenant]),
                        "STAGE_SHIPPED" if shipped else rng.choices(stages, weights)[0],
                        today + timedelta(days=rng.randint(-120, -30) if shipped else rng.randint(-30, 60)),
                        created,
                    )
                )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE work_orders")
    return time.perf_counter() - started


def plans(url: str) -> str:
    """The planner's choice for the board's counts and its overdue list, as the service runs them."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    today = date.today()
    queries = {
        "counts": (
            f"SELECT workshop, stage, count(*) FROM work_orders WHERE tenant_id = %s AND {OPEN_WORK} "
            "GROUP BY workshop, stage",
            ("hardware",),
        ),
        "overdue": (
            "SELECT work_order_no FROM work_orders WHERE tenant_id = %s AND due_date < %s "
            f"AND {UNFINISHED_WORK} ORDER BY due_date, work_order_no LIMIT 50",
            ("hardware", today),
        ),
        "totals": (
            "SELECT count(*) FILTER (WHERE due_date < %s), count(*) FILTER (WHERE due_date >= %s) "
            f"FROM work_orders WHERE tenant_id = %s AND due_date <= %s AND {UNFINISHED_WORK}",
            (today, today, "hardware", today + timedelta(days=1)),
        ),
    }
    out = []
    with psycopg.connect(dsn) as conn:
        for name, (sql, params) in queries.items():
            rows = conn.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params).fetchall()
            scans = [r[0].strip() for r in rows if "Scan" in r[0]]
            took = next((r[0].strip() for r in rows if r[0].startswith("Execution Time")), "")
            out.append(f"{name}: {'; '.join(scans)} ({took})")
    return " / ".join(out)


class ProductionProcess:
    """`python -m services.production serve` on the loaded database, its own process."""

    def __init__(self, url: str):
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        env = python_env(
            OMS_DB_URL=url,
            OMS_GRPC_PORT=str(port),
            OMS_LOG_LEVEL="WARNING",
            OMS_MIGRATE_ON_START="0",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.production", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_serving(self.address, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run(env: Environment, cfg: Config, report: Report) -> None:
    with fresh_database("board") as url:
        migrate(url)
        load_s = load(url, cfg.board_work_orders)
        shown = plans(url)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        server = ProductionProcess(url)
        channel = grpc.insecure_channel(server.address)
        try:
            stub = production_pb2_grpc.ProductionServiceStub(channel)
            md = metadata("hardware", ("planner",))
            request = production_pb2.GetBoardRequest()
            first = stub.GetBoard(request, metadata=md)
            if first.overdue_total == 0 or len(first.overdue) != 50 or not first.cells:
                raise AssertionError(
                    f"the board came back thin: {first.overdue_total} overdue, {len(first.cells)} cells"
                )
            with psycopg.connect(dsn, autocommit=True) as conn:
                naive = Row.of(
                    "board.bare-group-by-all",
                    run_sequential(
                        lambda: conn.execute(BARE, ("hardware",)).fetchall(), cfg.board_calls, cfg.warmup
                    ),
                )
                base = Row.of(
                    "board.bare-group-by-open",
                    run_sequential(
                        lambda: conn.execute(BARE_OPEN, ("hardware",)).fetchall(), cfg.board_calls, cfg.warmup
                    ),
                )
            reset_peak_rss(server.proc.pid)
            sample: Sample = run_sequential(
                lambda: stub.GetBoard(request, metadata=md), cfg.board_calls, cfg.warmup
            )
            sample.peak_rss_kb = peak_rss_kb(server.proc.pid)
            mine = Row.of(f"board.GetBoard.{cfg.board_work_orders // 1000}k", sample)
            report.add(naive, base, compare(mine, base, of="p50", aim=AIM))
            report.notes.append(
                f"board: {cfg.board_work_orders:,} open + {cfg.board_work_orders:,} shipped work orders "
                f"in PostgreSQL (loaded in {load_s:.0f}s, VACUUM ANALYZE), tenant hardware "
                f"({first.overdue_total:,} overdue, {first.at_risk_total:,} at risk); GetBoard = counts "
                "per workshop x stage + overdue and at-risk lists (50 each) with totals, through gRPC; "
                "baseline = the board's counting query alone (GROUP BY on the partial index) from psycopg, "
                "ratio = p50 / p50; bare-group-by-all = the same GROUP BY over all the tenant's work "
                f"orders, shipped included, as a board without the index would count. Plans: {shown}"
            )
        finally:
            channel.close()
            server.stop()
