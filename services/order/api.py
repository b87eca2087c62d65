"""gRPC API of the order service: translate, call the handler, translate back."""

from __future__ import annotations

from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis import identity
from services.chassis.fields import date_from_proto, date_to_proto, optional_date_from_proto, timestamp_of
from services.chassis.tenants import Tenant
from services.order.domain.lifecycle import Transition
from services.order.domain.model import Channel, Order, OrderLine, OrderState, Priority
from services.order.service_layer import handlers
from services.order.service_layer.ports import CustomerDirectory, NumberSource, StockCheck


class OrderApi(order_pb2_grpc.OrderServiceServicer):
    def __init__(
        self,
        uow: handlers.UowFactory,
        customers: CustomerDirectory,
        stock: StockCheck,
        options_for,
        tenant_for,
        numbers: NumberSource,
    ):
        self._uow = uow
        self._customers = customers
        self._stock = stock
        self._options_for = options_for  # tenant id -> OptionLibrary
        self._tenant_for = tenant_for  # tenant id -> Tenant (number prefix, calendar)
        self._numbers = numbers

    def CreateOrder(self, request: order_pb2.CreateOrderRequest, context) -> order_pb2.CreateOrderResponse:
        tenant_id = identity.current().tenant_id
        cmd = handlers.CreateOrder(
            customer_id=request.customer_id,
            channel=Channel(order_pb2.Channel.Name(request.channel)),
            priority=Priority(order_pb2.Priority.Name(request.priority or order_pb2.PRIORITY_NORMAL)),
            due_date=date_from_proto("due_date", request.due_date),
            lines=[line_from_proto(x) for x in request.lines],
            request_id=request.request_id,
            draft=request.draft,
        )
        tenant = self._tenant_for(tenant_id)
        order = handlers.create_order(
            cmd,
            self._uow,
            self._customers,
            self._options_for(tenant_id),
            tenant.number_prefix,
            self._numbers,
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
            due_from=optional_date_from_proto(request, "due_from"),
            due_to=optional_date_from_proto(request, "due_to"),
            page_size=request.page_size,
            page_token=request.page_token,
            order_no=request.order_no,
            customer_id=request.customer_id,
        )
        orders, token = handlers.list_orders(query, self._uow)
        return order_pb2.ListOrdersResponse(orders=[order_to_proto(o) for o in orders], next_page_token=token)

    def ApproveOrder(self, request: order_pb2.ApproveOrderRequest, context) -> order_pb2.ApproveOrderResponse:
        cmd = handlers.ApproveOrder(order_id=request.order_id, expected_version=request.expected_version)
        order = handlers.approve_order(cmd, self._uow, self._stock)
        return order_pb2.ApproveOrderResponse(order=order_to_proto(order))

    def SubmitOrder(self, request: order_pb2.SubmitOrderRequest, context) -> order_pb2.SubmitOrderResponse:
        cmd = handlers.SubmitOrder(order_id=request.order_id, expected_version=request.expected_version)
        return order_pb2.SubmitOrderResponse(order=order_to_proto(handlers.submit_order(cmd, self._uow)))

    def CancelOrder(self, request: order_pb2.CancelOrderRequest, context) -> order_pb2.CancelOrderResponse:
        cmd = handlers.CancelOrder(
            order_id=request.order_id, expected_version=request.expected_version, reason=request.reason
        )
        return order_pb2.CancelOrderResponse(order=order_to_proto(handlers.cancel_order(cmd, self._uow)))

    def ListOrderHistory(
        self, request: order_pb2.ListOrderHistoryRequest, context
    ) -> order_pb2.ListOrderHistoryResponse:
        steps = handlers.order_history(request.order_id, self._uow)
        return order_pb2.ListOrderHistoryResponse(transitions=[transition_to_proto(t) for t in steps])

    def GetTenantOptions(
        self, request: order_pb2.GetTenantOptionsRequest, context
    ) -> order_pb2.GetTenantOptionsResponse:
        tenant = self._tenant_for(identity.current().tenant_id)
        return order_pb2.GetTenantOptionsResponse(options=tenant_options_to_proto(tenant))


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
        due_date=date_to_proto(o.due_date),
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
        created_at=timestamp_of(o.created_at),
        approved_by=o.approved_by,
        approved_at=timestamp_of(o.approved_at),
    )


def tenant_options_to_proto(tenant: Tenant) -> order_pb2.TenantOptions:
    return order_pb2.TenantOptions(
        tenant_id=tenant.tenant_id,
        name_zh=tenant.name_zh,
        name_en=tenant.name_en,
        time_zone=tenant.timezone,
        number_prefix=tenant.number_prefix,
        colours=tenant.options.colours,
        surface_treatments=tenant.options.surface_treatments,
        workshops=[order_pb2.Workshop(code=code, name=w.name) for code, w in tenant.workshops.items()],
    )


def transition_to_proto(t: Transition) -> order_pb2.OrderTransition:
    return order_pb2.OrderTransition(
        action=t.action.value,
        from_state=order_pb2.OrderState.Value(
            t.from_state.value if t.from_state else "ORDER_STATE_UNSPECIFIED"
        ),
        to_state=order_pb2.OrderState.Value(t.to_state.value),
        actor=t.actor,
        at=timestamp_of(t.at),
        reason=t.reason,
        version=t.version,
    )
