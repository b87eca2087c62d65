"""Alerts and the delivery log in omsctl: the open due-date warnings (交期预警), acknowledging one,
and how each notice went out on the plant's channels (发送记录) — what a plant's IT person reads
when someone says "I never got it"."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from oms.notify.v1 import notify_pb2
from omsctl import display as d
from omsctl.client import Client
from omsctl.output import as_json, emit, more

ALERT_STATES = {"raised": notify_pb2.ALERT_STATE_RAISED, "withdrawn": notify_pb2.ALERT_STATE_WITHDRAWN}
DELIVERY_STATES = {
    "pending": notify_pb2.DELIVERY_STATE_PENDING,
    "sent": notify_pb2.DELIVERY_STATE_SENT,
    "rejected": notify_pb2.DELIVERY_STATE_REJECTED,
    "failed": notify_pb2.DELIVERY_STATE_FAILED,
    "undeliverable": notify_pb2.DELIVERY_STATE_UNDELIVERABLE,
}
DELIVERY_LABELS = {
    notify_pb2.DELIVERY_STATE_PENDING: "待发送 pending",
    notify_pb2.DELIVERY_STATE_SENT: "已送达 sent",
    notify_pb2.DELIVERY_STATE_REJECTED: "被拒绝 rejected",
    notify_pb2.DELIVERY_STATE_FAILED: "发送失败 failed",
    notify_pb2.DELIVERY_STATE_UNDELIVERABLE: "无法投递 undeliverable",
}
ALERT_HEADERS = [
    "编号 Alert",
    "工单 Work order",
    "订单 Order",
    "交期 Due",
    "阈值 Threshold",
    "收件人 To",
    "已确认 Acked",
]
DELIVERY_HEADERS = [
    "时间 Time",
    "收件人 To",
    "渠道 Channel",
    "状态 State",
    "次数 Tries",
    "事由 Subject",
    "说明 Detail",
]


def register(add: Callable[..., argparse.ArgumentParser], paging: Callable[..., None]) -> None:
    sp = add("alerts", cmd_alerts, "due-date warnings, open ones by default (交期预警)")
    sp.add_argument("--state", choices=sorted(ALERT_STATES), default="raised")
    sp.add_argument("--order", default="", help="order number")
    sp.add_argument("--work-order", default="", help="work order number")
    sp.add_argument("--recipient", default="", help="e.g. 周建华")
    sp.add_argument("--limit", type=int, default=100)
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("ack", cmd_ack, "acknowledge an alert you received: you have it in hand (确认预警)")
    sp.add_argument("alert", help="alert id (omsctl alerts)")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("deliveries", cmd_deliveries, "how notices went out on the channels, every try (发送记录)")
    sp.add_argument("--order", default="", help="order number")
    sp.add_argument("--reference", default="", help="work order number (or what the notice is about)")
    sp.add_argument("--recipient", default="", help="e.g. 周建华")
    sp.add_argument("--channel", default="", help="a [notify.channels] name, e.g. plant_wecom")
    sp.add_argument("--state", choices=sorted(DELIVERY_STATES), default=None)
    sp.add_argument("--tries", action="store_true", help="each try on its own line")
    paging(sp, 50)


def cmd_alerts(c: Client, a) -> int:
    request = notify_pb2.ListAlertsRequest(
        state=ALERT_STATES[a.state],
        order_no=a.order,
        work_order_no=a.work_order,
        recipient=a.recipient,
        page_size=a.limit,
    )
    reply = c.call("notify", "ListAlerts", request)
    if a.json:
        as_json(list(reply.alerts))
        return 0
    rows = [
        [
            x.alert_id,
            x.work_order_no,
            x.order_no,
            x.due_date,
            "逾期 overdue" if x.threshold_hours == 0 else f"{x.threshold_hours:g} h",
            ", ".join(r.name for r in x.recipients),
            ", ".join(k.name for k in x.acknowledgements) or d.NONE,
        ]
        for x in reply.alerts
    ]
    emit(d.table(ALERT_HEADERS, rows))
    return 0


def cmd_ack(c: Client, a) -> int:
    reply = c.call("notify", "AcknowledgeAlert", notify_pb2.AcknowledgeAlertRequest(alert_id=a.alert))
    if a.json:
        as_json(reply)
        return 0
    alert = reply.alert
    emit(
        [f"已确认 acknowledged: {alert.work_order_no} ({', '.join(k.name for k in alert.acknowledgements)})"]
    )
    return 0


def cmd_deliveries(c: Client, a) -> int:
    request = notify_pb2.ListDeliveriesRequest(
        order_no=a.order,
        reference=a.reference,
        recipient=a.recipient,
        channel=a.channel,
        state=DELIVERY_STATES[a.state] if a.state else notify_pb2.DELIVERY_STATE_UNSPECIFIED,
        page_size=a.limit,
        page_token=a.page_token or "",
    )
    reply = c.call("notify", "ListDeliveries", request)
    if a.json:
        as_json(list(reply.deliveries))
        more(reply.next_page_token, a.json)
        return 0
    rows = []
    for x in reply.deliveries:
        state = DELIVERY_LABELS.get(x.state, str(x.state))
        if x.state == notify_pb2.DELIVERY_STATE_PENDING and x.HasField("next_attempt_at"):
            held = " 免打扰 quiet hours" if x.held_reason == "quiet_hours" else ""
            state += f" → {d.local_time(x.next_attempt_at, c.zone)}{held}"
        rows.append(
            [
                d.local_time(x.created_at, c.zone),
                x.recipient,
                x.channel,
                ("【紧急】" if x.urgent else "") + state,
                str(x.attempts),
                x.subject,
                x.detail or d.NONE,
            ]
        )
        if a.tries:
            for t in x.tries:
                answer = f" HTTP/SMTP {t.status}" if t.status else ""
                rows.append(
                    ["", "", f"  #{t.attempt}", t.outcome + answer, "", d.local_time(t.at, c.zone), t.detail]
                )
    emit(d.table(DELIVERY_HEADERS, rows, right={4}, limits={5: 50, 6: 40}))
    more(reply.next_page_token, a.json)
    return 0
