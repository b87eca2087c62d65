"""gRPC API of the notify service (read side; events arrive through the worker)."""

from __future__ import annotations

from oms.notify.v1 import notify_pb2, notify_pb2_grpc
from services.chassis.fields import timestamp_of
from services.chassis.paging import page_size
from services.notify.adapters.delivery_store import DeliveryRecord
from services.notify.adapters.watch_store import AlertRecord
from services.notify.service_layer import alerts, deliveries, handlers


class NotifyApi(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, uow: handlers.UowFactory):
        self._uow = uow

    def ListNotifications(self, request, context) -> notify_pb2.ListNotificationsResponse:
        query = handlers.ListNotifications(
            reference=request.reference,
            recipient=request.recipient,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        found, token = handlers.list_notifications(query, self._uow)
        return notify_pb2.ListNotificationsResponse(
            next_page_token=token,
            notifications=[
                notify_pb2.Notification(
                    notification_id=n.notification_id,
                    recipient=n.recipient,
                    recipient_role=n.recipient_role,
                    subject=n.subject,
                    body=n.body,
                    event_id=n.event_id,
                    reference=n.reference,
                    created_at=timestamp_of(n.created_at),
                )
                for n in found
            ],
        )

    def ListAlerts(self, request, context) -> notify_pb2.ListAlertsResponse:
        state = STATES.get(request.state, "raised")
        found = alerts.list_alerts(
            self._uow,
            state,
            request.order_no,
            request.work_order_no,
            request.recipient,
            page_size(request.page_size, 100),
        )
        return notify_pb2.ListAlertsResponse(alerts=[_alert(a) for a in found])

    def AcknowledgeAlert(self, request, context) -> notify_pb2.AcknowledgeAlertResponse:
        return notify_pb2.AcknowledgeAlertResponse(
            alert=_alert(alerts.acknowledge(request.alert_id.lower(), self._uow))
        )

    def ListDeliveries(self, request, context) -> notify_pb2.ListDeliveriesResponse:
        found, token = deliveries.list_deliveries(
            self._uow,
            deliveries.DeliveryQuery(
                order_no=request.order_no,
                reference=request.reference,
                recipient=request.recipient,
                channel=request.channel,
                state=DELIVERY_STATES.get(request.state, ""),
                page_size=request.page_size,
                page_token=request.page_token,
            ),
        )
        return notify_pb2.ListDeliveriesResponse(
            deliveries=[_delivery(d) for d in found], next_page_token=token
        )


DELIVERY_STATES = {
    notify_pb2.DELIVERY_STATE_PENDING: "pending",
    notify_pb2.DELIVERY_STATE_SENT: "sent",
    notify_pb2.DELIVERY_STATE_REJECTED: "rejected",
    notify_pb2.DELIVERY_STATE_FAILED: "failed",
    notify_pb2.DELIVERY_STATE_UNDELIVERABLE: "undeliverable",
}
DELIVERY_STATE_OF = {v: k for k, v in DELIVERY_STATES.items()}


def _delivery(d: DeliveryRecord) -> notify_pb2.Delivery:
    return notify_pb2.Delivery(
        delivery_id=d.delivery_id,
        notification_id=d.notification_id,
        recipient=d.recipient,
        channel=d.channel,
        kind=d.kind,
        reference=d.reference,
        order_no=d.order_no,
        subject=d.subject,
        urgent=d.urgent,
        state=DELIVERY_STATE_OF.get(d.state, notify_pb2.DELIVERY_STATE_UNSPECIFIED),
        attempts=d.attempts,
        next_attempt_at=timestamp_of(d.next_attempt_at) if d.state == "pending" else None,
        held_reason=d.held_reason,
        detail=d.detail,
        created_at=timestamp_of(d.created_at),
        finished_at=timestamp_of(d.finished_at) if d.finished_at else None,
        tries=[
            notify_pb2.DeliveryAttempt(
                attempt=t.attempt,
                outcome=t.outcome,
                detail=t.detail,
                status=t.status or 0,
                code=t.code or 0,
                at=timestamp_of(t.at),
                duration_ms=t.duration_ms,
            )
            for t in d.tries
        ],
    )


STATES = {notify_pb2.ALERT_STATE_RAISED: "raised", notify_pb2.ALERT_STATE_WITHDRAWN: "withdrawn"}
STATE_OF = {v: k for k, v in STATES.items()}


def _alert(a: AlertRecord) -> notify_pb2.Alert:
    return notify_pb2.Alert(
        alert_id=a.alert_id,
        kind=alerts.KIND,
        work_order_no=a.work_order_no,
        order_no=a.order_no,
        threshold_hours=a.threshold_hours,
        due_date=a.due_date.isoformat(),
        state=STATE_OF.get(a.state, notify_pb2.ALERT_STATE_UNSPECIFIED),
        recipients=[notify_pb2.AlertRecipient(name=n, role=r) for n, r in a.recipients],
        raised_at=timestamp_of(a.raised_at),
        withdrawn_at=timestamp_of(a.withdrawn_at) if a.withdrawn_at else None,
        withdraw_reason=a.withdraw_reason,
        acknowledgements=[
            notify_pb2.Acknowledgement(name=n, at=timestamp_of(at)) for n, at in a.acknowledgements
        ],
    )
