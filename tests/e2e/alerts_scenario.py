"""Due-date alerts end to end through the public gRPC API, in both run modes (the stack's due
check ticking every second, OMS_DUE_CHECK_S=1): a work order due within 48 h and still in process
→ the production supervisor (tenant file) and the customer's sales owner each get exactly one
warning; it passes QC → each gets exactly one withdrawal."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta

from google.type import date_pb2

from oms.customer.v1 import customer_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
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


def check_a_work_order_due_soon_warns_once_and_is_withdrawn_once_it_finishes(api: Api) -> None:
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
    time.sleep(2.5)  # two more checks: still exactly one each
    assert of_kind(notices(api, wo.work_order_no), WARNING) == expected
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
