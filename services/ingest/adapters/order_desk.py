"""The order service, as ingest sees it: one call to create an order."""

from __future__ import annotations

import grpc

from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis.fields import date_to_proto
from services.ingest.domain.model import PhoneOrder


class GrpcOrderDesk:
    def __init__(self, channel: grpc.Channel):
        self._stub = order_pb2_grpc.OrderServiceStub(channel)

    def create(self, form: PhoneOrder, channel: str) -> tuple[str, str]:
        request = order_pb2.CreateOrderRequest(
            customer_id=form.customer_id,
            channel=order_pb2.Channel.Value(channel),
            priority=order_pb2.Priority.Value(form.priority),
            due_date=date_to_proto(form.due_date),
            request_id=form.idempotency_key,  # the order service dedupes too, so a crash here is harmless
            lines=[
                order_pb2.OrderLine(
                    product_model=x.product_model,
                    quantity=x.quantity,
                    workshop=x.workshop,
                    colour=x.colour,
                    surface_treatment=x.surface_treatment,
                    unit_price_fen=x.unit_price_fen,
                )
                for x in form.lines
            ],
        )
        order = self._stub.CreateOrder(request).order  # errors arrive as domain errors, fields kept
        return order.order_id, order.order_no
