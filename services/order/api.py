"""gRPC API of the order service: translate, call the handler, translate back."""

from __future__ import annotations

from datetime import UTC

from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis import identity
from services.chassis.fields import parse_date, parse_optional_date
from services.order.domain.model import Channel, Order, OrderLine, OrderState, Priority
from services.order.service_layer import handlers
from services.order.service_layer.ports import CustomerDirectory, StockCheck


class OrderApi(order_pb2_grpc.OrderServiceServicer):
    def __init__(
        self,
        uow: handlers.UowFactory,
        customers: CustomerDirectory,
        stock: StockCheck,
        options_for,
        tenant_for,
    ):
        self._uow = uow
        self._customers = customers
        self._stock = stock
        self._options_for = options_for  # tenant id -> OptionLibrary
        self._tenant_for = tenant_for  # tenant id -> Tenant (number prefix, calendar)

    def CreateOrder(self, request: order_pb2.CreateOrderRequest, context) -> order_pb2.CreateOrderResponse:
        tenant_id = identity.current().tenant_id
        cmd = handlers.CreateOrder(
            customer_id=request.customer_id,
            channel=Channel(order_pb2.Channel.Name(request.channel)),
            priority=Priority(order_pb2.Priority.Name(request.priority or order_pb2.PRIORITY_NORMAL)),
            due_date=parse_date("due_date", request.due_date),
            lines=[line_from_proto(x) for x in request.lines],
            request_id=request.request_id,
        )
        tenant = self._tenant_for(tenant_id)
        order = handlers.create_order(
            cmd,
            self._uow,
            self._customers,
            self._options_for(tenant_id),
            tenant.number_prefix,
            plant_tz=tenant.tz,
        )
        return order_pb2.CreateOrderResponse(order=order_to_proto(order))

    def GetOrder(self, request: order_pb2.GetOrderRequest, context) -> order_pb2.GetOrderResponse:
        return order_pb2.GetOrderResponse(
            order=order_to_proto(handlers.get_order(request.order_id, self._uow))
        )

    def ListOrders(self, request: order_pb2.ListOrdersRequest, context) -> order_pb2.ListOrdersResponse:
        query = handlers.ListOrders(
            state=OrderState(order_pb2.OrderState.Name(request.state)) if request.state else None,
            due_from=parse_optional_date("due_from", request.due_from),
            due_to=parse_optional_date("due_to", request.due_to),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        orders, token = handlers.list_orders(query, self._uow)
        return order_pb2.ListOrdersResponse(orders=[order_to_proto(o) for o in orders], next_page_token=token)

    def ApproveOrder(self, request: order_pb2.ApproveOrderRequest, context) -> order_pb2.ApproveOrderResponse:
        cmd = handlers.ApproveOrder(order_id=request.order_id, expected_version=request.expected_version)
        order = handlers.approve_order(cmd, self._uow, self._stock)
        return order_pb2.ApproveOrderResponse(order=order_to_proto(order))


def line_from_proto(x: order_pb2.OrderLine) -> OrderLine:
    return OrderLine(
        product_model=x.product_model,
        quantity=x.quantity,
        workshop=x.workshop,
        colour=x.colour,
        surface_treatment=x.surface_treatment,
        unit_price_fen=x.unit_price_fen,
    )


def order_to_proto(o: Order) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=o.order_id,
        order_no=o.order_no,
        customer_id=o.customer_id,
        channel=order_pb2.Channel.Value(o.channel.value),
        priority=order_pb2.Priority.Value(o.priority.value),
        state=order_pb2.OrderState.Value(o.state.value),
        due_date=o.due_date.isoformat(),
        lines=[
            order_pb2.OrderLine(
                product_model=x.product_model,
                quantity=x.quantity,
                colour=x.colour,
                surface_treatment=x.surface_treatment,
                workshop=x.workshop,
                unit_price_fen=x.unit_price_fen,
            )
            for x in o.lines
        ],
        version=o.version,
        created_by=o.created_by,
        # Times leave in UTC whatever zone the handler worked in (create uses the plant's calendar).
        created_at=o.created_at.astimezone(UTC).isoformat(),
        approved_by=o.approved_by,
        approved_at=o.approved_at.astimezone(UTC).isoformat() if o.approved_at else "",
    )
