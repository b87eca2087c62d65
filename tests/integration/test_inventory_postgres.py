"""The reservation ledger on real PostgreSQL with the WMS simulator behind the HTTP adapter:
50 approvals racing for one material with stock for 10 reserve exactly 10 (never over-commit),
the ledger and the WMS agree after the sync, a WMS that is down leaves nothing half-reserved, and
the order's change events freeze, adjust and release reservations (exact event payloads)."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select

from services.bom import MaterialLine
from services.chassis.consumer import EventConsumer
from services.chassis.errors import FailedPrecondition, Unavailable
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.rules import active_rule
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.inventory.adapters.tables import material_balances, reservation_lines, reservations
from services.inventory.adapters.wms import HttpWms, new_breaker
from services.inventory.app import definition, subscriptions
from services.inventory.domain.quantity import exact, shown
from services.inventory.service_layer import handlers, wms_sync
from services.inventory.service_layer.plant import Plant
from services.inventory.service_layer.ports import WmsLine, WmsStock
from services.wms_simulator.server import start_in_thread

pytestmark = pytest.mark.integration
HW = load_tenants(("hardware",))["hardware"]
STEEL, SILVER, GOLD = (
    "SPCC 冷轧钢板 cold-rolled steel",
    "镀银液 silver plating solution",
    "镀金液 gold plating solution",
)
HINGE = "HB-2040 铰链 hinge"
SILVER_HINGES = [MaterialLine(HINGE, 5000, "银色 silver")]  # 600 kg steel, 10 L silver plating
APPROVER = Identity("hardware", "王经理", frozenset({"approver"}))


@pytest.fixture
def inventory(fresh_database) -> Iterator[tuple]:
    engine = create_engine(fresh_database("inventory"), pool_size=20, max_overflow=40)
    upgrade(definition.migrations_dir, engine)
    sim = start_in_thread()
    wms = HttpWms(sim.url, timeout_s=5.0, breaker=new_breaker(fail_max=1000))
    wms.seed_stock(
        "hardware",
        [WmsStock(STEEL, "kg", 6000.0), WmsStock(SILVER, "L", 100.0), WmsStock(GOLD, "L", 8.0)],
    )
    plant = Plant("hardware", HW, wms, active_rule(HW, "material_lock"))
    yield engine, unit_of_work_factory(definition, engine), plant, sim
    wms.close()
    sim.stop()
    engine.dispose()


def order(lines=SILVER_HINGES, n: int = 1, amount_fen: int = 4_500_000) -> handlers.ReserveMaterials:
    return handlers.ReserveMaterials(
        order_id=str(uuid.uuid4()),
        order_no=f"HW-20261126-{n:05d}",
        revision=1,
        customer_id="00000000-0000-0000-0000-000000000001",
        amount_fen=amount_fen,
        priority="PRIORITY_NORMAL",
        lines=list(lines),
    )


def test_fifty_racing_approvals_with_stock_for_ten_reserve_exactly_ten(inventory):
    engine, uow, plant, _sim = inventory
    barrier = threading.Barrier(50)
    outcomes: list[object] = []
    lock = threading.Lock()

    def approve(n: int) -> None:
        with acting_as(APPROVER):
            barrier.wait()
            try:
                outcome: object = handlers.reserve_materials(order(n=n), uow, plant)
            except Exception as exc:  # collected and asserted below
                outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(1, 51)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    refused = [o for o in outcomes if isinstance(o, Exception)]
    held = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(held) == 10 and len(refused) == 40
    for exc in refused:
        assert isinstance(exc, FailedPrecondition), exc
        assert str(exc).startswith("材料不足 materials short: ")
        assert f"{STEEL} needs 600 kg, 0 available" in str(exc) or f"{SILVER} needs 10 L, 0 available" in str(
            exc
        )

    with engine.connect() as c:
        balance = {r.material: r.reserved for r in c.execute(select(material_balances))}
        lines = {
            m: total
            for m, total in c.execute(
                select(reservation_lines.c.material, func.sum(reservation_lines.c.reserved)).group_by(
                    reservation_lines.c.material
                )
            )
        }
        assert c.execute(select(func.count()).select_from(reservations)).scalar_one() == 10
    assert balance == lines == {STEEL: exact(6000), SILVER: exact(100)}

    # the ledger and the WMS agree once synced (the job sends whatever the push missed)
    with acting_as(APPROVER):
        wms_sync.sync_with_wms(uow, plant)
        with uow(read_only=True) as tx:
            ledger = tx.reservations.list(order_id="", material="", page_size=100, page_token="")[0]
    assert all(r.wms_synced for r in ledger)
    wms_side = {r.reservation_id: r for r in plant.wms.reservations("hardware", "open")}
    assert set(wms_side) == {r.reservation_id for r in ledger}
    for r in ledger:
        expected = tuple(WmsLine(x.material, x.unit, shown(x.reserved)) for x in r.lines.values())
        assert tuple(sorted(wms_side[r.reservation_id].lines, key=lambda x: x.material)) == expected


def test_racing_approvals_with_the_wms_pusher_hold_exactly_the_stock_and_the_wms_agrees(inventory):
    """As the service runs: the WMS told from the pusher's thread after each caller is answered."""
    engine, uow, plant, _sim = inventory
    pusher = wms_sync.WmsPusher(uow, lambda _tenant_id: pushing, batch=7)
    pushing = dataclasses.replace(plant, pusher=pusher)
    barrier = threading.Barrier(30)
    outcomes: list[object] = []
    lock = threading.Lock()

    def approve(n: int) -> None:
        with acting_as(APPROVER):
            barrier.wait()
            try:
                outcome: object = handlers.reserve_materials(order(n=n), uow, pushing)
            except Exception as exc:  # collected and asserted below
                outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(1, 31)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert pusher.drain(10)
    finally:
        pusher.close()

    held = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(held) == 10 and len(refused) == 20
    assert all(isinstance(o, FailedPrecondition) for o in refused), refused
    with engine.connect() as c:
        assert {r.material: r.reserved for r in c.execute(select(material_balances))} == {
            STEEL: exact(6000),
            SILVER: exact(100),
        }
        assert set(c.execute(select(reservations.c.wms_synced))) == {(True,)}  # no job needed
        # each line says what was available when its order took its share: one taker at a time
        figures = sorted(
            c.execute(
                select(reservation_lines.c.available).where(reservation_lines.c.material == STEEL)
            ).scalars()
        )
        assert figures == [exact(600 * k) for k in range(1, 11)]
    wms_side = {r.reservation_id: r for r in plant.wms.reservations("hardware", "open")}
    assert set(wms_side) == {r.reservation_id for r in held}
    for r in wms_side.values():
        lines = tuple(sorted(r.lines, key=lambda x: x.material))
        assert lines == (WmsLine(STEEL, "kg", 600.0), WmsLine(SILVER, "L", 10.0))


