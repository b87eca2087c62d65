"""The order service following production's work orders (services/order/consumers.py, on SQLite):
events arriving out of order leave each work order as its newest fact says."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from services.chassis.db import make_engine
from services.chassis.events import ReceivedEvent
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.order import consumers
from services.order.adapters.tables import work_order_progress
from services.order.app import definition

SERVICE = Identity("hardware", "svc:order", frozenset({"service"}))
ORDER, WO = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def uow(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'order.db'}")
    upgrade(definition.migrations_dir, engine)
    yield unit_of_work_factory(definition, engine)
    engine.dispose()


def event(event_type: str, **data) -> ReceivedEvent:
    base = {"work_order_id": WO, "work_order_no": "WO-HW-1-01", "order_id": ORDER, "workshop": "plating"}
    return ReceivedEvent(
        str(uuid.uuid4()), event_type, "hardware", "production", "2026-11-26T02:00:00+00:00", base | data
    )


def apply(uow, handler, received: ReceivedEvent) -> None:
    with acting_as(SERVICE), uow() as tx:
        handler(received, tx)
        tx.commit()


def stored(uow) -> list[tuple[int, str, list[int], bool]]:
    with uow(read_only=True) as tx:
        rows = tx.connection.execute(select(work_order_progress)).all()
    return [(r.step, r.stage, json.loads(r.line_nos), r.cancelled) for r in rows]


def test_a_creation_arriving_after_a_revision_keeps_the_revisions_lines(uow):
    lines = [{"line_no": 1}, {"line_no": 3}]
    revised = event("work_order_revised", step=2, stage="STAGE_IN_PROCESS", revision=2, lines=lines)
    apply(uow, consumers.track_work_order_revised, revised)
    apply(
        uow, consumers.track_work_order_created, event("work_order_created", step=2, lines=[{"line_no": 1}])
    )
    assert stored(uow) == [(2, "STAGE_IN_PROCESS", [1, 3], False)]


def test_a_stage_report_before_the_creation_keeps_its_stage_and_the_creation_brings_the_lines(uow):
    with acting_as(SERVICE), uow() as tx:  # what follow_production stores of a report
        tx.progress.moved(WO, ORDER, "WO-HW-1-01", "plating", "STAGE_IN_PROCESS")
        tx.commit()
    apply(
        uow, consumers.track_work_order_created, event("work_order_created", step=2, lines=[{"line_no": 1}])
    )
    assert stored(uow) == [(2, "STAGE_IN_PROCESS", [1], False)]
    apply(uow, consumers.track_work_order_cancelled, event("work_order_cancelled", stage="STAGE_IN_PROCESS"))
    assert stored(uow) == [(2, "STAGE_IN_PROCESS", [1], True)]


@pytest.mark.parametrize(
    "data",
    [
        {"lines": []},  # makes nothing
        {"lines": [{"line_no": 0}]},  # a line without its order line number
        {"work_order_no": "", "lines": [{"line_no": 1}]},
        {"workshop": "x" * 40, "lines": [{"line_no": 1}]},
    ],
)
def test_a_work_order_event_no_retry_can_apply_is_malformed(uow, data):
    from services.chassis.events import MalformedEvent

    with pytest.raises(MalformedEvent):
        apply(uow, consumers.track_work_order_created, event("work_order_created", step=1, **data))
    assert stored(uow) == []
