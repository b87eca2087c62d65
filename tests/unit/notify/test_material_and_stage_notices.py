"""Notices of materials locked or short (to the planners), of an order's milestones and shipping
(to its customer's sales owner) and of a cancelled order (planners; for a marketplace order also
the leads of work already started, urgently), through notify's real wiring and database
(SQLite): who hears it, exactly what they read, and a malformed event dead-lettered by name."""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from services.chassis.consumer import EventConsumer
from services.chassis.db import make_engine
from services.chassis.events import MalformedEvent
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.notify.adapters.tables import notifications
from services.notify.app import definition, wire

HW = load_tenants(("hardware",))["hardware"]
ORDER_ID = str(uuid.uuid4())
ORDER_NO = "HW-20261126-00007"


@pytest.fixture
def notify(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'notify.db'}")
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    ctx = SimpleNamespace(
        tenant=lambda _t: HW, uow=uow, settings=SimpleNamespace(due_check_s=60.0, dispatch_s=5.0)
    )
    consumer = EventConsumer("notify", wire(ctx).subscriptions, uow, ["hardware"])
    with acting_as(Identity("hardware", "svc:notify", frozenset({"service"}))):
        with uow() as tx:
            tx.watch.customer("c-1", "美的集团顺德基地", "陈丽", 1)
            tx.watch.customer("c-2", "无人认领 unowned", "", 1)
            tx.commit()
        yield SimpleNamespace(consumer=consumer, engine=engine)
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


def told(engine) -> list[tuple[str, str, str, str, str, str, bool]]:
    """(recipient, role, kind, subject, body, order_no, urgent), sorted."""
    with engine.connect() as c:
        rows = c.execute(select(notifications))
        return sorted(
            (r.recipient, r.recipient_role, r.kind, r.subject, r.body, r.order_no, r.urgent) for r in rows
        )


def material(
    name: str, unit: str, needed: float, reserved: float, short: float = 0, issued: float = 0
) -> dict:
    out = {"material": name, "unit": unit, "needed": needed, "reserved": reserved, "issued": issued}
    return out | ({"short": short} if short else {})  # proto JSON leaves a zero out


def reserved(**fields) -> dict:
    base = {
        "reservation_id": str(uuid.uuid4()),
        "order_id": ORDER_ID,
        "order_no": ORDER_NO,
        "customer_id": "c-1",
        "revision": 1,
        "materials": [material("冷轧钢板 cold-rolled steel", "kg", 120, 120)],
    }
    return base | fields


# Materials: the planners.


def test_materials_held_short_by_an_override_tell_the_planners_each_short_material_once(notify):
    data = reserved(
        overridden=True,
        overridden_by="李经理",
        override_reason="客户急单",
        materials=[
            material("冷轧钢板 cold-rolled steel", "kg", 120, 120),
            material("镀金液 gold plating solution", "L", 10, 7.5, short=2.5),
            material("包装箱 carton", "个", 50, 10, short=40),
        ],
    )
    event_id = str(uuid.uuid4())
    deliver(notify.consumer, "inventory", "materials_reserved", data, event_id)
    deliver(notify.consumer, "inventory", "materials_reserved", data, event_id)  # redelivered: once
    assert told(notify.engine) == [
        (
            "王计划",
            "planner",
            "materials_short",
            "物料短缺 materials short: HW-20261126-00007",
            "缺料 short: 镀金液 gold plating solution 2.5 L; 包装箱 carton 40 个\n"
            "缺料放行 accepted short by 李经理: 客户急单",
            ORDER_NO,
            False,
        )
    ]


def test_materials_locked_by_a_rule_tell_the_planners_the_rule_and_what_it_holds(notify):
    data = reserved(
        locked=True,
        lock_rule="lock_large_orders",
        materials=[
            material("冷轧钢板 cold-rolled steel", "kg", 120, 100, issued=20),
            material("镀金液 gold plating solution", "L", 0.002, 0.002),
        ],
    )
    deliver(notify.consumer, "inventory", "materials_reserved", data)
    assert told(notify.engine) == [
        (
            "王计划",
            "planner",
            "materials_locked",
            "物料已锁定 materials locked: HW-20261126-00007 (规则 rule lock_large_orders)",
            "规则 rule lock_large_orders: 物料仅供此单 held for this order only\n"
            "锁定 held: 冷轧钢板 cold-rolled steel 120 kg; 镀金液 gold plating solution 0.002 L",
            ORDER_NO,
            False,
        )
    ]


def test_locked_and_short_are_two_notices(notify):
    data = reserved(
        locked=True,
        lock_rule="lock_large_orders",
        materials=[material("镀金液 gold plating solution", "L", 10, 7.5, short=2.5)],
    )
    deliver(notify.consumer, "inventory", "materials_reserved", data)
    assert [(who, kind) for who, _, kind, *_ in told(notify.engine)] == [
        ("王计划", "materials_locked"),
        ("王计划", "materials_short"),
    ]


