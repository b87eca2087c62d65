"""Races on production's stage reports (#16), on real PostgreSQL: a 报工 racing the freeze of a
pending change (order_change_requested) either moved the stage before the freeze or is refused
as frozen; several reports of one order's work orders at once number their stage events 1, 2, 3…
with no gap and no repeat."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, select

from services.chassis.consumer import EventConsumer
from services.chassis.errors import FailedPrecondition
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.production.adapters.tables import work_orders
from services.production.app import definition, subscriptions
from services.production.consumers_batching import tenant_files_policy, with_batching
from services.production.domain.stages import Stage
from services.production.service_layer import handlers

pytestmark = pytest.mark.integration
LEAD = Identity("hardware", "王建国", frozenset({"workshop_lead"}))
ROUTED = {
    "product_model": "HB-2040 铰链 hinge",
    "quantity": 5000,
    "workshop": "stamping-1",
    "colour": "银色 silver",
    "route": ["stamping-1", "plating", "assembly"],
    "line_no": 1,
}


@pytest.fixture
def production(fresh_database) -> Iterator[tuple]:
    engine = create_engine(fresh_database("production"), pool_size=20, max_overflow=20)
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    consumer = EventConsumer(
        "production", with_batching(subscriptions(), tenant_files_policy), uow, ["hardware"]
    )
    yield engine, consumer, uow
    engine.dispose()


def order_event(event_type: str, order_id: str, n: int, data: dict) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-26T09:30:00+00:00",
            "data": {"order_id": order_id, "order_no": f"HW-20261126-{n:05d}", **data},
        },
        ensure_ascii=False,
    ).encode()


def approved_order(consumer, uow, n: int) -> tuple[str, list[str]]:
    order_id = str(uuid.uuid4())
    body = order_event(
        "order_approved", order_id, n, {"due_date": "2026-12-20", "version": 2, "lines": [ROUTED]}
    )
    assert consumer.handle("order.events", "order_approved", body) == "ok"
    with acting_as(LEAD), uow(read_only=True) as tx:
        return order_id, [w.work_order_id for w in tx.work_orders.for_order(order_id)]


def race(*actions: Callable[[], object]) -> list[object]:
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


def report(uow, work_order_id: str, stage: Stage) -> Callable[[], object]:
    def act() -> object:
        with acting_as(LEAD):
            return handlers.report_stage(handlers.ReportStage(work_order_id, stage, 10, 0, "夜班"), uow)

    return act


def stage_events(engine, order_id: str) -> list[dict]:
    table = definition.metadata.tables["outbox"]
    with engine.connect() as c:
        rows = c.execute(
            select(table.c.body).where(table.c.event_type == "work_order_stage_changed").order_by(table.c.id)
        )
        return [d for d in (json.loads(r.body)["data"] for r in rows) if d["order_id"] == order_id]


def stages(engine, order_id: str) -> dict[str, tuple[str, bool]]:
    with engine.connect() as c:
        rows = c.execute(select(work_orders).where(work_orders.c.order_id == order_id)).all()
    return {r.work_order_id: (r.stage, r.frozen) for r in rows}


def test_a_stage_report_racing_the_freeze_moved_before_it_or_is_refused(production):
    engine, consumer, uow = production
    moved = refused = 0
    for n in range(1, 9):
        order_id, [stamping, *_] = approved_order(consumer, uow, n)
        freeze = order_event(
            "order_change_requested", order_id, n, {"version": 3, "change_id": f"c-{n}", "revision": 1}
        )

        reported, frozen = race(
            report(uow, stamping, Stage.IN_PROCESS),
            lambda body=freeze: consumer.handle("order.events", "order_change_requested", body),
        )

        assert frozen == "ok", frozen
        after = stages(engine, order_id)
        assert all(is_frozen for _stage, is_frozen in after.values())  # the freeze always lands
        events = stage_events(engine, order_id)
        if isinstance(reported, Exception):
            assert isinstance(reported, FailedPrecondition) and "工单已冻结" in str(reported), reported
            assert after[stamping][0] == "STAGE_TO_SCHEDULE" and events == []
            refused += 1
        else:
            assert after[stamping][0] == "STAGE_IN_PROCESS"
            assert [(e["work_order_id"], int(e["sequence"])) for e in events] == [
                (stamping, 1)
            ]  # int64: JSON text
            moved += 1
        # frozen now, whichever went first: a further report is refused
        with pytest.raises(FailedPrecondition, match="工单已冻结"):
            report(uow, stamping, Stage.QC_PASSED)()
    assert moved + refused == 8


def test_reports_of_one_orders_work_orders_at_once_number_their_events_without_a_gap(production):
    engine, consumer, uow = production
    order_id, wos = approved_order(consumer, uow, 1)
    for stage in (Stage.IN_PROCESS, Stage.QC_PASSED):
        answers = race(*[report(uow, w, stage) for w in wos for _ in range(2)])  # each work order twice
        assert not [a for a in answers if isinstance(a, Exception)], answers

    events = stage_events(engine, order_id)
    assert sorted(int(e["sequence"]) for e in events) == list(range(1, len(events) + 1))
    assert len(events) == 2 * len(wos)  # one per move; a repeated report of the same stage is progress
    assert {e["work_order_id"] for e in events} == set(wos)
