"""Case: the reservation race. N threads reserve materials for N different orders, all on one hot
material (65Mn spring steel strip of SP-08 spring clips), through inventory's ReserveMaterials
handler on PostgreSQL, as the service runs it: the WMS stock read over HTTP, BOM explosion, lock
rule, one transaction (reservation row, lines, outbox row, then the guarded UPDATE of the
material's balance row, which also writes the line's available figure, last before the commit),
then the WMS pusher's thread tells the WMS (one read and one "synced" UPDATE per batch, a PUT per
reservation); the clock stops when the WMS has them all. Against the floor of a
bare guarded `UPDATE … SET reserved = reserved + q WHERE reserved + q <= on_hand` loop on the same
kind of row, one transaction per reservation, with as many threads. Each runs in a process of its
own, and the WMS simulator in a third (a plant's WMS is another machine: its CPU is not billed to
the handler's process). Stock covers exactly the measured and warm-up reservations, and both sides
check at the end that exactly that much is reserved (and the WMS holds it all): the figure is of a
race that never over-commits."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
import uuid

from sqlalchemy import BigInteger, Column, MetaData, String, Table, bindparam, func, insert, select, update

from bench.config import Config
from bench.measure import Sample, run_concurrent
from bench.report import Report, Row, compare
from bench.stacks import Environment, fresh_database
from bench.worker import run_job

MATERIAL = "65Mn 弹簧钢带 spring steel strip"
CLIPS = 100  # per order: 100 clips × 0.01 kg = 1 kg of strip


def run(env: Environment, cfg: Config, report: Report) -> None:
    args = {"count": cfg.reservation_calls, "warmup": min(cfg.warmup, 50), "threads": cfg.reservation_threads}
    label = f"pg.{cfg.reservation_threads}x"
    with fresh_database("guarded") as url:
        base = Row.of(
            f"reservations.bare-guarded-update.{label}",
            Sample.from_json(run_job("bare-guarded-update", {**args, "url": url})),
        )
    with fresh_database("reserve") as url:
        mine = Row.of(
            f"reservations.ReserveMaterials.{label}",
            Sample.from_json(run_job("reserve-materials", {**args, "url": url})),
        )
    # No aim: the floor is one statement; a reservation is a WMS read over HTTP, a transaction of
    # four statements, and its share of the pusher's work (the notes say which). The ratio is
    # tracked run to run.
    report.add(base, compare(mine, base))
    report.notes.append(
        f"reservations: {cfg.reservation_threads} threads, each reservation a different order, all on one "
        f"material ({MATERIAL}, 1 kg each, stock for exactly count + warm-up). ReserveMaterials = the "
        "inventory handler in a process of its own (no gRPC hop): WMS stock read over HTTP, BOM "
        "explosion, material_lock rule, one transaction of four statements (reservation row, line, "
        "outbox row, then the guarded UPDATE of the balance row, last before the commit); the WMS "
        "pusher thread then PUTs each reservation and marks a batch synced; timed until the WMS has "
        "them all. The WMS simulator runs in a third process (a real "
        "WMS is another machine: its CPU is not billed to OMS). bare-guarded-update = one UPDATE … "
        "WHERE reserved + q <= on_hand per transaction on a one-row table. Both check that exactly "
        "the stock was reserved"
    )


def reserve_job(args: dict) -> dict:
    """Worker: `count` ReserveMaterials through the handler, `threads` at a time. The clock stops
    when the WMS has every reservation (the pusher's queue drained), not when the last caller was
    answered: work moved off the callers' path is still measured."""
    from services.bom import MaterialLine
    from services.chassis.db import make_engine
    from services.chassis.identity import Identity, acting_as
    from services.chassis.migrations import upgrade
    from services.chassis.rules import active_rule
    from services.chassis.runtime import unit_of_work_factory
    from services.chassis.tenants import load_tenants
    from services.inventory.adapters.tables import material_balances, reservations
    from services.inventory.adapters.wms import HttpWms, new_breaker
    from services.inventory.app import definition
    from services.inventory.service_layer import handlers
    from services.inventory.service_layer.plant import Plant
    from services.inventory.service_layer.ports import WmsStock
    from services.inventory.service_layer.wms_sync import WmsPusher

    started = time.perf_counter()
    total = args["count"] + args["warmup"]
    engine = make_engine(args["url"], pool_size=args["threads"] + 1)  # + 1: the pusher
    upgrade(definition.migrations_dir, engine)
    sim = _simulator(args.get("wms_process", True))
    wms = HttpWms(sim.url, timeout_s=5.0, breaker=new_breaker(fail_max=1000))
    wms.seed_stock("hardware", [WmsStock(MATERIAL, "kg", float(total))])
    config = load_tenants(("hardware",))["hardware"]
    uow = unit_of_work_factory(definition, engine)
    rule = active_rule(config, "material_lock")
    pusher = WmsPusher(uow, lambda tenant_id: plant) if args.get("pusher", True) else None
    plant = Plant("hardware", config, wms, rule, pusher)
    numbers = itertools.count(1)
    caller = Identity("hardware", "bench", frozenset({"approver"}))

    def one() -> None:
        n = next(numbers)
        cmd = handlers.ReserveMaterials(
            order_id=str(uuid.uuid4()),
            order_no=f"HW-20261126-{n:05d}",
            revision=1,
            customer_id="00000000-0000-0000-0000-000000000001",
            amount_fen=450_000,
            priority="PRIORITY_NORMAL",
            lines=[MaterialLine("SP-08 弹片 spring clip", CLIPS)],
        )
        with acting_as(caller):
            handlers.reserve_materials(cmd, uow, plant)

    def until_synced() -> float:
        t0 = time.perf_counter()
        if pusher is not None and not pusher.drain(60):
            raise AssertionError("the WMS pusher did not drain within 60 s")
        return time.perf_counter() - t0

    try:
        run_concurrent(one, args["warmup"], args["threads"])
        until_synced()
        sample = run_concurrent(one, args["count"], args["threads"])
        sample = Sample(sample.count, sample.seconds + until_synced(), sample.latencies)
        with engine.connect() as c:
            reserved: int = c.execute(select(material_balances.c.reserved)).scalar_one()
            unsynced = c.execute(
                select(func.count()).select_from(reservations).where(reservations.c.wms_synced.is_(False))
            ).scalar_one()
        if reserved != total * 1_000_000:
            raise AssertionError(f"reserved {reserved} millionths, expected exactly {total} kg")
        held = sum(x.quantity for r in wms.reservations("hardware", "open") for x in r.lines)
        if unsynced or held != total:
            raise AssertionError(
                f"the WMS holds {held} kg, {unsynced} reservations unsynced; expected {total}"
            )
    finally:
        if pusher is not None:
            pusher.close()
        wms.close()
        sim.stop()
        engine.dispose()
    doc = sample.to_json()
    doc["setup_s"] = time.perf_counter() - started - sample.seconds
    return doc


class _SimulatorProcess:
    """The WMS simulator as a process of its own: a plant's WMS is another machine, so its CPU is
    not the inventory service's (in this process it would share the handler's interpreter lock)."""

    def __init__(self) -> None:
        from bench.stacks import ROOT, python_env

        cmd = [sys.executable, "-m", "services.wms_simulator", "--port", "0", "--db", ":memory:"]
        self._proc = subprocess.Popen(
            [*cmd, "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=python_env()
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # "WMS simulator listening on http://127.0.0.1:PORT (db …)"
        if "listening on " not in line:
            self._proc.kill()
            raise RuntimeError(f"the WMS simulator did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1].split()[0]

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(10)


def _simulator(own_process: bool):
    if own_process:
        return _SimulatorProcess()
    from services.wms_simulator.server import start_in_thread

    return start_in_thread()


def bare_guarded_update_job(args: dict) -> dict:
    """Worker: `count` guarded UPDATEs of one balance row, one transaction each."""
    from services.chassis.db import make_engine

    started = time.perf_counter()
    metadata = MetaData()
    balances = Table(
        "bench_balances",
        metadata,
        Column("material", String(128), primary_key=True),
        Column("on_hand", BigInteger, nullable=False),
        Column("reserved", BigInteger, nullable=False),
    )
    engine = make_engine(args["url"], pool_size=args["threads"])
    metadata.create_all(engine)
    total = args["count"] + args["warmup"]
    with engine.begin() as conn:
        conn.execute(insert(balances).values(material=MATERIAL, on_hand=total * 1_000_000, reserved=0))
    take = (
        update(balances)
        .where(
            balances.c.material == bindparam("m"),
            balances.c.reserved + bindparam("q") <= balances.c.on_hand,
        )
        .values(reserved=balances.c.reserved + bindparam("q"))
    )

    def one() -> None:
        with engine.begin() as conn:
            if conn.execute(take, {"m": MATERIAL, "q": 1_000_000}).rowcount != 1:
                raise AssertionError("the bare loop ran short: the stock was sized for every call")

    try:
        run_concurrent(one, args["warmup"], args["threads"])
        sample = run_concurrent(one, args["count"], args["threads"])
        with engine.connect() as c:
            if c.execute(select(balances.c.reserved)).scalar_one() != total * 1_000_000:
                raise AssertionError("the bare loop reserved other than the stock")
    finally:
        engine.dispose()
    doc = sample.to_json()
    doc["setup_s"] = time.perf_counter() - started - sample.seconds
    return doc
