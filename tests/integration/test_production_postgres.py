"""production's order_approved consumer on real PostgreSQL: a second approval of the same order
(version 3, after an approved change) is applied to the work orders it already made, not
dead-lettered over a duplicate work-order number; an older version arriving late changes
nothing; constraint violations reach the code as domain errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, func, insert, select

from services.chassis.consumer import EventConsumer
from services.chassis.errors import Duplicate
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.production.adapters.tables import work_order_lines, work_orders
from services.production.app import definition, subscriptions

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


def approved(version: int, lines: list[dict], due: str = "2026-12-20") -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "order_approved",
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-25T09:30:00+00:00",
            "data": {
                "order_id": ORDER,
                "order_no": "HW-20261125-00007",
                "customer_id": str(uuid.uuid4()),
                "priority": "PRIORITY_NORMAL",
                "due_date": due,
                "version": version,
                "lines": lines,
                "approved_by": "王经理",
            },
        },
        ensure_ascii=False,
    ).encode()


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
