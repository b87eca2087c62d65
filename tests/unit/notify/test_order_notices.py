"""Notices of an order's change and of an order waiting for review, through notify's real wiring
and database (SQLite): exactly who hears it, what they read, and a repeated event told once."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from services.chassis.consumer import EventConsumer
from services.chassis.db import make_engine
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.notify.adapters.tables import notifications
from services.notify.app import definition, wire

HW = load_tenants(("hardware",))["hardware"]


@pytest.fixture
def notify(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'notify.db'}")
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    settings = SimpleNamespace(due_check_s=60.0, dispatch_s=2.0)
    ctx = SimpleNamespace(tenant=lambda _t: HW, uow=uow, settings=settings)
    consumer = EventConsumer("notify", wire(ctx).subscriptions, uow, ["hardware"])
    with acting_as(Identity("hardware", "svc:notify", frozenset({"service"}))):
        with uow() as tx:
            tx.watch.customer("c-1", "美的集团顺德基地", "陈丽", 1)
            tx.commit()
        yield consumer, engine
    engine.dispose()


def deliver(consumer, source: str, event_type: str, data: dict, event_id: str | None = None) -> str:
    envelope = {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "tenant_id": "hardware",
        "source": source,
        "occurred_at": "2026-11-26T02:00:00+00:00",
        "data": data,
    }
    return consumer.handle(f"{source}.events", event_type, envelope, {})


def told(engine) -> list[tuple[str, str, str]]:
    with engine.connect() as c:
        rows = c.execute(select(notifications).order_by(notifications.c.recipient))
        return sorted((r.recipient, r.recipient_role, r.subject) for r in rows)


def test_a_change_request_tells_planning_the_warehouse_and_the_sales_owner_once(notify):
    consumer, engine = notify
    data = {
        "order_id": str(uuid.uuid4()),
        "order_no": "HW-20261126-00007",
        "customer_id": "c-1",
        "version": 3,
        "change_id": str(uuid.uuid4()),
        "revision": 1,
        "requested_by": "陈丽",
        "reason": "客户改色 银色→金色",
    }
    event_id = str(uuid.uuid4())
    deliver(consumer, "order", "order_change_requested", data, event_id)
    deliver(consumer, "order", "order_change_requested", data, event_id)  # redelivered: told once
    subject = "订单变更申请 change requested: HW-20261126-00007 (0 项修改 changes)"
    assert told(engine) == [
        ("仓库老张", "warehouse", subject),
        ("王计划", "planner", subject),
        ("陈丽", "sales_owner", subject),
    ]


def test_an_approved_and_a_rejected_change_are_told_too(notify):
    consumer, engine = notify
    order = {
        "order_id": str(uuid.uuid4()),
        "order_no": "HW-20261126-00008",
        "customer_id": "c-1",
        "version": 4,
    }
    deliver(
        consumer, "order", "order_changed", dict(order, revision=2, previous_revision=1, approved_by="李经理")
    )
    deliver(consumer, "order", "order_change_rejected", dict(order, rejected_by="李经理", note="料已备好"))
    subjects = {s for _, _, s in told(engine)}
    assert subjects == {
        "订单变更已批准 change approved: HW-20261126-00008 版本 rev 1 → 2",
        "订单变更被拒绝 change rejected: HW-20261126-00008",
    }
    assert len(told(engine)) == 6


def test_an_order_waiting_for_review_tells_the_order_desk(notify):
    consumer, engine = notify
    data = {
        "item_id": str(uuid.uuid4()),
        "source": "marketplace",
        "platform": "tmall",
        "shop": "tmall_flagship",
        "external_id": "4123456789012345678",
        "reason_codes": ["sku.unknown", "receiver.masked"],
    }
    deliver(consumer, "ingest", "review_item_opened", data)
    assert told(engine) == [
        (
            "刘敏",
            "order_desk",
            "待审核订单 order waiting for review: tmall/tmall_flagship 4123456789012345678",
        )
    ]
