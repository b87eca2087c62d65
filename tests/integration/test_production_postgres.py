"""production on real PostgreSQL: work orders per routed workshop from order_approved (each event
once); a second approval of the same order is applied to the work orders it already made, not
dead-lettered over a duplicate work-order number; an older version arriving late changes
nothing; the change flow (freeze → stage report refused → change approved → revised, not
re-made, the old revision readable); the exact payloads of the stage and material events;
constraint violations reach the code as domain errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, func, insert, select

from services.chassis.consumer import EventConsumer
from services.chassis.errors import Duplicate, FailedPrecondition
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.production.adapters.tables import (
    production_orders,
    work_order_lines,
    work_order_revisions,
    work_order_stage_reports,
    work_orders,
)
from services.production.app import definition, subscriptions
from services.production.domain.stages import Stage
from services.production.service_layer import handlers

pytestmark = pytest.mark.integration
ORDER = str(uuid.uuid4())


@pytest.fixture
def production(fresh_database):
    engine = create_engine(fresh_database("production"))
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    consumer = EventConsumer("production", subscriptions(), uow, ["hardware"])
    yield engine, consumer, uow
    engine.dispose()


def order_event(event_type: str, data: dict) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-25T09:30:00+00:00",
            "data": {"order_id": ORDER, "order_no": "HW-20261125-00007", **data},
        },
        ensure_ascii=False,
    ).encode()


def approved(version: int, lines: list[dict], due: str = "2026-12-20") -> bytes:
    return order_event(
        "order_approved",
        {
            "customer_id": str(uuid.uuid4()),
            "priority": "PRIORITY_NORMAL",
            "due_date": due,
            "version": version,
            "lines": lines,
            "approved_by": "王经理",
        },
    )


SILVER = {
    "product_model": "HB-2040 铰链 hinge",
    "quantity": 5000,
    "workshop": "stamping-1",
    "colour": "银色 silver",
}
GOLD = {**SILVER, "colour": "金色 gold", "quantity": 6000}
BRACKET = {"product_model": "BK-310 支架 bracket", "quantity": 2000, "workshop": "assembly"}


def state(engine) -> dict[str, tuple]:
    with engine.connect() as c:
        wos = {r.work_order_id: r for r in c.execute(select(work_orders))}
        lines = c.execute(select(work_order_lines).order_by(work_order_lines.c.line_no)).all()
    return {
        wo.work_order_no: (
            wo.workshop,
            wo.order_version,
            str(wo.due_date),
            [(ln.product_model, ln.quantity, ln.colour) for ln in lines if ln.work_order_id == wid],
        )
        for wid, wo in wos.items()
    }


def test_a_second_approval_revises_the_work_orders_and_an_older_one_changes_nothing(production):
    engine, consumer, _uow = production
    assert consumer.handle("order.events", "order_approved", approved(2, [SILVER])) == "ok"
    first = state(engine)
    assert list(first) == ["WO-HW-20261125-00007-01"]

    # silver -> gold, more pieces, a later date, and a bracket line for assembly
    assert (
        consumer.handle("order.events", "order_approved", approved(3, [GOLD, BRACKET], "2026-12-24")) == "ok"
    )
    revised = state(engine)
    assert revised == {
        "WO-HW-20261125-00007-01": (
            "stamping-1",
            3,
            "2026-12-24",
            [("HB-2040 铰链 hinge", 6000, "金色 gold")],
        ),
        "WO-HW-20261125-00007-02": ("assembly", 3, "2026-12-24", [("BK-310 支架 bracket", 2000, "")]),
    }

    # version 2 again, late (a retry or a parallel relay): stale, nothing changes
    assert consumer.handle("order.events", "order_approved", approved(2, [SILVER])) == "stale"
    assert state(engine) == revised


def test_a_unique_violation_is_a_duplicate_domain_error(production):
    engine, _consumer, uow = production
    row = dict(
        work_order_id=str(uuid.uuid4()),
        tenant_id="hardware",
        work_order_no="WO-X-01",
        order_id=ORDER,
        order_no="X",
        workshop="stamping-1",
        stage="STAGE_TO_SCHEDULE",
        due_date=date(2026, 12, 20),
        created_at=datetime.now(UTC),
    )
    with acting_as(Identity("hardware", "t")), uow() as tx:
        tx.connection.execute(insert(work_orders).values(**row))
        with pytest.raises(Duplicate) as caught:
            tx.connection.execute(insert(work_orders).values(**{**row, "work_order_id": str(uuid.uuid4())}))
    assert caught.value.constraint == "uq_work_orders_tenant_no"
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(work_orders)).scalar_one() == 0


def test_the_same_event_delivered_twice_at_once_is_applied_once(production):
    """Two deliveries of one event racing (two replicas, a redelivery): the inbox claim is the
    first statement, so the second waits on the first's row and then finds it: one set of work
    orders, one 'ok', one 'duplicate'."""
    import threading

    engine, consumer, _uow = production
    body = approved(2, [SILVER, BRACKET])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(consumer.handle("order.events", "order_approved", body))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["duplicate", "ok"]
    assert len(state(engine)) == 2


ROUTE = ["stamping-1", "plating", "assembly"]
ROUTED_SILVER = {**SILVER, "line_no": 1, "route": ROUTE, "packaging": "纸箱 carton"}
ROUTED_GOLD = {**ROUTED_SILVER, "colour": "金色 gold", "quantity": 6000}
SHOP_LEAD = Identity("hardware", "王建国", frozenset({"workshop_lead"}))


def outbox(engine, event_type: str) -> list[dict]:
    table = definition.metadata.tables["outbox"]
    with engine.connect() as c:
        rows = c.execute(select(table.c.body).where(table.c.event_type == event_type).order_by(table.c.id))
        return [json.loads(r.body)["data"] for r in rows]


def report(uow, work_order_id: str, stage: Stage, good: int = 0, scrap: int = 0):
    with acting_as(SHOP_LEAD):
        return handlers.report_stage(handlers.ReportStage(work_order_id, stage, good, scrap, "首批"), uow)


def test_an_order_routed_through_three_workshops_gets_three_work_orders_once(production):
    engine, consumer, _uow = production
    body = approved(2, [ROUTED_SILVER, {**BRACKET, "line_no": 2, "route": ["stamping-1"]}])

    assert consumer.handle("order.events", "order_approved", body) == "ok"
    assert consumer.handle("order.events", "order_approved", body) == "duplicate"

    with engine.connect() as c:
        rows = c.execute(select(work_orders).order_by(work_orders.c.work_order_no)).all()
    assert [(r.work_order_no, r.workshop, r.step, r.revision) for r in rows] == [
        ("WO-HW-20261125-00007-01", "stamping-1", 1, 1),
        ("WO-HW-20261125-00007-02", "plating", 2, 1),
        ("WO-HW-20261125-00007-03", "assembly", 3, 1),
    ]
    created = outbox(engine, "work_order_created")
    assert [(e["workshop"], e.get("step")) for e in created] == [
        ("stamping-1", 1),
        ("plating", 2),
        ("assembly", 3),
    ]
    assert created[1]["requirements"] == [
        {"material": "镀银液 silver plating solution", "unit": "L", "quantity": 10.0}
    ]


def test_freeze_refuses_stage_reports_and_an_approved_change_revises_keeping_the_old_revision(production):
    engine, consumer, uow = production
    consumer.handle("order.events", "order_approved", approved(2, [ROUTED_SILVER]))
    with acting_as(SHOP_LEAD), uow(read_only=True) as tx:
        stamping, plating, _assembly = tx.work_orders.for_order(ORDER)
    report(uow, stamping.work_order_id, Stage.IN_PROCESS, good=1200, scrap=15)

    requested = order_event(
        "order_change_requested",
        {"version": 3, "change_id": "c-1", "revision": 1, "requested_by": "张三", "reason": "客户改金色"},
    )
    assert consumer.handle("order.events", "order_change_requested", requested) == "ok"
    assert consumer.handle("order.events", "order_change_requested", requested) == "duplicate"
    with pytest.raises(FailedPrecondition, match="工单已冻结"):
        report(uow, stamping.work_order_id, Stage.QC_PASSED)

    changed = order_event(
        "order_changed",
        {
            "version": 4,
            "change_id": "c-1",
            "revision": 2,
            "previous_revision": 1,
            "approved_by": "王经理",
            "reason": "客户改金色",
            "due_date": "2026-12-24",
            "lines": [ROUTED_GOLD],
        },
    )
    assert consumer.handle("order.events", "order_changed", changed) == "ok"

    with engine.connect() as c:
        rows = c.execute(select(work_orders).order_by(work_orders.c.work_order_no)).all()
        old = c.execute(
            select(work_order_revisions).where(work_order_revisions.c.work_order_id == plating.work_order_id)
        ).one()
        order_row = c.execute(select(production_orders)).one()
    # revised, not re-created: the same three work orders, stage and pieces kept, unfrozen
    assert [(r.work_order_id, r.revision, r.frozen, r.cancelled) for r in rows] == [
        (stamping.work_order_id, 2, False, False),
        (plating.work_order_id, 2, False, False),
        (rows[2].work_order_id, 2, False, False),
    ]
    assert (rows[0].stage, rows[0].good_quantity, rows[0].scrap_quantity) == ("STAGE_IN_PROCESS", 1200, 15)
    assert (order_row.revision, order_row.frozen, order_row.order_version) == (2, False, 4)
    assert (old.revision, str(old.due_date), old.lines[0]["colour"], old.change_id) == (
        1,
        "2026-12-20",
        "银色 silver",
        "c-1",
    )
    with acting_as(SHOP_LEAD):
        wo, history = handlers.work_order_revisions(plating.work_order_id, uow)
    assert [(r.revision, r.requirements) for r in history] == [
        (1, {("镀银液 silver plating solution", "L"): 10.0})
    ]
    assert wo.requirements == {("镀金液 gold plating solution", "L"): 12.0}
    assert [e["changes"] for e in outbox(engine, "work_order_revised")][1] == [
        {
            "line_no": 1,
            "product_model": "HB-2040 铰链 hinge",
            "field": "quantity",
            "before": "5000",
            "after": "6000",
        },
        {
            "line_no": 1,
            "product_model": "HB-2040 铰链 hinge",
            "field": "colour",
            "before": "银色 silver",
            "after": "金色 gold",
        },
    ]
    # the work goes on from where it was
    report(uow, stamping.work_order_id, Stage.QC_PASSED)


def test_stage_and_material_events_carry_exactly_the_contract(production):
    engine, consumer, uow = production
    consumer.handle("order.events", "order_approved", approved(2, [ROUTED_SILVER]))
    with acting_as(SHOP_LEAD), uow(read_only=True) as tx:
        stamping, plating, assembly = tx.work_orders.for_order(ORDER)
    report(uow, stamping.work_order_id, Stage.IN_PROCESS, good=100, scrap=2)
    report(uow, stamping.work_order_id, Stage.IN_PROCESS, good=50)  # progress: no event
    report(uow, plating.work_order_id, Stage.IN_PROCESS)

    events = outbox(engine, "work_order_stage_changed")
    for e in events:
        assert datetime.fromisoformat(e.pop("changed_at")).tzinfo is not None
    assert events == [
        {
            "work_order_id": stamping.work_order_id,
            "work_order_no": "WO-HW-20261125-00007-01",
            "order_id": ORDER,
            "order_no": "HW-20261125-00007",
            "workshop": "stamping-1",
            "stage": "STAGE_IN_PROCESS",
            "previous_stage": "STAGE_TO_SCHEDULE",
            "order_stage": "STAGE_TO_SCHEDULE",
            "sequence": "1",
        },
        {
            "work_order_id": plating.work_order_id,
            "work_order_no": "WO-HW-20261125-00007-02",
            "order_id": ORDER,
            "order_no": "HW-20261125-00007",
            "workshop": "plating",
            "stage": "STAGE_IN_PROCESS",
            "previous_stage": "STAGE_TO_SCHEDULE",
            "order_stage": "STAGE_TO_SCHEDULE",  # assembly has not started
            "sequence": "2",
        },
    ]
    with engine.connect() as c:
        reports = c.execute(select(work_order_stage_reports).order_by(work_order_stage_reports.c.id)).all()
    assert [
        (r.reported_by, r.from_stage, r.to_stage, r.good_quantity, r.scrap_quantity) for r in reports
    ] == [
        ("王建国", "STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS", 100, 2),
        ("王建国", "STAGE_IN_PROCESS", "STAGE_IN_PROCESS", 50, 0),
        ("王建国", "STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS", 0, 0),
    ]

    changed = order_event(
        "order_changed",
        {
            "version": 5,
            "change_id": "c-9",
            "revision": 2,
            "previous_revision": 1,
            "due_date": "2026-12-20",
            "lines": [ROUTED_GOLD],
        },
    )
    consumer.handle("order.events", "order_changed", changed)
    assert outbox(engine, "material_requirements_changed") == [
        {
            "order_id": ORDER,
            "order_no": "HW-20261125-00007",
            "revision": 2,
            "previous_revision": 1,
            "change_id": "c-9",
            "work_orders": [
                {
                    "work_order_id": stamping.work_order_id,
                    "work_order_no": "WO-HW-20261125-00007-01",
                    "workshop": "stamping-1",
                    "revision": 2,
                    "materials": [
                        {
                            "material": "SPCC 冷轧钢板 cold-rolled steel",
                            "unit": "kg",
                            "before": 600.0,
                            "after": 720.0,
                        }
                    ],
                },
                {
                    "work_order_id": plating.work_order_id,
                    "work_order_no": "WO-HW-20261125-00007-02",
                    "workshop": "plating",
                    "revision": 2,
                    "materials": [
                        {"material": "镀金液 gold plating solution", "unit": "L", "after": 12.0},
                        {"material": "镀银液 silver plating solution", "unit": "L", "before": 10.0},
                    ],
                },
                {
                    "work_order_id": assembly.work_order_id,
                    "work_order_no": "WO-HW-20261125-00007-03",
                    "workshop": "assembly",
                    "revision": 2,
                },
            ],
        }
    ]


def test_a_change_cancelling_the_order_cancels_every_work_order_once(production):
    engine, consumer, _uow = production
    consumer.handle("order.events", "order_approved", approved(2, [ROUTED_SILVER]))
    changed = order_event(
        "order_changed", {"version": 4, "change_id": "c-2", "revision": 1, "cancels_order": True, "lines": []}
    )
    cancelled = order_event("order_cancelled", {"version": 4, "reason": "客户取消"})
    assert consumer.handle("order.events", "order_changed", changed) == "ok"
    assert consumer.handle("order.events", "order_cancelled", cancelled) == "ok"
    with engine.connect() as c:
        assert c.execute(select(work_orders.c.cancelled)).scalars().all() == [True, True, True]
    assert len(outbox(engine, "work_order_cancelled")) == 3


def test_stage_reports_of_one_order_racing_get_consecutive_sequences(production):
    """Two workshops report at the same moment: the order's row is locked first, so each report
    sees the other's result; sequences 1 and 2, and the later one knows the order moved on."""
    import threading

    engine, consumer, uow = production
    consumer.handle(
        "order.events", "order_approved", approved(2, [{**ROUTED_SILVER, "route": ["stamping-1", "plating"]}])
    )
    with acting_as(SHOP_LEAD), uow(read_only=True) as tx:
        ids = [w.work_order_id for w in tx.work_orders.for_order(ORDER)]
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def go(work_order_id: str) -> None:
        barrier.wait()
        try:
            report(uow, work_order_id, Stage.IN_PROCESS)
        except Exception as exc:  # shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events = outbox(engine, "work_order_stage_changed")
    assert sorted(e["sequence"] for e in events) == ["1", "2"]
    last = max(events, key=lambda e: int(e["sequence"]))
    assert last["order_stage"] == "STAGE_IN_PROCESS"  # both in process: the order is too
    with engine.connect() as c:
        assert c.execute(select(production_orders.c.stage_sequence)).scalar_one() == 2
