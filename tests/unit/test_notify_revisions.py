"""A revised or cancelled work order is told to its workshop lead at once, with what changed
(a colour change that reaches the plating line late is scrap), in both run modes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from services.chassis.events import MalformedEvent, ReceivedEvent
from services.chassis.identity import Identity, acting_as
from services.notify.app import wire
from services.notify.domain.model import (
    CancelledWorkOrder,
    LineChange,
    RevisedWorkOrder,
    Workshop,
    tell_workshop_lead_of_cancellation,
    tell_workshop_lead_of_revision,
)
from services.notify.worker import NotifyWorker

PLATING = Workshop(code="plating", name="电镀车间 Plating", lead="李秀英")
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
HINGE = "HB-2040 铰链 hinge"


def revised(changes, *, due=("2026-12-20", "2026-12-20"), stage="STAGE_IN_PROCESS") -> RevisedWorkOrder:
    return RevisedWorkOrder(
        work_order_no="HW-WO-20261126-00007-02",
        order_no="HW-20261126-00007",
        revision=2,
        stage=stage,
        previous_due_date=due[0],
        due_date=due[1],
        changes=list(changes),
    )


def told_of_revision(work_order: RevisedWorkOrder):
    return tell_workshop_lead_of_revision(
        notification_id="n-1", workshop=PLATING, work_order=work_order, event_id="ev-9", now=NOW
    )


def test_a_colour_and_quantity_change_is_told_specification_first():
    note = told_of_revision(
        revised(
            [
                LineChange(1, HINGE, "quantity", "5000", "6000"),
                LineChange(1, HINGE, "colour", "银色 silver", "金色 gold"),
            ]
        )
    )

    assert note.subject == "工单变更 work order revised: HW-WO-20261126-00007-02 rev 2"
    assert note.body == (
        "电镀车间 Plating: 订单 HW-20261126-00007, 阶段 stage 加工中 in process: "
        "HB-2040 铰链 hinge: 颜色 colour 银色 silver → 金色 gold, 数量 quantity 5000 → 6000"
    )
    assert (note.recipient, note.recipient_role) == ("李秀英", "workshop_lead")
    assert (note.reference, note.event_id, note.notification_id, note.created_at) == (
        "HW-WO-20261126-00007-02",
        "ev-9",
        "n-1",
        NOW,
    )


def test_lines_added_and_removed_are_said_as_such_and_a_new_due_date_too():
    note = told_of_revision(
        revised(
            [
                LineChange(1, HINGE, "surface_treatment", "电镀 plating", "喷涂 spraying"),
                LineChange(2, "BK-310 支架 bracket", "product_model", "BK-310 支架 bracket", ""),
                LineChange(2, "BK-310 支架 bracket", "quantity", "200", "0"),
                LineChange(3, "SB-55 滑轨 slide", "product_model", "", "SB-55 滑轨 slide"),
                LineChange(3, "SB-55 滑轨 slide", "quantity", "0", "300"),
                LineChange(3, "SB-55 滑轨 slide", "colour", "", "黑色 black"),
                LineChange(3, "SB-55 滑轨 slide", "packaging", "", "纸箱 carton"),
            ],
            due=("2026-12-20", "2026-12-27"),
            stage="STAGE_TO_SCHEDULE",
        )
    )

    assert note.body == (
        "电镀车间 Plating: 订单 HW-20261126-00007, 阶段 stage 待排产 to schedule: "
        "HB-2040 铰链 hinge: 表面处理 surface treatment 电镀 plating → 喷涂 spraying; "
        "删除 removed BK-310 支架 bracket × 200; "
        "新增 added SB-55 滑轨 slide × 300 黑色 black 纸箱 carton; "
        "交期 due 2026-12-20 → 2026-12-27"
    )


def test_a_revision_that_changed_no_line_still_says_why_it_came():
    note = told_of_revision(revised([]))

    assert note.body == (
        "电镀车间 Plating: 订单 HW-20261126-00007, 阶段 stage 加工中 in process: "
        "物料需求已重算 material requirements recomputed"
    )


def test_a_cancellation_tells_the_work_done_and_why():
    note = tell_workshop_lead_of_cancellation(
        notification_id="n-2",
        workshop=PLATING,
        work_order=CancelledWorkOrder(
            work_order_no="HW-WO-20261126-00007-02",
            order_no="HW-20261126-00007",
            stage="STAGE_IN_PROCESS",
            good_quantity=1200,
            scrap_quantity=30,
            reason="订单变更取消订单 the approved change cancels the order",
        ),
        event_id="ev-10",
        now=NOW,
    )

    assert note.subject == (
        "工单取消 work order cancelled: HW-WO-20261126-00007-02, 已完成 good 1200 / 报废 scrap 30"
    )
    assert note.body == (
        "电镀车间 Plating: 订单 HW-20261126-00007, 阶段 stage 加工中 in process, 停止生产 stop work: "
        "订单变更取消订单 the approved change cancels the order"
    )
    assert (note.recipient, note.reference, note.event_id) == ("李秀英", "HW-WO-20261126-00007-02", "ev-10")


# The consumers: the event read through its contract, the notice recorded in the unit of work.


class FakeUow:
    def __init__(self):
        self.notifications = SimpleNamespace(added=[])
        self.notifications.add = self.notifications.added.append
        self.watched: list[tuple] = []  # the due-date projection's updates, in order
        self.watch = SimpleNamespace(
            watch=lambda *a: self.watched.append(("watch", *a)),
            revise=lambda *a: self.watched.append(("revise", *a)),
            cancel=lambda *a: self.watched.append(("cancel", *a)),
        )


def received(event_type: str, data: dict) -> ReceivedEvent:
    return ReceivedEvent(str(uuid.uuid4()), event_type, "hardware", "production", NOW.isoformat(), data)


REVISED = {
    "work_order_id": str(uuid.uuid4()),
    "work_order_no": "HW-WO-20261126-00007-02",
    "order_id": str(uuid.uuid4()),
    "order_no": "HW-20261126-00007",
    "workshop": "plating",
    "previous_revision": 1,
    "revision": 2,
    "order_revision": 2,
    "change_id": str(uuid.uuid4()),
    "stage": "STAGE_TO_SCHEDULE",
    "previous_due_date": "2026-12-20",
    "due_date": "2026-12-20",
    "lines": [{"product_model": HINGE, "quantity": 5000, "colour": "金色 gold", "line_no": 1}],
    "changes": [
        {
            "line_no": 1,
            "product_model": HINGE,
            "field": "colour",
            "before": "银色 silver",
            "after": "金色 gold",
        }
    ],
}
CANCELLED = {
    "work_order_id": str(uuid.uuid4()),
    "work_order_no": "HW-WO-20261126-00007-02",
    "order_id": str(uuid.uuid4()),
    "order_no": "HW-20261126-00007",
    "workshop": "plating",
    "revision": 2,
    "stage": "STAGE_IN_PROCESS",
    "good_quantity": 40,
    "scrap_quantity": 2,
    "reason": "订单已取消 order cancelled",
}


def notify_wiring():
    """notify's real wiring, with a hardware tenant that knows only the plating workshop."""
    hardware = SimpleNamespace(workshops={"plating": SimpleNamespace(name=PLATING.name, lead=PLATING.lead)})
    ctx = SimpleNamespace(
        tenant=lambda _tenant_id: hardware,
        uow=None,
        settings=SimpleNamespace(due_check_s=60.0, dispatch_s=2.0),
    )
    return wire(ctx)