def test_materials_held_in_full_and_unlocked_tell_nobody(notify):
    deliver(notify.consumer, "inventory", "materials_reserved", reserved())
    assert told(notify.engine) == []


def adjusted(**fields) -> dict:
    base = {
        "reservation_id": str(uuid.uuid4()),
        "order_id": ORDER_ID,
        "order_no": ORDER_NO,
        "customer_id": "c-1",
        "revision": 2,
        "previous_revision": 1,
        "materials": [
            material("冷轧钢板 cold-rolled steel", "kg", 150, 150),
            material("镀金液 gold plating solution", "L", 12.5, 10, short=2.5),
        ],
        "added": [material("冷轧钢板 cold-rolled steel", "kg", 150, 30)],
    }
    return base | fields


def test_a_reservation_adjusted_short_tells_the_planners_the_short_materials(notify):
    deliver(notify.consumer, "inventory", "reservation_adjusted", adjusted(short=True))
    assert told(notify.engine) == [
        (
            "王计划",
            "planner",
            "materials_short",
            "物料短缺 materials short: HW-20261126-00007",
            "缺料 short: 镀金液 gold plating solution 2.5 L\n订单变更后 after the change to revision 2",
            ORDER_NO,
            False,
        )
    ]


def test_a_reservation_adjusted_in_full_tells_nobody(notify):
    data = adjusted(materials=[material("冷轧钢板 cold-rolled steel", "kg", 150, 150)])
    deliver(notify.consumer, "inventory", "reservation_adjusted", data)
    assert told(notify.engine) == []


# An order's milestones and its shipping: the customer's sales owner.


def moved(from_state: str, to_state: str, customer_id: str = "c-1") -> dict:
    return {
        "order_id": ORDER_ID,
        "order_no": ORDER_NO,
        "customer_id": customer_id,
        "version": 5,
        "from_state": from_state,
        "to_state": to_state,
        "at": "2026-11-26T02:30:00+00:00",
    }


@pytest.mark.parametrize(
    ("before", "after", "label"),
    [
        ("ORDER_STATE_APPROVED", "ORDER_STATE_IN_PRODUCTION", "已审批 Approved → 生产中 In production"),
        ("ORDER_STATE_IN_PRODUCTION", "ORDER_STATE_QC_PASSED", "生产中 In production → 质检完成 QC passed"),
        ("ORDER_STATE_QC_PASSED", "ORDER_STATE_READY_TO_SHIP", "质检完成 QC passed → 待发货 Ready to ship"),
        ("ORDER_STATE_APPROVED", "ORDER_STATE_READY_TO_SHIP", "已审批 Approved → 待发货 Ready to ship"),
    ],
)
def test_a_milestone_reached_tells_the_sales_owner_in_plant_time(notify, before, after, label):
    event_id = str(uuid.uuid4())
    deliver(notify.consumer, "order", "order_state_changed", moved(before, after), event_id)
    deliver(notify.consumer, "order", "order_state_changed", moved(before, after), event_id)  # once
    reached = label.split(" → ")[1]
    assert told(notify.engine) == [
        (
            "陈丽",
            "sales_owner",
            "stage_reached",
            f"订单进度 order reached {reached}: HW-20261126-00007",
            f"{label}; 时间 at 2026-11-26 10:30",  # 02:30 UTC in Asia/Shanghai
            ORDER_NO,
            False,
        )
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("ORDER_STATE_IN_PRODUCTION", "ORDER_STATE_APPROVED"),  # re-planned by a change: told of that
        ("ORDER_STATE_READY_TO_SHIP", "ORDER_STATE_IN_PRODUCTION"),  # back: no milestone
        ("ORDER_STATE_READY_TO_SHIP", "ORDER_STATE_QC_PASSED"),
    ],
)
def test_a_move_that_is_no_milestone_tells_nobody(notify, before, after):
    deliver(notify.consumer, "order", "order_state_changed", moved(before, after))
    assert told(notify.engine) == []


def test_an_order_whose_customer_has_no_known_sales_owner_tells_nobody(notify):
    for customer_id in ("c-2", "c-unknown"):
        data = moved("ORDER_STATE_APPROVED", "ORDER_STATE_IN_PRODUCTION", customer_id)
        assert deliver(notify.consumer, "order", "order_state_changed", data) == "ok"
        shipped = {"order_id": ORDER_ID, "order_no": ORDER_NO, "customer_id": customer_id}
        shipped["shipped_at"] = "2026-11-26T08:30:00+00:00"
        assert deliver(notify.consumer, "order", "order_shipped", shipped) == "ok"
    assert told(notify.engine) == []