def test_a_wms_that_is_down_answers_unavailable_and_nothing_is_reserved(inventory):
    engine, uow, plant, sim = inventory
    sim.set_faults(down=True)
    with acting_as(APPROVER), pytest.raises(Unavailable):
        handlers.reserve_materials(order(), uow, plant)
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(reservations)).scalar_one() == 0
        assert c.execute(select(func.count()).select_from(material_balances)).scalar_one() == 0
        assert (
            c.execute(select(func.count()).select_from(definition.metadata.tables["outbox"])).scalar_one()
            == 0
        )


def test_a_slow_wms_answers_unavailable_within_the_timeout_and_nothing_is_reserved(inventory):
    import time

    engine, uow, plant, sim = inventory
    sim.set_faults(latency_ms=3000)
    slow = HttpWms(sim.url, timeout_s=0.3, breaker=new_breaker(fail_max=1000))
    started = time.monotonic()
    with acting_as(APPROVER), pytest.raises(Unavailable):
        handlers.reserve_materials(order(), uow, Plant("hardware", HW, slow, plant.lock_rule))
    assert time.monotonic() - started < 1.5
    slow.close()
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(reservations)).scalar_one() == 0
        assert c.execute(select(func.count()).select_from(material_balances)).scalar_one() == 0


def event(event_type: str, version: int, **data) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-26T09:30:00+00:00",
            "data": {"version": version, **data},
        },
        ensure_ascii=False,
    ).encode()


def outbox(engine, after: int = 0) -> list[tuple[str, dict]]:
    t = definition.metadata.tables["outbox"]
    with engine.connect() as c:
        rows = c.execute(select(t).where(t.c.id > after).order_by(t.c.id)).all()
    return [(r.event_type, json.loads(r.body)["data"]) for r in rows]


def test_a_pending_change_freezes_issue_until_it_is_rejected(inventory):
    _engine, uow, plant, _sim = inventory
    consumer = EventConsumer("inventory", subscriptions(lambda _t: HW), uow, ["hardware"])
    cmd = order()
    with acting_as(APPROVER):
        handlers.reserve_materials(cmd, uow, plant)
    ids = {"order_id": cmd.order_id, "order_no": cmd.order_no, "customer_id": cmd.customer_id}

    assert (
        consumer.handle(
            "order.events", "order_change_requested", event("order_change_requested", 3, **ids, revision=1)
        )
        == "ok"
    )
    with acting_as(Identity("hardware", "仓管 李", frozenset({"warehouse"}))):
        with pytest.raises(FailedPrecondition, match="变更待审批，暂停领料 a change is pending: no issue"):
            handlers.issue_materials(cmd.order_id, uow, plant)
        assert (
            consumer.handle("order.events", "order_change_rejected", event("order_change_rejected", 4, **ids))
            == "ok"
        )
        # a late duplicate of the request (version 3 < 4) does not freeze it again
        assert (
            consumer.handle(
                "order.events", "order_change_requested", event("order_change_requested", 3, **ids)
            )
            == "stale"
        )
        issued = handlers.issue_materials(cmd.order_id, uow, plant)
    assert [(x.material, x.issued) for x in issued.lines.values()] == [
        (STEEL, exact(600)),
        (SILVER, exact(10)),
    ]
    assert {s.material: s.on_hand for s in plant.wms.stock("hardware", [STEEL, SILVER]).values()} == {
        STEEL: 5400.0,
        SILVER: 90.0,
    }
    # an order the ledger never held: nothing to do, not an error
    other = {"order_id": str(uuid.uuid4()), "order_no": "HW-20261126-09999", "customer_id": cmd.customer_id}
    assert consumer.handle("order.events", "order_cancelled", event("order_cancelled", 2, **other)) == "ok"


