"""gRPC API of the notify service (read side; events arrive through the worker)."""

from __future__ import annotations

from oms.notify.v1 import notify_pb2, notify_pb2_grpc
from services.chassis.fields import timestamp_of
from services.notify.service_layer import handlers


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
