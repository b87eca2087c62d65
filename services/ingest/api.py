"""gRPC API of the ingest service."""

from __future__ import annotations

from oms.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from oms.order.v1 import order_pb2
from services.chassis.fields import date_from_proto
from services.ingest.domain.model import PhoneOrder, PhoneOrderLine
from services.ingest.service_layer import handlers


class IngestApi(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, uow: handlers.UowFactory, orders: handlers.OrderDesk):
        self._uow = uow
        self._orders = orders

    def SubmitPhoneOrder(self, request, context) -> ingest_pb2.SubmitPhoneOrderResponse:
        form = PhoneOrder(
            idempotency_key=request.idempotency_key,
            customer_id=request.customer_id,
            due_date=date_from_proto("due_date", request.due_date),
            priority=order_pb2.Priority.Name(request.priority or order_pb2.PRIORITY_NORMAL),
            lines=[
                PhoneOrderLine(
                    x.product_model, x.quantity, x.workshop, x.colour, x.surface_treatment, x.unit_price_fen
                )
                for x in request.lines
            ],
        )
        intake, duplicate = handlers.submit_phone_order(form, self._uow, self._orders)
        return ingest_pb2.SubmitPhoneOrderResponse(
            order_id=intake.order_id, order_no=intake.order_no, duplicate=duplicate
        )