def test_an_approved_silver_to_gold_change_releases_silver_and_holds_what_gold_there_is(inventory):
    engine, uow, plant, _sim = inventory
    consumer = EventConsumer("inventory", subscriptions(lambda _t: HW), uow, ["hardware"])
    cmd = order()
    with acting_as(APPROVER):
        res = handlers.reserve_materials(cmd, uow, plant)
        wms_sync.refresh_stock(uow, plant)  # the job: gold plating's on hand (8 L) is known
    t = definition.metadata.tables["outbox"]
    with engine.connect() as c:
        seen = c.execute(select(func.max(t.c.id))).scalar_one()
    ids = {"order_id": cmd.order_id, "order_no": cmd.order_no, "customer_id": cmd.customer_id}
    gold = {"product_model": HINGE, "quantity": 6000, "colour": "金色 gold", "workshop": "stamping-1"}

    consumer.handle(
        "order.events", "order_change_requested", event("order_change_requested", 3, **ids, revision=1)
    )
    changed = event("order_changed", 4, **ids, revision=2, previous_revision=1, lines=[gold])
    assert consumer.handle("order.events", "order_changed", changed) == "ok"
    assert consumer.handle("order.events", "order_changed", changed) == "duplicate"

    assert outbox(engine, seen) == [
        (
            "reservation_adjusted",
            {
                "reservation_id": res.reservation_id,
                "order_id": cmd.order_id,
                "order_no": cmd.order_no,
                "customer_id": cmd.customer_id,
                "revision": 2,
                "previous_revision": 1,
                "materials": [
                    {"material": STEEL, "unit": "kg", "needed": 720.0, "reserved": 720.0},
                    {"material": GOLD, "unit": "L", "needed": 12.0, "reserved": 8.0, "short": 4.0},
                    {"material": SILVER, "unit": "L"},
                ],
                "released": [{"material": SILVER, "unit": "L", "reserved": 10.0}],
                "added": [
                    {"material": STEEL, "unit": "kg", "needed": 720.0, "reserved": 120.0},
                    {"material": GOLD, "unit": "L", "needed": 12.0, "reserved": 8.0},
                ],
                "short": True,
            },
        )
    ]
    with engine.connect() as c:
        assert {r.material: r.reserved for r in c.execute(select(material_balances))} == {
            STEEL: exact(720),
            SILVER: 0,
            GOLD: exact(8),
            "65Mn 弹簧钢带 spring steel strip": 0,  # the stock refresh knows every material of the BOM
        }
    with acting_as(APPROVER):
        with uow(read_only=True) as tx:
            after = tx.reservations.for_order(cmd.order_id)
        assert after is not None and after.state.value == "held" and not after.wms_synced
        assert wms_sync.sync_with_wms(uow, plant) == (1, 0)
    held = plant.wms.reservation("hardware", res.reservation_id)
    assert held is not None and set(held.lines) == {WmsLine(STEEL, "kg", 720.0), WmsLine(GOLD, "L", 8.0)}

    # cancelled: everything given back, once
    cancelled = event("order_cancelled", 5, **ids, cancelled_by="王经理", reason="客户取消")
    assert consumer.handle("order.events", "order_cancelled", cancelled) == "ok"
    assert outbox(engine, seen)[-1] == (
        "materials_released",
        {
            "reservation_id": res.reservation_id,
            "order_id": cmd.order_id,
            "order_no": cmd.order_no,
            "customer_id": cmd.customer_id,
            "revision": 2,
            "reason": "order_cancelled",
            "materials": [
                {"material": STEEL, "unit": "kg", "needed": 720.0, "reserved": 720.0},
                {"material": GOLD, "unit": "L", "needed": 12.0, "reserved": 8.0},
            ],
        },
    )
    with engine.connect() as c:
        assert {r.material: r.reserved for r in c.execute(select(material_balances))} == {
            STEEL: 0,
            SILVER: 0,
            GOLD: 0,
            "65Mn 弹簧钢带 spring steel strip": 0,
        }
