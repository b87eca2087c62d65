"""Where each order line is on the shop floor: the pure rule (services/order/domain/progress.py)
and ListOrderProgress's reads on SQLite (a portal account sees its own orders' only; an order not
yet approved has no progress)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import update

from services.chassis.db import make_engine
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.order.adapters.tables import order_lines, orders
from services.order.app import definition
from services.order.domain.model import Channel, OptionLibrary, OrderLine, Priority
from services.order.domain.progress import line_progress
from services.order.service_layer import handlers
from services.order.service_layer.progress import progress_of
from tests.unit.fakes import FakeCustomers, FakeNumbers

HINGE = ("stamping-1", "plating", "assembly")


def summary(routes, reported) -> list[tuple[int, str, str]]:
    return [(p.line_no, p.stage, p.workshop) for p in line_progress(routes, reported)]


def test_a_line_not_started_waits_at_its_first_workshop():
    assert summary({1: HINGE}, {}) == [(1, "STAGE_TO_SCHEDULE", "stamping-1")]


def test_a_line_stamped_and_waiting_for_plating_is_in_process_at_plating():
    reported = {"stamping-1": ("STAGE_QC_PASSED", "WO-1-01")}
    assert summary({1: HINGE}, reported) == [(1, "STAGE_IN_PROCESS", "plating")]


def test_a_line_done_everywhere_is_as_far_as_its_least_advanced_workshop():
    reported = {"stamping-1": ("STAGE_READY_TO_SHIP", "WO-1-01"), "plating": ("STAGE_QC_PASSED", "WO-1-02")}
    assert summary({1: ("stamping-1", "plating")}, reported) == [(1, "STAGE_QC_PASSED", "plating")]


def test_each_line_follows_its_own_route_and_its_steps_name_the_work_orders():
    reported = {"stamping-1": ("STAGE_IN_PROCESS", "WO-1-01")}
    progress = line_progress({2: ("stamping-1",), 1: HINGE, 3: ()}, reported)
    assert [(p.line_no, p.stage, p.workshop) for p in progress] == [
        (1, "STAGE_IN_PROCESS", "stamping-1"),
        (2, "STAGE_IN_PROCESS", "stamping-1"),
    ]
    assert [(s.workshop, s.stage, s.work_order_no) for s in progress[0].steps] == [
        ("stamping-1", "STAGE_IN_PROCESS", "WO-1-01"),
        ("plating", "STAGE_TO_SCHEDULE", ""),
        ("assembly", "STAGE_TO_SCHEDULE", ""),
    ]


# --- ListOrderProgress's reads on SQLite ----------------------------------------------------------

SALES = Identity("hardware", "陈丽", frozenset({"sales"}))
SERVICE = Identity("hardware", "svc:order", frozenset({"service"}))
MIDEA, SUPOR = "c-midea", "c-supor"


@pytest.fixture
def uow(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'order.db'}")
    upgrade(definition.migrations_dir, engine)
    factory = unit_of_work_factory(definition, engine)
    factory.engine = engine
    factory.numbers = FakeNumbers()  # one source of order numbers for the test's orders
    yield factory
    engine.dispose()


def order_for(uow, customer: str, *, approved: bool) -> str:
    cmd = handlers.CreateOrder(
        customer_id=customer,
        channel=Channel.DIRECT,
        priority=Priority.NORMAL,
        due_date=date(2026, 12, 20),
        lines=[OrderLine("HB-2040", 300, "stamping-1"), OrderLine("BK-310", 50, "stamping-1")],
    )
    with acting_as(SALES):
        order = handlers.create_order(
            cmd, uow, FakeCustomers(MIDEA, SUPOR), OptionLibrary(), "HW", uow.numbers
        )
    with uow.engine.begin() as c:
        if approved:
            c.execute(
                update(orders).where(orders.c.order_id == order.order_id).values(state="ORDER_STATE_APPROVED")
            )
        c.execute(
            update(order_lines)
            .where(order_lines.c.order_id == order.order_id, order_lines.c.line_no == 1)
            .values(route=list(HINGE))
        )
    return order.order_id


def test_the_progress_of_approved_orders_the_caller_may_see(uow):
    mine, theirs = order_for(uow, MIDEA, approved=True), order_for(uow, SUPOR, approved=True)
    waiting = order_for(uow, MIDEA, approved=False)
    with acting_as(SERVICE), uow() as tx:  # production's report, as follow_production stores it
        tx.progress.moved(str(uuid.uuid4()), mine, "WO-1-01", "stamping-1", "STAGE_QC_PASSED")
        tx.commit()
    with acting_as(SALES):
        found = progress_of([mine, theirs, waiting], uow)
    assert set(found) == {mine, theirs}  # not approved: no work orders, no progress
    assert [(p.line_no, p.stage, p.workshop) for p in found[mine]] == [
        (1, "STAGE_IN_PROCESS", "plating"),  # stamped, waiting for plating
        (2, "STAGE_QC_PASSED", "stamping-1"),  # its route is its one workshop
    ]
    portal = Identity("hardware", "美的采购", frozenset({"customer"}), customer_id=MIDEA)
    with acting_as(portal):
        assert set(progress_of([mine, theirs], uow)) == {mine}
    with acting_as(Identity("autoparts", "吴晓燕", frozenset({"sales"}))):
        assert progress_of([mine], uow) == {}
