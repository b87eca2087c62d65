"""Reserve, issue, sync and dry-run through the real ledger in the embedded mode's database
(SQLite) with an in-memory WMS: all or nothing, the shortfall named, overrides audited, nothing
written when the WMS cannot be read, the WMS told after the ledger commits and retried by the job."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from sqlalchemy import func, select

from services.bom import MaterialLine
from services.chassis.db import make_engine
from services.chassis.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unavailable
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.rules import active_rule
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.inventory.adapters.tables import material_balances, reservations
from services.inventory.app import definition
from services.inventory.domain.quantity import exact
from services.inventory.domain.reservation import ReservationState
from services.inventory.service_layer import handlers, queries, wms_sync
from services.inventory.service_layer.plant import Plant
from services.inventory.service_layer.ports import WmsLine
from tests.unit.fake_wms import FakeWms

HW = load_tenants(("hardware",))["hardware"]
STEEL, SILVER, GOLD = (
    "SPCC 冷轧钢板 cold-rolled steel",
    "镀银液 silver plating solution",
    "镀金液 gold plating solution",
)
HINGE = "HB-2040 铰链 hinge"
SILVER_HINGES = [MaterialLine(HINGE, 5000, "银色 silver")]  # 600 kg steel, 10 L silver plating


@pytest.fixture
def ledger(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'inventory.db'}")
    upgrade(definition.migrations_dir, engine)
    wms = FakeWms()
    wms.put("hardware", STEEL, "kg", 1000)
    wms.put("hardware", SILVER, "L", 15)
    wms.put("hardware", GOLD, "L", 20)
    plant = Plant("hardware", HW, wms, active_rule(HW, "material_lock"))
    with acting_as(Identity("hardware", "王经理", frozenset({"approver"}))):
        yield engine, unit_of_work_factory(definition, engine), plant, wms
    engine.dispose()


def order(
    lines=SILVER_HINGES, revision=1, amount_fen=4_500_000, order_id=None, **more
) -> handlers.ReserveMaterials:
    return handlers.ReserveMaterials(
        order_id=order_id or str(uuid.uuid4()),
        order_no="HW-20261126-00001",
        revision=revision,
        customer_id="00000000-0000-0000-0000-000000000001",
        amount_fen=amount_fen,
        priority="PRIORITY_NORMAL",
        lines=list(lines),
        **more,
    )


def balances(engine) -> dict[str, tuple[int, int, int]]:
    with engine.connect() as c:
        return {r.material: (r.on_hand, r.reserved, r.locked) for r in c.execute(select(material_balances))}


def outbox(engine) -> list[tuple[str, dict]]:
    t = definition.metadata.tables["outbox"]
    with engine.connect() as c:
        return [(r.event_type, json.loads(r.body)["data"]) for r in c.execute(select(t).order_by(t.c.id))]


def count(engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(reservations)).scalar_one()


def test_a_reservation_holds_every_material_tells_the_wms_and_says_so(ledger):
    engine, uow, plant, wms = ledger
    cmd = order()
    res = handlers.reserve_materials(cmd, uow, plant)

    assert res.state is ReservationState.HELD and not res.locked and res.wms_synced
    assert balances(engine) == {STEEL: (exact(1000), exact(600), 0), SILVER: (exact(15), exact(10), 0)}
    assert [(x.material, x.needed, x.reserved, x.short, x.available) for x in res.lines.values()] == [
        (STEEL, exact(600), exact(600), 0, exact(1000)),
        (SILVER, exact(10), exact(10), 0, exact(15)),
    ]
    held = wms.reservation("hardware", res.reservation_id)
    assert held is not None and held.lines == (WmsLine(STEEL, "kg", 600.0), WmsLine(SILVER, "L", 10.0))
    assert outbox(engine) == [
        (
            "materials_reserved",
            {
                "reservation_id": res.reservation_id,
                "order_id": cmd.order_id,
                "order_no": "HW-20261126-00001",
                "customer_id": cmd.customer_id,
                "revision": 1,
                "materials": [
                    {"material": STEEL, "unit": "kg", "needed": 600.0, "reserved": 600.0},
                    {"material": SILVER, "unit": "L", "needed": 10.0, "reserved": 10.0},
                ],
            },
        )
    ]
    # asked again (a retried approval): the same reservation, nothing held twice
    again = handlers.reserve_materials(cmd, uow, plant)
    assert again.reservation_id == res.reservation_id
    assert balances(engine)[STEEL][1] == exact(600) and count(engine) == 1


def test_racing_approvals_in_the_embedded_mode_never_over_commit(ledger):
    """SQLite takes one writer at a time; the same guarded UPDATE decides. 20 orders of 1000
    silver hinges (120 kg steel, 2 L silver plating each) race for steel enough for 8 and plating
    for 7: exactly 7 are reserved, the scarcer material decides."""
    import threading

    from services.chassis.identity import current

    engine, uow, plant, _wms = ledger
    caller = current()
    outcomes: list[object] = []
    barrier = threading.Barrier(20)

    def approve() -> None:
        with acting_as(caller):
            barrier.wait()
            try:
                outcomes.append(
                    handlers.reserve_materials(order([MaterialLine(HINGE, 1000, "银色 silver")]), uow, plant)
                )
            except FailedPrecondition as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=approve) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not isinstance(o, Exception) for o in outcomes) == 7 and len(outcomes) == 20
    assert balances(engine) == {STEEL: (exact(1000), exact(840), 0), SILVER: (exact(15), exact(14), 0)}


def test_short_is_refused_naming_every_shortfall_and_nothing_is_held(ledger):
    engine, uow, plant, _wms = ledger
    handlers.reserve_materials(order(), uow, plant)  # 400 kg steel and 5 L silver left
    before = balances(engine)
    with pytest.raises(FailedPrecondition) as refused:
        handlers.reserve_materials(
            order([MaterialLine(HINGE, 4000, "银色 silver")]), uow, plant
        )  # 480 kg, 8 L
    assert str(refused.value) == (
        "材料不足 materials short: SPCC 冷轧钢板 cold-rolled steel needs 480 kg, 400 available; "
        "镀银液 silver plating solution needs 8 L, 5 available"
    )
    assert balances(engine) == before and count(engine) == 1
    # its event, written before the guarded UPDATEs, rolled back with them
    assert [event for event, _data in outbox(engine)] == ["materials_reserved"]


def test_an_event_written_before_the_commit_still_wakes_the_relay(ledger):
    engine, _uow, plant, _wms = ledger
    woken: list[int] = []
    uow = unit_of_work_factory(definition, engine, on_commit=lambda: woken.append(1))
    handlers.reserve_materials(order(), uow, plant)
    assert woken and [event for event, _data in outbox(engine)] == ["materials_reserved"]


def test_an_override_needs_a_reason_holds_what_is_there_and_names_who(ledger):
    engine, uow, plant, _wms = ledger
    big = [MaterialLine(HINGE, 10_000, "银色 silver")]  # 1200 kg steel, 20 L silver
    with pytest.raises(InvalidArgument) as no_reason:
        handlers.reserve_materials(order(big, override_shortage=True, override_reason="  "), uow, plant)
    assert [v.field for v in no_reason.value.violations] == ["override_reason"]

    overridden = order(big, override_shortage=True, override_reason="客户急单 补料在途")
    # An approver calling inventory directly does not get past the order service's manager check:
    # it is made again where the override is recorded (services/permissions.py).
    with pytest.raises(PermissionDenied, match="缺料接单需经理批准"):
        handlers.reserve_materials(overridden, uow, plant)
    assert balances(engine) == {} and outbox(engine) == []

    with acting_as(Identity("hardware", "王经理", frozenset({"manager"}))):
        res = handlers.reserve_materials(overridden, uow, plant)
    assert (res.overridden, res.overridden_by, res.override_reason) == (True, "王经理", "客户急单 补料在途")
    assert {m: (x.reserved, x.short) for m, x in res.lines.items()} == {
        STEEL: (exact(1000), exact(200)),
        SILVER: (exact(15), exact(5)),
    }
    assert balances(engine) == {STEEL: (exact(1000), exact(1000), 0), SILVER: (exact(15), exact(15), 0)}
    [(_, event)] = outbox(engine)
    assert (event["overridden"], event["overridden_by"], event["materials"][0]["short"]) == (
        True,
        "王经理",
        200.0,
    )


def test_wms_down_is_unavailable_with_nothing_in_the_ledger(ledger):
    engine, uow, plant, wms = ledger
    wms.down = True
    with pytest.raises(Unavailable):
        handlers.reserve_materials(order(), uow, plant)
    assert count(engine) == 0 and balances(engine) == {} and outbox(engine) == []


def test_a_wms_that_misses_the_push_is_caught_up_by_the_sync_job(ledger):
    engine, uow, plant, wms = ledger
    real_put = wms.put_reservation

    def down_after_reading(*args, **kwargs):
        wms.down = True
        real_put(*args, **kwargs)

    wms.put_reservation = down_after_reading
    res = handlers.reserve_materials(order(), uow, plant)
    assert not res.wms_synced and count(engine) == 1  # the ledger holds; the caller is answered

    assert wms_sync.sync_with_wms(uow, plant) == (0, 1)  # still down
    wms.put_reservation, wms.down = real_put, False
    assert wms_sync.sync_with_wms(uow, plant) == (1, 0)
    assert wms_sync.sync_with_wms(uow, plant) == (0, 0)
    assert wms.reservation("hardware", res.reservation_id) is not None


def test_a_model_without_a_bom_is_refused_unless_the_tenant_accepts_it(ledger):
    _engine, uow, plant, _wms = ledger
    with pytest.raises(FailedPrecondition, match="no BOM for ZZ-9 无图纸"):
        handlers.reserve_materials(order([MaterialLine("ZZ-9 无图纸", 5)]), uow, plant)
    accepting = Plant(
        "hardware",
        HW.model_copy(
            update={"inventory": HW.inventory.model_copy(update={"accept_models_without_bom": True})}
        ),
        plant.wms,
        plant.lock_rule,
    )
    res = handlers.reserve_materials(order([MaterialLine("ZZ-9 无图纸", 5), *SILVER_HINGES]), uow, accepting)
    assert list(res.lines) == [STEEL, SILVER]


def test_an_order_over_50000_cny_is_hard_locked_by_the_tenant_rule(ledger):
    engine, uow, plant, wms = ledger
    res = handlers.reserve_materials(order(amount_fen=5_000_001), uow, plant)
    assert (res.locked, res.lock_rule) == (True, "lock_large_orders")
    assert balances(engine)[STEEL] == (exact(1000), exact(600), exact(600))
    held = wms.reservation("hardware", res.reservation_id)
    assert held is not None and held.hard_lock
    small = handlers.reserve_materials(
        order([MaterialLine(HINGE, 1, "银色 silver")], amount_fen=5_000_000), uow, plant
    )
    assert not small.locked  # exactly 50,000 is not over it


def test_a_newer_revision_asked_directly_is_held_by_the_difference(ledger):
    engine, uow, plant, _wms = ledger
    first = order()
    handlers.reserve_materials(first, uow, plant)
    gold = [MaterialLine(HINGE, 6000, "金色 gold")]
    res = handlers.reserve_materials(order(gold, revision=2, order_id=first.order_id), uow, plant)
    assert res.revision == 2
    assert {m: (x.needed, x.reserved) for m, x in res.lines.items()} == {
        STEEL: (exact(720), exact(720)),
        SILVER: (0, 0),
        GOLD: (exact(12), exact(12)),
    }
    assert balances(engine) == {
        STEEL: (exact(1000), exact(720), 0),
        SILVER: (exact(15), 0, 0),
        GOLD: (exact(20), exact(12), 0),
    }
    assert [e for e, _ in outbox(engine)] == ["materials_reserved", "reservation_adjusted"]


def test_issue_goes_through_the_wms_first_and_takes_the_material_off_hand(ledger):
    engine, uow, plant, wms = ledger
    cmd = order()
    handlers.reserve_materials(cmd, uow, plant)
    wms.down = True
    with pytest.raises(Unavailable):
        handlers.issue_materials(cmd.order_id, uow, plant)
    assert balances(engine)[STEEL] == (exact(1000), exact(600), 0)  # nothing issued
    wms.down = False
    res = handlers.issue_materials(cmd.order_id, uow, plant)
    assert res.state is ReservationState.ISSUED and res.wms_synced
    assert balances(engine) == {STEEL: (exact(400), 0, 0), SILVER: (exact(5), 0, 0)}
    assert wms.stock("hardware", [STEEL])[STEEL].on_hand == 400
    with pytest.raises(FailedPrecondition, match="nothing is reserved"):
        handlers.issue_materials(cmd.order_id, uow, plant)
    with pytest.raises(FailedPrecondition, match="has no reservation"):
        handlers.issue_materials(str(uuid.uuid4()), uow, plant)


def test_what_a_change_adds_after_an_issue_is_a_new_wms_reservation(ledger):
    engine, uow, plant, wms = ledger
    first = order([MaterialLine(HINGE, 1000, "银色 silver")])  # 120 kg steel, 2 L silver
    res = handlers.reserve_materials(first, uow, plant)
    handlers.issue_materials(first.order_id, uow, plant)
    more = handlers.reserve_materials(
        order([MaterialLine(HINGE, 1500, "银色 silver")], revision=2, order_id=first.order_id), uow, plant
    )
    assert more.state is ReservationState.HELD and more.wms_synced
    assert {m: (x.reserved, x.issued) for m, x in more.lines.items()} == {
        STEEL: (exact(60), exact(120)),
        SILVER: (exact(1), exact(2)),
    }
    issued, held = wms.reservation("hardware", res.reservation_id), wms.reservation("hardware", more.wms_id)
    assert more.wms_id == f"{res.reservation_id}:2"
    assert issued is not None and issued.state == "issued"
    assert held is not None and held.lines == (WmsLine(STEEL, "kg", 60.0), WmsLine(SILVER, "L", 1.0))
    assert balances(engine)[STEEL] == (exact(880), exact(60), 0)


def test_check_and_stock_answer_available_as_on_hand_less_open_reservations(ledger):
    _engine, uow, plant, _wms = ledger
    handlers.reserve_materials(order(), uow, plant)
    checks, without = queries.check_materials(
        [MaterialLine(HINGE, 4000, "银色 silver"), MaterialLine("Q", 1)], uow, plant
    )
    assert without == ["Q"]
    assert [(c.material, c.needed, c.available, c.short) for c in checks] == [
        (STEEL, exact(480), exact(400), exact(80)),
        (SILVER, exact(8), exact(5), exact(3)),
    ]
    stock = {b.material: (on_hand, b.reserved) for b, on_hand in queries.material_stock([], uow, plant)}
    assert stock[STEEL] == (exact(1000), exact(600)) and stock[GOLD] == (exact(20), 0)


def test_dry_run_replays_a_candidate_beside_what_was_locked(ledger):
    _engine, uow, plant, _wms = ledger
    small = order([MaterialLine(HINGE, 10, "银色 silver")], amount_fen=4_000_000)
    large = order([MaterialLine(HINGE, 10, "银色 silver")], amount_fen=6_000_000)
    for cmd in (small, large):
        handlers.reserve_materials(cmd, uow, plant)

    same = queries.dry_run_rule(queries.DryRunRule(), uow, plant)
    assert (same.rule, same.replayed, same.would_lock, same.was_locked, same.differences) == (
        "lock_large_orders",
        2,
        1,
        1,
        [],
    )
    lower = queries.dry_run_rule(
        queries.DryRunRule(
            expression="order.amount_cny > params.amount_cny", params_json='{"amount_cny": 30000}'
        ),
        uow,
        plant,
    )
    assert [(c.order_id, c.would_lock, c.was_locked) for c in lower.differences] == [
        (small.order_id, True, False)
    ]

    for bad, field in (
        (queries.DryRunRule(expression="order.amount_cny >", params_json=""), "expression"),
        (queries.DryRunRule(expression="order.nothing > 1"), "expression"),
        (queries.DryRunRule(expression="true", params_json="{not json"), "params_json"),
        (queries.DryRunRule(expression="true", params_json="[1, 2]"), "params_json"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            queries.dry_run_rule(bad, uow, plant)
        assert [v.field for v in refused.value.violations] == [field]
    with pytest.raises(InvalidArgument) as refused:  # a merge rule is production's to replay
        queries.dry_run_rule(queries.DryRunRule(name="merge_same_configuration"), uow, plant)
    assert [v.field for v in refused.value.violations] == ["name"]


# The WMS pusher: an approval is answered once the ledger commits, the WMS is told from the
# pusher's thread; an outage costs it nothing but time (the job sends what it missed); a full
# queue puts the push back on the caller.


def synced(engine) -> dict[str, bool]:
    with engine.connect() as c:
        return {r.reservation_id: r.wms_synced for r in c.execute(select(reservations))}


def with_pusher(plant, uow, **options) -> tuple[wms_sync.WmsPusher, Plant]:
    pusher = wms_sync.WmsPusher(uow, lambda _tenant_id: pushing, **options)
    pushing = dataclasses.replace(plant, pusher=pusher)
    return pusher, pushing


def test_the_caller_is_answered_from_the_ledger_and_the_pusher_tells_the_wms(ledger):
    engine, uow, plant, wms = ledger
    pusher, pushing = with_pusher(plant, uow)
    try:
        res = handlers.reserve_materials(order(), uow, pushing)
        # the answer: held in the ledger, the WMS told after it (ListReservations shows when)
        assert not res.wms_synced
        assert balances(engine)[STEEL][1:] == (exact(600), 0)
        assert pusher.drain(5)
    finally:
        pusher.close()
    assert synced(engine) == {res.reservation_id: True}
    held = wms.reservation("hardware", res.reservation_id)
    assert held is not None and held.state == "open"
    assert held.lines == (WmsLine(STEEL, "kg", 600.0), WmsLine(SILVER, "L", 10.0))
    assert [c for c in wms.calls if c[0] == "put_reservation"] == [("put_reservation", res.reservation_id)]


def test_the_pusher_outlives_a_wms_outage_and_the_job_sends_what_it_missed(ledger):
    engine, uow, plant, wms = ledger
    pusher, pushing = with_pusher(plant, uow)
    real_put = wms.put_reservation

    def refused(*args, **kwargs):
        raise Unavailable("仓储系统暂不可用 WMS unavailable: retry")

    try:
        wms.put_reservation = refused  # the stock read answers, the push does not
        missed = handlers.reserve_materials(order(), uow, pushing)
        assert pusher.drain(5)
        assert synced(engine) == {missed.reservation_id: False}  # held in the ledger all the same

        wms.put_reservation = real_put  # back: the same pusher thread goes on
        later = handlers.reserve_materials(
            order(lines=[MaterialLine(HINGE, 1000, "银色 silver")]), uow, pushing
        )
        assert pusher.drain(5)
        assert synced(engine) == {missed.reservation_id: False, later.reservation_id: True}
    finally:
        pusher.close()
    assert wms_sync.sync_with_wms(uow, plant) == (1, 0)  # the job: what the pusher missed
    assert synced(engine) == {missed.reservation_id: True, later.reservation_id: True}
    assert wms.reservation("hardware", missed.reservation_id) is not None


def test_a_full_queue_puts_the_push_back_on_the_caller(ledger):
    engine, uow, plant, wms = ledger

    class Full:
        def submit(self, tenant_id: str, reservation_id: str) -> bool:
            return False

    res = handlers.reserve_materials(order(), uow, dataclasses.replace(plant, pusher=Full()))
    assert res.wms_synced and synced(engine) == {res.reservation_id: True}
    assert wms.reservation("hardware", res.reservation_id) is not None


def test_the_pusher_sends_what_the_ledger_holds_now_and_nothing_twice(ledger):
    engine, uow, plant, wms = ledger
    real_put = wms.put_reservation

    def refused(*args, **kwargs):
        raise Unavailable("仓储系统暂不可用 WMS unavailable: retry")

    wms.put_reservation = refused  # the callers' pushes fail
    cmd = order()
    res = handlers.reserve_materials(cmd, uow, plant)
    more = [MaterialLine(HINGE, 6000, "银色 silver")]  # 720 kg steel, 12 L silver plating
    handlers.reserve_materials(dataclasses.replace(cmd, revision=2, lines=more), uow, plant)
    assert synced(engine) == {res.reservation_id: False}
    wms.put_reservation = real_put
    # queued when revision 1 committed, pushed after revision 2 did: the WMS gets revision 2
    assert wms_sync.push_pending([res.reservation_id], uow, plant) == (1, 0)
    held = wms.reservation("hardware", res.reservation_id)
    assert held is not None and held.lines == (WmsLine(STEEL, "kg", 720.0), WmsLine(SILVER, "L", 12.0))
    assert synced(engine) == {res.reservation_id: True}
    assert wms_sync.push_pending([res.reservation_id], uow, plant) == (0, 0)  # nothing twice
    assert [c[0] for c in wms.calls].count("put_reservation") == 1


def test_a_retried_approval_is_answered_from_the_ledger_while_the_wms_is_down(ledger):
    engine, uow, plant, wms = ledger
    cmd = order()
    res = handlers.reserve_materials(cmd, uow, plant)
    wms.down = True
    again = handlers.reserve_materials(cmd, uow, plant)
    assert again.reservation_id == res.reservation_id and count(engine) == 1
    # a new order is another matter: the WMS must be read first
    with pytest.raises(Unavailable):
        handlers.reserve_materials(order(), uow, plant)
    assert count(engine) == 1
