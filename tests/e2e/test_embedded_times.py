"""Times through the embedded stack (SQLite): an order reads back with the creation time its
create reply gave, and its approval comes after it. On SQLite the plant-zone creation time used
to come back 8 hours late, after the approval. Times travel as google.protobuf.Timestamp and
days as google.type.Date: both round-trip unchanged through create, get and list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from oms.customer.v1 import customer_pb2
from oms.order.v1 import order_pb2
from services.catalog import NAMES
from tests.e2e import scenario
from tests.e2e.embedded_process import running

pytestmark = pytest.mark.e2e


def instant(stamp: Timestamp) -> datetime:
    assert stamp.seconds > 0, "an unset time"
    return stamp.ToDatetime(tzinfo=UTC)


def test_an_order_reads_back_with_its_creation_time_and_is_approved_after_it(tmp_path):
    with running(tmp_path) as stack:
        api = scenario.Api(dict.fromkeys(NAMES, stack.addr))
        md = scenario.Caller("hardware").metadata()
        customer = api.customers.CreateCustomer(
            customer_pb2.CreateCustomerRequest(code=f"T-{uuid.uuid4().hex[:6].upper()}", name="苏泊尔 Supor"),
            metadata=md,
        ).customer
        before = datetime.now(UTC)
        created = api.orders.CreateOrder(
            order_pb2.CreateOrderRequest(
                customer_id=customer.customer_id,
                channel=order_pb2.CHANNEL_DIRECT,
                due_date=scenario.due(),
                lines=[scenario.line()],
            ),
            metadata=md,
        ).order
        read = api.orders.GetOrder(order_pb2.GetOrderRequest(order_id=created.order_id), metadata=md).order
        assert instant(read.created_at) == instant(created.created_at)
        assert abs((instant(read.created_at) - before).total_seconds()) < 60
        assert created.created_at.nanos % 1000 == 0  # microseconds, as stored
        assert read.due_date == created.due_date == scenario.due()
        assert not read.HasField("approved_at")

        approved = api.orders.ApproveOrder(
            order_pb2.ApproveOrderRequest(order_id=created.order_id, expected_version=created.version),
            metadata=md,
        ).order
        read = api.orders.GetOrder(order_pb2.GetOrderRequest(order_id=created.order_id), metadata=md).order
        assert instant(read.created_at) == instant(created.created_at)
        assert instant(read.approved_at) == instant(approved.approved_at)
        assert instant(read.approved_at) >= instant(read.created_at)
        listed = api.orders.ListOrders(order_pb2.ListOrdersRequest(page_size=500), metadata=md).orders
        (row,) = [o for o in listed if o.order_id == created.order_id]
        assert instant(row.created_at) == instant(created.created_at)
        assert row.due_date == created.due_date and row.approved_at == read.approved_at
        api.close()
        assert stack.terminate() == 0, stack.log_text()[-3000:]
