"""售后申请 after-sales requests in the order service, on SQLite: raised about an order the caller
may see, once per request_id, the event its sales owner hears from; a portal account neither
raises one about another customer's order nor reads another customer's."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from services.chassis.db import make_engine
from services.chassis.errors import AlreadyExists, InvalidArgument, NotFound
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.order.adapters.tables import metadata
from services.order.app import definition
from services.order.domain.after_sales import Kind
from services.order.domain.model import Channel, OptionLibrary, OrderLine, Priority
from services.order.service_layer import after_sales, handlers
from tests.unit.fakes import FakeCustomers, FakeNumbers

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
SALES = Identity("hardware", "陈丽", frozenset({"sales"}))
MIDEA, SUPOR = "c-midea", "c-supor"
PORTAL = Identity("hardware", "美的采购", frozenset({"customer"}), customer_id=MIDEA)


@pytest.fixture
def uow(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'order.db'}")
    upgrade(definition.migrations_dir, engine)
    yield unit_of_work_factory(definition, engine)
    engine.dispose()


def order_for(uow, customer: str):
    cmd = handlers.CreateOrder(
        customer_id=customer,
        channel=Channel.DIRECT,
        priority=Priority.NORMAL,
        due_date=date(2026, 12, 20),
        lines=[OrderLine("HB-2040", 300, "stamping-1")],
    )
    numbers = FakeNumbers()
    with acting_as(SALES):
        return handlers.create_order(cmd, uow, FakeCustomers(MIDEA, SUPOR), OptionLibrary(), "HW", numbers)


def submit(uow, order_id: str, request_id: str = "req-00000001", description: str = "镀层起泡"):
    cmd = after_sales.SubmitAfterSales(order_id, Kind.QUALITY, description, request_id)
    return after_sales.submit(cmd, uow, clock=lambda: NOW)


def outbox(uow) -> list[tuple[str, dict]]:
    with uow(read_only=True) as tx:
        rows = tx.connection.execute(select(metadata.tables["outbox"])).all()
    wanted = [r for r in rows if r.event_type == "after_sales_requested"]
    return [(r.event_type, json.loads(r.body)["data"]) for r in wanted]


def test_a_portal_account_raises_one_about_its_own_order_and_the_event_says_who_and_what(uow):
    order = order_for(uow, MIDEA)
    with acting_as(PORTAL):
        made = submit(uow, order.order_id, description="  第2批 200 件镀层起泡  ")
    assert (made.order_no, made.customer_id, made.kind, made.description, made.submitted_by) == (
        order.order_no,
        MIDEA,
        Kind.QUALITY,
        "第2批 200 件镀层起泡",
        "美的采购",
    )
    assert outbox(uow) == [
        (
            "after_sales_requested",
            {
                "after_sales_id": made.after_sales_id,
                "order_id": order.order_id,
                "order_no": order.order_no,
                "customer_id": MIDEA,
                "kind": "AFTER_SALES_KIND_QUALITY",
                "description": "第2批 200 件镀层起泡",
                "submitted_by": "美的采购",
                "submitted_at": "2026-11-26T09:30:00+00:00",
            },
        )
    ]


def test_the_same_request_id_answers_the_first_request_and_another_content_is_refused(uow):
    order = order_for(uow, MIDEA)
    with acting_as(PORTAL):
        first = submit(uow, order.order_id)
        again = submit(uow, order.order_id)
        assert again.after_sales_id == first.after_sales_id
        with pytest.raises(AlreadyExists):
            submit(uow, order.order_id, description="另一件事")
    assert len(outbox(uow)) == 1


def test_another_customers_order_is_not_found_and_its_requests_are_not_listed(uow):
    mine, theirs = order_for(uow, MIDEA), order_for(uow, SUPOR)
    with acting_as(SALES):
        submit(uow, theirs.order_id, request_id="req-supor-0001")
    with acting_as(PORTAL):
        with pytest.raises(NotFound):
            submit(uow, theirs.order_id, request_id="req-portal-001")
        submit(uow, mine.order_id, request_id="req-portal-002")
        assert [r.customer_id for r in after_sales.list_requests("", uow)] == [MIDEA]
        assert after_sales.list_requests(theirs.order_id, uow) == []
    with acting_as(SALES):
        assert sorted(r.customer_id for r in after_sales.list_requests("", uow)) == [MIDEA, SUPOR]
    with acting_as(Identity("autoparts", "吴晓燕", frozenset({"sales"}))):
        assert after_sales.list_requests("", uow) == []  # another business line's


def test_a_blank_description_is_refused_by_field(uow):
    order = order_for(uow, MIDEA)
    with acting_as(PORTAL), pytest.raises(InvalidArgument) as refused:
        submit(uow, order.order_id, description=" \n ")
    assert [v.field for v in refused.value.violations] == ["description"]