def handle(event: ReceivedEvent) -> list:
    [sub] = [s for s in notify_wiring().subscriptions if s.event_type == event.event_type]
    uow = FakeUow()
    with acting_as(Identity("hardware", "svc:notify", frozenset({"service"}))):
        sub.handler(event, uow)
    return uow.notifications.added


def test_a_revised_event_tells_the_plating_lead_what_changed():
    event = received("work_order_revised", REVISED)

    [note] = handle(event)

    assert (note.recipient, note.reference) == ("李秀英", "HW-WO-20261126-00007-02")
    assert note.event_id == event.event_id
    assert note.subject == "工单变更 work order revised: HW-WO-20261126-00007-02 rev 2"
    assert note.body == (
        "电镀车间 Plating: 订单 HW-20261126-00007, 阶段 stage 待排产 to schedule: "
        "HB-2040 铰链 hinge: 颜色 colour 银色 silver → 金色 gold"
    )


def test_a_cancelled_event_tells_the_lead_to_stop_and_an_unknown_workshop_reaches_the_planner():
    [note] = handle(received("work_order_cancelled", CANCELLED))
    assert note.subject == (
        "工单取消 work order cancelled: HW-WO-20261126-00007-02, 已完成 good 40 / 报废 scrap 2"
    )
    assert note.recipient == "李秀英"

    [note] = handle(received("work_order_cancelled", dict(CANCELLED, workshop="painting")))
    assert note.recipient == "生产计划员 planner"
    assert note.body.startswith("painting: 订单 HW-20261126-00007, 阶段 stage 加工中 in process")


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("work_order_revised", dict(REVISED, work_order_no="")),
        ("work_order_revised", dict(REVISED, workshop="")),
        ("work_order_revised", dict(REVISED, revision=1, previous_revision=0)),
        ("work_order_revised", dict(REVISED, revision=2, previous_revision=2)),
        ("work_order_revised", dict(REVISED, changes="colour")),
        ("work_order_cancelled", dict(CANCELLED, work_order_no="")),
        ("work_order_cancelled", dict(CANCELLED, good_quantity=-1)),
        ("work_order_cancelled", dict(CANCELLED, scrap_quantity=-5)),
    ],
)
def test_an_event_that_cannot_be_right_is_malformed_and_tells_nobody(event_type, data):
    with pytest.raises(MalformedEvent):
        handle(received(event_type, data))


def test_each_event_notify_subscribes_to_has_its_nameko_handler_on_the_worker():
    """The worker reads the queue `migrate` declares for each subscription (`on_<event type>`)."""
    subscribed = {(s.source, s.event_type) for s in notify_wiring().subscriptions}
    handled = {}
    timers = []
    for name in dir(NotifyWorker):
        for entrypoint in getattr(getattr(NotifyWorker, name), ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if not hasattr(entrypoint, "event_type"):  # the due-date check's timer
                timers.append(name)
                continue
            handled[(entrypoint.source_service, entrypoint.event_type)] = (name, entrypoint.requeue_on_error)

    assert timers == ["run_scheduled_jobs"]
    assert subscribed == {
        ("production", "work_order_created"),
        ("production", "work_order_revised"),
        ("production", "work_order_cancelled"),
        ("production", "work_order_stage_changed"),
        ("order", "order_created"),
        ("customer", "customer_created"),
        ("customer", "customer_updated"),
        ("order", "order_change_requested"),
        ("order", "order_changed"),
        ("order", "order_change_rejected"),
        ("ingest", "review_item_opened"),
        ("inventory", "materials_reserved"),
        ("inventory", "reservation_adjusted"),
        ("order", "order_state_changed"),
        ("order", "order_shipped"),
        ("order", "order_cancelled"),
        ("order", "after_sales_requested"),
    }
    assert handled == {(src, ev): (f"on_{ev}", True) for src, ev in subscribed}
