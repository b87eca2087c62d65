"""The order service's handlers and repository on real PostgreSQL: numbering and optimistic
concurrency under parallel callers, tenant and customer scoping in every query."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select

from services.chassis.errors import FailedPrecondition, NotFound, VersionConflict
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.order.adapters.tables import metadata, orders
from services.order.app import definition
from services.order.domain.model import Channel, OptionLibrary, OrderLine, OrderState, Priority
from services.order.service_layer import handlers
from services.order.service_layer.ports import Shortfall

pytestmark = pytest.mark.integration
SALES = Identity("hardware", "陈丽", frozenset({"sales", "approver"}))
CUSTOMER = str(uuid.uuid4())


class KnownCustomers:
    def exists(self, customer_id: str) -> bool:
        return customer_id == CUSTOMER


class PlentyOfStock:
    def shortfalls(self, quantities: dict[str, int]) -> list[Shortfall]:
        return []


@pytest.fixture
def uow(fresh_database):
    engine = create_engine(fresh_database("order"), pool_size=20)
    upgrade(definition.migrations_dir, engine)
    yield unit_of_work_factory(definition, engine)
    engine.dispose()


def create(uow, request_id: str = "") -> object:
    cmd = handlers.CreateOrder(
        customer_id=CUSTOMER,
        channel=Channel.AGENT,
        priority=Priority.NORMAL,
        due_date=date.today() + timedelta(days=14),
        lines=[OrderLine("SP-08 弹片 spring clip", 10000, "stamping-1")],
        request_id=request_id,
    )
    return handlers.create_order(cmd, uow, KnownCustomers(), OptionLibrary(), "HW")


def in_parallel(n: int, fn) -> tuple[list, list[Exception]]:
    results, errors = [], []
    barrier = threading.Barrier(n)

    def run():
        with acting_as(SALES):
            barrier.wait()
            try:
                results.append(fn())
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_parallel_orders_get_unique_consecutive_numbers(uow):
    created, errors = in_parallel(12, lambda: create(uow))
    assert errors == []
    numbers = sorted(o.order_no for o in created)
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 13))


def test_parallel_resubmissions_of_one_form_make_one_order(uow):
    created, errors = in_parallel(8, lambda: create(uow, request_id="phone-form-7f3a"))
    assert errors == []
    assert len({o.order_id for o in created}) == 1
    with uow() as tx:
        assert tx.connection.execute(select(func.count()).select_from(orders)).scalar_one() == 1


def test_parallel_approvals_of_one_order_approve_it_once(uow):
    with acting_as(SALES):
        order = create(uow)
    approve = handlers.ApproveOrder(order.order_id, expected_version=order.version)
    approved, errors = in_parallel(6, lambda: handlers.approve_order(approve, uow, PlentyOfStock()))
    assert len(approved) == 1
    assert len(errors) == 5 and all(isinstance(e, VersionConflict | FailedPrecondition) for e in errors)
    with uow() as tx:
        outbox = metadata.tables["outbox"]
        rows = tx.connection.execute(select(outbox.c.event_type)).scalars().all()
    assert sorted(rows) == ["order_approved", "order_created"]  # one approval event, not six


def test_queries_are_scoped_to_tenant_and_portal_customer(uow):
    with acting_as(SALES):
        order = create(uow)
    with acting_as(Identity("autoparts", "吴晓燕", frozenset({"sales"}))), pytest.raises(NotFound):
        handlers.get_order(order.order_id, uow)
    with acting_as(Identity("hardware", "portal", frozenset({"customer"}), customer_id=str(uuid.uuid4()))):
        with pytest.raises(NotFound):
            handlers.get_order(order.order_id, uow)
        page, _ = handlers.list_orders(handlers.ListOrders(None, None, None, 50, ""), uow)
        assert page == []
    with acting_as(Identity("hardware", "portal", frozenset({"customer"}), customer_id=CUSTOMER)):
        assert handlers.get_order(order.order_id, uow).order_no == order.order_no


def test_keyset_pages_cover_every_order_once(uow):
    with acting_as(SALES):
        made = {create(uow).order_id for _ in range(23)}
        seen, token = [], ""
        while True:
            page, token = handlers.list_orders(
                handlers.ListOrders(OrderState.PENDING_APPROVAL, None, None, 5, token), uow
            )
            seen += [o.order_id for o in page]
            if not token:
                break
    assert len(seen) == 23 and set(seen) == made