def test_a_shipped_order_tells_the_sales_owner_when_it_left(notify):
    data = {
        "order_id": ORDER_ID,
        "order_no": ORDER_NO,
        "customer_id": "c-1",
        "version": 9,
        "amount_fen": "12500000",
        "shipped_by": "仓库老张",
        "shipped_at": "2026-11-26T08:30:00+00:00",
    }
    deliver(notify.consumer, "order", "order_shipped", data)
    assert told(notify.engine) == [
        (
            "陈丽",
            "sales_owner",
            "order_shipped",
            "订单已发货 order shipped: HW-20261126-00007",
            "发货时间 shipped at 2026-11-26 16:30; 经办 by 仓库老张",
            ORDER_NO,
            False,
        )
    ]


# A cancelled order: the planners; a marketplace order's started work: its leads, urgently.


def order_with_work(notify, channel: str) -> None:
    """order_created, and three work orders: one in process at stamping-1, one passed QC at
    plating, one not started at assembly, and one cancelled at stamping-1."""
    created = {"order_id": ORDER_ID, "order_no": ORDER_NO, "customer_id": "c-1", "channel": channel}
    deliver(notify.consumer, "order", "order_created", created | {"priority": "PRIORITY_NORMAL"})
    work = [
        ("WO-1", "stamping-1", "STAGE_IN_PROCESS"),
        ("WO-2", "plating", "STAGE_QC_PASSED"),
        ("WO-3", "assembly", None),
        ("WO-4", "stamping-1", "STAGE_IN_PROCESS"),
    ]
    for n, (no, workshop, stage) in enumerate(work, start=1):
        work_order_id = f"wo-{n}"
        deliver(
            notify.consumer,
            "production",
            "work_order_created",
            {
                "work_order_id": work_order_id,
                "work_order_no": f"{ORDER_NO}-{no}",
                "order_id": ORDER_ID,
                "order_no": ORDER_NO,
                "workshop": workshop,
                "due_date": "2026-12-20",
                "revision": 1,
                "lines": [{"product_model": "HB-2040 铰链 hinge", "quantity": 5000}],
            },
        )
        if stage:
            deliver(
                notify.consumer,
                "production",
                "work_order_stage_changed",
                {"work_order_id": work_order_id, "stage": stage, "sequence": 1},
            )
    deliver(
        notify.consumer,
        "production",
        "work_order_cancelled",
        {
            "work_order_id": "wo-4",
            "work_order_no": f"{ORDER_NO}-WO-4",
            "order_no": ORDER_NO,
            "workshop": "stamping-1",
        },
    )


def cancelled(by: str, reason: str) -> dict:
    return {
        "order_id": ORDER_ID,
        "order_no": ORDER_NO,
        "customer_id": "c-1",
        "version": 6,
        "cancelled_by": by,
        "reason": reason,
    }


def cancellation_notices(engine):
    return [n for n in told(engine) if n[2] == "order_cancelled"]


def test_a_marketplace_order_cancelled_stops_started_work_urgently_and_tells_the_planners(notify):
    order_with_work(notify, "CHANNEL_MARKETPLACE")
    # after production started, ingest can only ask for a cancelling change: a person approves it
    data = cancelled("李经理", "平台订单已取消/退款 tmall order 4123456789012345678 TRADE_CLOSED")
    event_id = str(uuid.uuid4())
    deliver(notify.consumer, "order", "order_cancelled", data, event_id)
    deliver(notify.consumer, "order", "order_cancelled", data, event_id)  # redelivered: once
    what = "电商订单已取消 marketplace order cancelled: HW-20261126-00007"
    why = "李经理: 平台订单已取消/退款 tmall order 4123456789012345678 TRADE_CLOSED"
    assert cancellation_notices(notify.engine) == [
        (
            "李秀英",
            "workshop_lead",
            "order_cancelled",
            f"停止加工 stop work: {what}",
            f"工单 work orders: HW-20261126-00007-WO-2 (电镀车间 Plating)\n{why}",
            ORDER_NO,
            True,
        ),
        (
            "王建国",
            "workshop_lead",
            "order_cancelled",
            f"停止加工 stop work: {what}",
            f"工单 work orders: HW-20261126-00007-WO-1 (冲压一车间 Stamping 1)\n{why}",
            ORDER_NO,
            True,
        ),
        (
            "王计划",
            "planner",
            "order_cancelled",
            what,
            f"{why}\n已开工工单 work started: HW-20261126-00007-WO-1 (冲压一车间 Stamping 1); "
            "HW-20261126-00007-WO-2 (电镀车间 Plating)",
            ORDER_NO,
            False,
        ),
    ]


