"""Due-date alerts end to end through the public gRPC API, in both run modes (the stack's due
check ticking every second, OMS_DUE_CHECK_S=1): a work order due within 48 h and still in process
→ the production supervisor (tenant file) and the customer's sales owner each get exactly one
warning; it passes QC → each gets exactly one withdrawal. On the plant's channels (a webhook and a
WeCom robot that fail every message's first try, tests/e2e/channel_inbox.py) each arrives exactly
once, after a retry."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from google.type import date_pb2

from oms.customer.v1 import customer_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from tests.e2e.channel_inbox import ChannelInbox
from tests.e2e.production_scenario import APPROVER, LEAD, PLANNER, SALES, eventually, work_orders
from tests.e2e.scenario import Api, Caller, line

WARNING = "交期预警 due-date warning"
WITHDRAWN = "预警解除 warning withdrawn"


def notices(api: Api, reference: str) -> list[notify_pb2.Notification]:
    return list(
        api.notify.ListNotifications(
            notify_pb2.ListNotificationsRequest(reference=reference), metadata=PLANNER.metadata()
        ).notifications
    )


def of_kind(found: list[notify_pb2.Notification], prefix: str) -> list[tuple[str, str]]:
    return sorted((n.recipient, n.recipient_role) for n in found if n.subject.startswith(prefix))


def deliveries(api: Api, reference: str) -> list[notify_pb2.Delivery]:
    return list(
        api.notify.ListDeliveries(
            notify_pb2.ListDeliveriesRequest(reference=reference), metadata=PLANNER.metadata()
        ).deliveries
    )


def delivered(api: Api, reference: str, kind: str) -> list[tuple[str, str]]:
    """(recipient, channel) of the notices of this kind that reached their channel."""
    found = deliveries(api, reference)
    return sorted(
        (d.recipient, d.channel)
        for d in found
        if d.kind == kind and d.state == notify_pb2.DELIVERY_STATE_SENT
    )


# 周建华 on the plant's WeCom robot and the webhook ([people] channels); 陈丽 has none of her own
# and gets the tenant's default channel (tenants/hardware.toml [notify]).
ON_CHANNELS = [("周建华", "plant_webhook"), ("周建华", "plant_wecom"), ("陈丽", "plant_webhook")]


def check_channels_carried_each_once(api: Api, channels: ChannelInbox, reference: str, kind: str) -> None:
    """Every delivery of `kind` went through a failed try (the inbox fails each message's first)
    and was taken on the next: the endpoints hold each message exactly once."""
    for d in deliveries(api, reference):
        if d.kind == kind:
            assert [t.outcome for t in d.tries] == ["failed", "sent"], d
    hooked = sorted((m["recipient"]["name"], m["kind"]) for m in channels.webhook_messages(reference))
    assert [x for x in hooked if x[1] == kind] == [("周建华", kind), ("陈丽", kind)]


def check_a_work_order_due_soon_warns_once_and_is_withdrawn_once_it_finishes(
    api: Api, channels: ChannelInbox
) -> None:
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"DW-{uuid.uuid4().hex[:6].upper()}", name="海尔青岛 Haier Qingdao", sales_owner="陈丽"
        ),
        metadata=SALES.metadata(),
    ).customer
    tomorrow = date.today() + timedelta(days=1)  # due by the end of tomorrow: within 48 h, not overdue
    created = api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer.customer_id,
            channel=order_pb2.CHANNEL_DIRECT,
            due_date=date_pb2.Date(year=tomorrow.year, month=tomorrow.month, day=tomorrow.day),
            lines=[line("BK-310 支架 bracket", 300, "", "黑色 black", "发黑 blackening")],
        ),
        metadata=SALES.metadata(),
    ).order
    api.orders.ApproveOrder(
        order_pb2.ApproveOrderRequest(order_id=created.order_id, expected_version=created.version),
        metadata=APPROVER.metadata(),
    )
    [wo] = eventually("the work order", lambda: work_orders(api, created.order_id))
    api.production.ReportStage(
        production_pb2.ReportStageRequest(
            work_order_id=wo.work_order_id, stage=production_pb2.STAGE_IN_PROCESS
        ),
        metadata=LEAD.metadata(),
    )
    expected = [("周建华", "production_supervisor"), ("陈丽", "sales_owner")]
    eventually("the warnings", lambda: of_kind(notices(api, wo.work_order_no), WARNING) == expected, 20)
    # On the channels: a failed first try each, the retry 5 s later ([notify.retry]) taken.
    eventually(
        "the warnings on the channels",
        lambda: delivered(api, wo.work_order_no, "due_warning") == ON_CHANNELS,
        30,
    )
    time.sleep(2.5)  # two more checks and dispatches: still exactly one each
    assert of_kind(notices(api, wo.work_order_no), WARNING) == expected
    check_channels_carried_each_once(api, channels, wo.work_order_no, "due_warning")
    # urgent, so WeCom @-mentions the supervisor by mobile (text message, tenant file's mobile)
    [robot] = channels.wecom_texts(wo.work_order_no)
    assert robot.startswith(f"【紧急 Urgent】{WARNING}: {wo.work_order_no}"), robot
    by_wo = notify_pb2.ListAlertsRequest(work_order_no=wo.work_order_no)
    [alert] = api.notify.ListAlerts(by_wo, metadata=PLANNER.metadata()).alerts
    assert (alert.state, alert.threshold_hours, alert.order_no) == (
        notify_pb2.ALERT_STATE_RAISED,
        48.0,
        created.order_no,
    )
    supervisor = Caller("hardware", "周建华", ("planner",))
    acked = api.notify.AcknowledgeAlert(
        notify_pb2.AcknowledgeAlertRequest(alert_id=alert.alert_id), metadata=supervisor.metadata()
    ).alert
    assert [a.name for a in acked.acknowledgements] == ["周建华"]

    api.production.ReportStage(
        production_pb2.ReportStageRequest(
            work_order_id=wo.work_order_id, stage=production_pb2.STAGE_QC_PASSED
        ),
        metadata=LEAD.metadata(),
    )
    eventually("the withdrawals", lambda: of_kind(notices(api, wo.work_order_no), WITHDRAWN) == expected, 20)
    time.sleep(2.5)
    found = notices(api, wo.work_order_no)
    assert (of_kind(found, WARNING), of_kind(found, WITHDRAWN)) == (expected, expected)
    assert api.notify.ListAlerts(by_wo, metadata=PLANNER.metadata()).alerts == []  # no longer open
    by_wo.state = notify_pb2.ALERT_STATE_WITHDRAWN
    [gone] = api.notify.ListAlerts(by_wo, metadata=PLANNER.metadata()).alerts
    assert (gone.withdraw_reason, [a.name for a in gone.acknowledgements]) == ("finished", ["周建华"])
    check_withdrawals_on_the_channels(api, channels, wo.work_order_no)


def check_withdrawals_on_the_channels(api: Api, channels: ChannelInbox, reference: str) -> None:
    """A withdrawal is not urgent: in 周建华's quiet hours (22:00–07:00 plant time) his waits until
    they end; 陈丽 has none. Which applies depends on when the test runs, so both are checked."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    quiet = now.hour >= 22 or now.hour < 7
    expected = [x for x in ON_CHANNELS if not (quiet and x[0] == "周建华")]
    eventually(
        "the withdrawals on the channels",
        lambda: delivered(api, reference, "due_warning_withdrawn") == expected,
        30,
    )
    if quiet:
        held = [
            d
            for d in deliveries(api, reference)
            if d.kind == "due_warning_withdrawn" and d.recipient == "周建华"
        ]
        assert {(d.state, d.held_reason) for d in held} == {
            (notify_pb2.DELIVERY_STATE_PENDING, "quiet_hours")
        }
        return
    check_channels_carried_each_once(api, channels, reference, "due_warning_withdrawn")
