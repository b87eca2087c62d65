"""Races on the reservation ledger (#16), on real PostgreSQL with the WMS simulator behind the
HTTP adapter: two approvals reserving the same order and revision at once make one reservation
and get the same answer; an issue (领料) racing the order's approved change leaves the ledger
balanced and in agreement with what physically left the WMS."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, update

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
from services.inventory.domain.quantity import exact
from services.inventory.domain.reservation import IssueInProgress, Reservation, ReservationState
from services.inventory.service_layer import handlers, issuing, wms_sync
from services.inventory.service_layer.plant import Plant
from services.inventory.service_layer.ports import WmsLine, WmsStock, WmsUnavailable
from services.wms_simulator.server import start_in_thread

pytestmark = pytest.mark.integration
HW = load_tenants(("hardware",))["hardware"]
STEEL, SILVER, GOLD = (
    "SPCC 冷轧钢板 cold-rolled steel",
    "镀银液 silver plating solution",
    "镀金液 gold plating solution",
)
HINGE = "HB-2040 铰链 hinge"
ON_HAND = {STEEL: 6000.0, SILVER: 100.0, GOLD: 100.0}
APPROVER = Identity("hardware", "王经理", frozenset({"approver"}))
KEEPER = Identity("hardware", "仓管 李", frozenset({"warehouse"}))


@pytest.fixture
def inventory(fresh_database) -> Iterator[tuple]:
    engine = create_engine(fresh_database("inventory"), pool_size=20, max_overflow=20)
    upgrade(definition.migrations_dir, engine)
    sim = start_in_thread()
    wms = HttpWms(sim.url, timeout_s=5.0, breaker=new_breaker(fail_max=1000))
    wms.seed_stock("hardware", [WmsStock(m, "kg" if m == STEEL else "L", q) for m, q in ON_HAND.items()])
    plant = Plant("hardware", HW, wms, active_rule(HW, "material_lock"))
    consumer = EventConsumer(
        "inventory", subscriptions(lambda _t: HW), unit_of_work_factory(definition, engine), ["hardware"]
    )
    yield engine, unit_of_work_factory(definition, engine), plant, consumer
    wms.close()
    sim.stop()
    engine.dispose()


def reserve_command(order_id: str, n: int = 1, revision: int = 1) -> handlers.ReserveMaterials:
    return handlers.ReserveMaterials(
        order_id=order_id,
        order_no=f"HW-20261126-{n:05d}",
        revision=revision,
        customer_id="00000000-0000-0000-0000-000000000001",
        amount_fen=4_500_000,
        priority="PRIORITY_NORMAL",
        lines=[MaterialLine(HINGE, 5000, "银色 silver")],  # 600 kg steel, 10 L silver plating
    )


def race(*actions: Callable[[], object]) -> list[object]:
    """Run the actions at once (a barrier), each as its caller; what each answered or raised."""
    barrier = threading.Barrier(len(actions))
    out: list[object] = [None] * len(actions)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = actions[i]()
        except Exception as exc:  # collected and asserted by the test
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def ledger_balanced(engine) -> dict[str, int]:
    """Every material's balance is the sum of the open reservations' lines (never below 0)."""
    with engine.connect() as c:
        balance = {r.material: r.reserved for r in c.execute(select(material_balances))}
        open_ids = select(reservations.c.reservation_id).where(reservations.c.state.in_(["held", "frozen"]))
        lines = dict(
            c.execute(
                select(reservation_lines.c.material, func.sum(reservation_lines.c.reserved))
                .where(reservation_lines.c.reservation_id.in_(open_ids))
                .group_by(reservation_lines.c.material)
            ).all()
        )
    assert all(v >= 0 for v in balance.values()), balance
    assert {m: v for m, v in balance.items() if v} == {m: v for m, v in lines.items() if v}
    return balance


# --- two approvals of the same order and revision at once ---


@pytest.mark.parametrize("callers", [2, 8])
def test_the_same_order_and_revision_reserved_at_once_is_one_reservation_with_one_answer(inventory, callers):
    engine, uow, plant, _consumer = inventory
    for n in range(1, 6):  # a few rounds: the interleaving differs each time
        order_id = str(uuid.uuid4())

        def reserve(order_id: str = order_id, n: int = n) -> object:
            with acting_as(APPROVER):
                return handlers.reserve_materials(reserve_command(order_id, n), uow, plant)

        answers = race(*[reserve] * callers)

        assert not [a for a in answers if isinstance(a, Exception)], answers
        assert {a.reservation_id for a in answers} == {answers[0].reservation_id}
        assert {
            (a.revision, tuple(sorted((m, x.reserved) for m, x in a.lines.items()))) for a in answers
        } == {(1, tuple(sorted({STEEL: exact(600), SILVER: exact(10)}.items())))}
        with engine.connect() as c:
            count = c.execute(
                select(func.count()).select_from(reservations).where(reservations.c.order_id == order_id)
            ).scalar_one()
        assert count == 1
    assert ledger_balanced(engine) == {STEEL: exact(3000), SILVER: exact(50)}


# --- an issue racing the order's approved change ---


def order_changed(cmd: handlers.ReserveMaterials) -> bytes:
    gold = {"product_model": HINGE, "quantity": 6000, "colour": "金色 gold", "workshop": "stamping-1"}
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "order_changed",
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-26T09:30:00+00:00",
            "data": {
                "order_id": cmd.order_id,
                "order_no": cmd.order_no,
                "customer_id": cmd.customer_id,
                "version": 4,
                "revision": 2,
                "previous_revision": 1,
                "lines": [gold],  # 720 kg steel, 12 L gold plating, no silver
            },
        },
        ensure_ascii=False,
    ).encode()


def wms_issued(plant: Plant) -> dict[str, float]:
    """What physically left the WMS: on hand at the start minus on hand now."""
    now = plant.wms.stock("hardware", list(ON_HAND))
    return {m: round(ON_HAND[m] - now[m].on_hand, 6) for m in ON_HAND if ON_HAND[m] != now[m].on_hand}


def ledger_issued(uow, order_id: str) -> dict[str, float]:
    with acting_as(KEEPER), uow(read_only=True) as tx:
        res = tx.reservations.for_order(order_id)
    assert res is not None
    return {m: x.issued / 1_000_000 for m, x in res.lines.items() if x.issued}


def reserved(uow, plant: Plant) -> handlers.ReserveMaterials:
    cmd = reserve_command(str(uuid.uuid4()))
    with acting_as(APPROVER):
        res = handlers.reserve_materials(cmd, uow, plant)
    assert res.wms_synced
    return cmd


def test_an_issue_and_the_orders_change_racing_leave_the_ledger_balanced(inventory):
    """Threads at a barrier: whichever goes first, each answers cleanly (the issue may be refused
    as not yet in the WMS, the change while the WMS issues, until it is done), and the ledger's
    balances are its open lines, its issued lines what left the WMS."""
    engine, uow, plant, consumer = inventory
    orders: list[str] = []
    for _ in range(5):
        cmd = reserved(uow, plant)

        def issue(order_id: str = cmd.order_id) -> object:
            with acting_as(KEEPER):
                return handlers.issue_materials(order_id, uow, plant)

        def change(body: bytes = order_changed(cmd)) -> object:
            for _ in range(50):  # as the consumer's retry policy redelivers it
                try:
                    return consumer.handle("order.events", "order_changed", body)
                except IssueInProgress:
                    time.sleep(0.05)
            return "still refused"

        issued, changed = race(issue, change)

        assert changed == "ok", changed
        assert not isinstance(issued, Exception) or isinstance(issued, FailedPrecondition | Unavailable), (
            issued
        )
        ledger_balanced(engine)
        orders.append(cmd.order_id)
    recorded: dict[str, float] = {}
    for order_id in orders:
        for material, quantity in ledger_issued(uow, order_id).items():
            recorded[material] = round(recorded.get(material, 0.0) + quantity, 6)
    assert recorded == wms_issued(plant)


def test_two_issues_of_one_order_at_once_issue_it_once(inventory):
    engine, uow, plant, _consumer = inventory
    cmd = reserved(uow, plant)

    def issue() -> object:
        with acting_as(KEEPER):
            return handlers.issue_materials(cmd.order_id, uow, plant)

    answers = race(issue, issue, issue)

    assert [a for a in answers if isinstance(a, Exception) and not isinstance(a, FailedPrecondition)] == []
    assert any(not isinstance(a, Exception) for a in answers), answers
    assert wms_issued(plant) == {STEEL: 600.0, SILVER: 10.0}
    assert ledger_issued(uow, cmd.order_id) == {STEEL: 600.0, SILVER: 10.0}
    assert ledger_balanced(engine) == {STEEL: 0, SILVER: 0}


def test_an_order_change_committed_while_the_wms_issues_is_not_recorded_as_issued(inventory):
    """The issue marks the reservation issuing before the WMS issues: the order's change arriving
    meanwhile is refused (IssueInProgress, which its consumer's retry policy redelivers), the
    ledger records what left the WMS (revision 1), and the change, redelivered after, holds what
    revision 2 needs beyond what was issued, under the reservation's next WMS id."""
    engine, uow, plant, consumer = inventory
    cmd = reserved(uow, plant)
    body = order_changed(cmd)
    real_issue = plant.wms.issue

    def issue_while_the_change_arrives(warehouse: str, wms_id: str) -> None:
        real_issue(warehouse, wms_id)  # the material leaves the WMS...
        # ...and before the ledger records it, the order's approved change arrives
        with pytest.raises(IssueInProgress, match="领料进行中 an issue of this order"):
            consumer.handle("order.events", "order_changed", body)

    plant.wms.issue = issue_while_the_change_arrives
    try:
        with acting_as(KEEPER):
            handlers.issue_materials(cmd.order_id, uow, plant)
    finally:
        plant.wms.issue = real_issue

    assert wms_issued(plant) == {STEEL: 600.0, SILVER: 10.0}
    assert ledger_issued(uow, cmd.order_id) == wms_issued(plant)
    ledger_balanced(engine)

    assert consumer.handle("order.events", "order_changed", body) == "ok"  # the consumer's retry
    res = reservation(uow, cmd.order_id)
    assert (res.state, res.revision, res.wms_round, res.issuing) == (ReservationState.HELD, 2, 1, False)
    # Issued stays issued; revision 2 holds its need less what was issued (silver, no longer
    # needed, is not given back: it left the warehouse). Gold: the consumer holds against the last
    # on-hand figure the ledger has (none yet for gold), so it is short until stock is refreshed.
    assert lines_of(res) == {
        STEEL: (720.0, 120.0, 600.0, 0.0),
        SILVER: (0.0, 0.0, 10.0, 0.0),
        GOLD: (12.0, 0.0, 0.0, 12.0),
    }
    assert ledger_balanced(engine) == {STEEL: exact(120), SILVER: 0, GOLD: 0}
    with acting_as(KEEPER):
        assert wms_sync.sync_with_wms(uow, plant) == (1, 0)  # revision 2's holdings reach the WMS
    held = plant.wms.reservation("hardware", f"{res.reservation_id}:2")
    assert held is not None and (held.state, held.lines) == ("open", (WmsLine(STEEL, "kg", 120.0),))
    assert wms_issued(plant) == {STEEL: 600.0, SILVER: 10.0}


def test_a_cancel_arriving_while_the_wms_issues_releases_only_after_the_issue(inventory):
    engine, uow, plant, consumer = inventory
    cmd = reserved(uow, plant)
    body = order_cancelled(cmd)
    real_issue = plant.wms.issue

    def issue_while_the_cancel_arrives(warehouse: str, wms_id: str) -> None:
        real_issue(warehouse, wms_id)
        with pytest.raises(IssueInProgress):
            consumer.handle("order.events", "order_cancelled", body)

    plant.wms.issue = issue_while_the_cancel_arrives
    try:
        with acting_as(KEEPER):
            handlers.issue_materials(cmd.order_id, uow, plant)
    finally:
        plant.wms.issue = real_issue

    assert consumer.handle("order.events", "order_cancelled", body) == "ok"
    res = reservation(uow, cmd.order_id)
    assert res.state is ReservationState.RELEASED
    assert lines_of(res) == {STEEL: (600.0, 0.0, 600.0, 0.0), SILVER: (10.0, 0.0, 10.0, 0.0)}
    assert ledger_issued(uow, cmd.order_id) == wms_issued(plant) == {STEEL: 600.0, SILVER: 10.0}
    assert ledger_balanced(engine) == {STEEL: 0, SILVER: 0}


def test_a_second_issue_while_one_is_in_progress_is_refused_and_the_sync_leaves_it_alone(inventory):
    engine, uow, plant, _consumer = inventory
    cmd = reserved(uow, plant)
    real_issue = plant.wms.issue
    seen: list[object] = []

    def issue_while_another_comes(warehouse: str, wms_id: str) -> None:
        with acting_as(KEEPER), pytest.raises(FailedPrecondition, match="领料进行中 an issue of this order"):
            handlers.issue_materials(cmd.order_id, uow, plant)
        # The WMS keeps what it is issuing: even a reservation the sync takes for unsynced is not sent.
        with engine.begin() as c:
            c.execute(
                update(reservations).where(reservations.c.order_id == cmd.order_id).values(wms_synced=False)
            )
        with acting_as(KEEPER):
            seen.append(wms_sync.sync_with_wms(uow, plant))
        real_issue(warehouse, wms_id)

    plant.wms.issue = issue_while_another_comes
    try:
        with acting_as(KEEPER):
            res = handlers.issue_materials(cmd.order_id, uow, plant)
    finally:
        plant.wms.issue = real_issue

    assert seen == [(0, 0)]
    assert (res.state, res.issuing, res.wms_synced) == (ReservationState.ISSUED, False, True)
    assert ledger_issued(uow, cmd.order_id) == wms_issued(plant) == {STEEL: 600.0, SILVER: 10.0}
    ledger_balanced(engine)


@pytest.mark.parametrize(
    "failure",
    [
        FailedPrecondition("仓库拒绝 on hand no longer covers it"),
        WmsUnavailable("WMS timed out before sending", maybe_applied=False),
    ],
    ids=["refused", "not-sent"],
)
def test_a_wms_failure_during_the_issue_clears_the_mark_and_issues_nothing(inventory, failure):
    engine, uow, plant, consumer = inventory
    cmd = reserved(uow, plant)
    real_issue = plant.wms.issue

    def failing(warehouse: str, wms_id: str) -> None:
        raise failure

    plant.wms.issue = failing
    try:
        with acting_as(KEEPER), pytest.raises(type(failure)):
            handlers.issue_materials(cmd.order_id, uow, plant)
    finally:
        plant.wms.issue = real_issue

    res = reservation(uow, cmd.order_id)
    assert (res.state, res.issuing, res.issuing_version, res.issuing_by) == (
        ReservationState.HELD,
        False,
        0,
        "",
    )
    assert lines_of(res) == {STEEL: (600.0, 600.0, 0.0, 0.0), SILVER: (10.0, 10.0, 0.0, 0.0)}
    assert wms_issued(plant) == {}
    assert ledger_balanced(engine) == {STEEL: exact(600), SILVER: exact(10)}
    # Free again: the change request freezes it.
    assert consumer.handle("order.events", "order_change_requested", change_requested(cmd)) == "ok"
    assert reservation(uow, cmd.order_id).state is ReservationState.FROZEN


def test_an_issue_whose_answer_was_lost_asks_the_wms_and_records_what_left(inventory):
    engine, uow, plant, _consumer = inventory
    cmd = reserved(uow, plant)
    real_issue = plant.wms.issue

    def issued_but_no_answer(warehouse: str, wms_id: str) -> None:
        real_issue(warehouse, wms_id)
        raise WmsUnavailable("WMS answer lost", maybe_applied=True)

    plant.wms.issue = issued_but_no_answer
    try:
        with acting_as(KEEPER):
            res = handlers.issue_materials(cmd.order_id, uow, plant)
    finally:
        plant.wms.issue = real_issue

    assert (res.state, res.issuing) == (ReservationState.ISSUED, False)
    assert ledger_issued(uow, cmd.order_id) == wms_issued(plant) == {STEEL: 600.0, SILVER: 10.0}
    ledger_balanced(engine)


@pytest.mark.parametrize("wms_issued_it", [True, False], ids=["issued-in-the-wms", "not-issued"])
def test_a_mark_left_by_a_stopped_process_is_settled_by_the_sync_job(inventory, wms_issued_it):
    """A process marked the reservation (and perhaps had the WMS issue it) and stopped: the change
    waits (retried), a young mark is left alone, a stale one is settled by asking the WMS."""
    engine, uow, plant, consumer = inventory
    cmd = reserved(uow, plant)
    with acting_as(KEEPER):
        snapshot = issuing.begin(cmd.order_id, KEEPER.user, uow)
    if wms_issued_it:
        plant.wms.issue("hardware", snapshot.wms_id)
    body = order_changed(cmd)
    with pytest.raises(IssueInProgress):
        consumer.handle("order.events", "order_changed", body)
    with acting_as(KEEPER):
        wms_sync.sync_with_wms(uow, plant)
    assert reservation(uow, cmd.order_id).issuing  # younger than STALE_AFTER_S: perhaps still running

    with engine.begin() as c:
        c.execute(
            update(reservations)
            .where(reservations.c.order_id == cmd.order_id)
            .values(issuing_since=datetime.now(UTC) - timedelta(seconds=issuing.STALE_AFTER_S + 1))
        )
    with acting_as(KEEPER):
        wms_sync.sync_with_wms(uow, plant)

    res = reservation(uow, cmd.order_id)
    assert not res.issuing
    if wms_issued_it:
        assert (res.state, res.wms_round) == (ReservationState.ISSUED, 1)
        assert ledger_issued(uow, cmd.order_id) == wms_issued(plant) == {STEEL: 600.0, SILVER: 10.0}
    else:
        assert (res.state, res.wms_round) == (ReservationState.HELD, 0)
        assert ledger_issued(uow, cmd.order_id) == wms_issued(plant) == {}
        held = plant.wms.reservation("hardware", res.wms_id)
        assert held is not None and held.state == "open"
    ledger_balanced(engine)
    assert consumer.handle("order.events", "order_changed", body) == "ok"  # the retry goes through
    assert reservation(uow, cmd.order_id).revision == 2
    ledger_balanced(engine)


def reservation(uow, order_id: str) -> Reservation:
    with acting_as(KEEPER), uow(read_only=True) as tx:
        res = tx.reservations.for_order(order_id)
    assert res is not None
    return res


def lines_of(res: Reservation) -> dict[str, tuple[float, float, float, float]]:
    """material -> (needed, reserved, issued, short), in the material's unit."""
    return {
        m: (x.needed / 1_000_000, x.reserved / 1_000_000, x.issued / 1_000_000, x.short / 1_000_000)
        for m, x in res.lines.items()
    }


def order_event(event_type: str, cmd: handlers.ReserveMaterials, version: int) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-26T09:30:00+00:00",
            "data": {"order_id": cmd.order_id, "order_no": cmd.order_no, "version": version},
        },
        ensure_ascii=False,
    ).encode()


def order_cancelled(cmd: handlers.ReserveMaterials) -> bytes:
    return order_event("order_cancelled", cmd, 5)


def change_requested(cmd: handlers.ReserveMaterials) -> bytes:
    return order_event("order_change_requested", cmd, 3)