def test_a_marketplace_order_cancelled_before_work_started_tells_the_planners_only(notify):
    created = {
        "order_id": ORDER_ID,
        "order_no": ORDER_NO,
        "customer_id": "c-1",
        "channel": "CHANNEL_MARKETPLACE",
    }
    deliver(notify.consumer, "order", "order_created", created)
    deliver(notify.consumer, "order", "order_cancelled", cancelled("svc:ingest", "平台订单已取消/退款"))
    assert cancellation_notices(notify.engine) == [
        (
            "王计划",
            "planner",
            "order_cancelled",
            "电商订单已取消 marketplace order cancelled: HW-20261126-00007",
            "svc:ingest: 平台订单已取消/退款",
            ORDER_NO,
            False,
        )
    ]


@pytest.mark.parametrize("channel", ["CHANNEL_DIRECT", "CHANNEL_AGENT", None])
def test_an_order_cancelled_by_staff_tells_the_planners_only(notify, channel):
    """The channel decides, not the reason: a staff cancellation saying "平台" is still not a
    marketplace order's. An order notify never saw created counts as not a marketplace one."""
    if channel:
        order_with_work(notify, channel)
    deliver(notify.consumer, "order", "order_cancelled", cancelled("陈丽", "平台订单已取消 客户不要了"))
    assert cancellation_notices(notify.engine) == [
        (
            "王计划",
            "planner",
            "order_cancelled",
            "订单已取消 order cancelled: HW-20261126-00007",
            "陈丽: 平台订单已取消 客户不要了",
            ORDER_NO,
            False,
        )
    ]


# Malformed events: dead-lettered by name, never an internal error.


@pytest.mark.parametrize(
    ("source", "event_type", "data", "says"),
    [
        ("inventory", "materials_reserved", reserved(order_id=""), "has no order id or order number"),
        ("inventory", "materials_reserved", reserved(order_no=""), "has no order id or order number"),
        (
            "inventory",
            "materials_reserved",
            reserved(materials=[material("镀金液", "L", 10, 12.5, short=-2.5)]),
            "镀金液 has short -2.5",
        ),
        (
            "inventory",
            "materials_reserved",
            reserved(materials=[material("镀金液", "L", "NaN", 1)]),
            "镀金液 has needed nan",
        ),
        (
            "inventory",
            "materials_reserved",
            reserved(materials=[{"unit": "L", "short": 2}]),
            "without a name",
        ),
        ("inventory", "materials_reserved", reserved(locked=True), "is locked by no rule"),
        (
            "inventory",
            "materials_reserved",
            reserved(materials=[{"material": "x", "short": "lots"}]),
            "contract",
        ),
        ("inventory", "reservation_adjusted", adjusted(order_id=""), "has no order id"),
        ("inventory", "reservation_adjusted", adjusted(short=True, materials=[]), "is short of no material"),
        (
            "inventory",
            "reservation_adjusted",
            adjusted(added=[material("钢板", "kg", -1, 0)]),
            "钢板 has needed -1",
        ),
        (
            "order",
            "order_state_changed",
            moved("ORDER_STATE_APPROVED", "ORDER_STATE_IN_PRODUCTION", customer_id=""),
            "has no order id, order number or customer",
        ),
        (
            "order",
            "order_state_changed",
            moved("ORDER_STATE_APPROVED", "ORDER_STATE_LAUNCHED"),  # a name we do not know: left 0
            "to_state 0 is not an order state",
        ),
        (
            "order",
            "order_state_changed",
            moved("ORDER_STATE_APPROVED", 42),
            "to_state 42 is not an order state",
        ),
        (
            "order",
            "order_state_changed",
            moved("ORDER_STATE_APPROVED", "ORDER_STATE_QC_PASSED") | {"at": "yesterday"},
            "at 'yesterday' is not an RFC 3339 time",
        ),
        (
            "order",
            "order_shipped",
            {"order_id": ORDER_ID, "order_no": ORDER_NO, "customer_id": "c-1"},
            "shipped_at '' is not an RFC 3339 time",
        ),
        (
            "order",
            "order_shipped",
            {
                "order_id": ORDER_ID,
                "order_no": ORDER_NO,
                "customer_id": "c-1",
                "shipped_at": "2026-11-26T08:30",
            },
            "is not an RFC 3339 time",  # no offset: not a moment
        ),
        *(
            (
                "order",
                "order_shipped",
                {"order_id": ORDER_ID, "order_no": ORDER_NO, "customer_id": "c-1", "shipped_at": edge},
                "is not an RFC 3339 time",  # a time no calendar can show (it overflowed, and was retried)
            )
            for edge in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
        ),
        (
            "order",
            "order_cancelled",
            {"order_no": ORDER_NO, "reason": "x"},
            "has no order id or order number",
        ),
    ],
)
def test_a_malformed_event_is_refused_by_name(notify, source, event_type, data, says):
    with pytest.raises(MalformedEvent, match=re.escape(says)):
        deliver(notify.consumer, source, event_type, data)
    assert told(notify.engine) == []
