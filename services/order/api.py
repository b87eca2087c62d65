"""gRPC API of the order service: translate, call the handler, translate back."""

from __future__ import annotations

from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis import identity
from services.chassis.fields import (
    date_from_proto,
    date_to_proto,
    optional_date_from_proto,
    optional_instant_from_proto,
    timestamp_of,
)
from services.chassis.tenants import Tenant
from services.order.api_after_sales import AfterSalesRpcs
from services.order.api_changes import (
    ChangeControlRpcs,
    batches_from_proto,
    batches_to_proto,
    custom_fields_from_proto,
    custom_fields_to_proto,
    field_change_to_proto,
    line_from_proto,
    lines_to_proto,
)
from services.order.domain.lifecycle import Transition
from services.order.domain.model import Channel, Order, OrderState, Priority
from services.order.service_layer import changes, handlers
from services.order.service_layer.impact import ShopFloor
from services.order.service_layer.ports import (
    ContractPrices,
    CustomerDirectory,
    MaterialReservations,
    NumberSource,
)
from services.price_visibility import may_see_prices


class OrderApi(ChangeControlRpcs, AfterSalesRpcs, order_pb2_grpc.OrderServiceServicer):
    def __init__(
        self,
        uow: handlers.UowFactory,
        customers: CustomerDirectory,
        materials: MaterialReservations,
        options_for,
        tenant_for,
        numbers: NumberSource,
        shop_floor: ShopFloor,
        contract_prices: ContractPrices,
    ):
        self._uow = uow
        self._customers = customers
        self._materials = materials  # inventory's reservations, made at approval
        self._options_for = options_for  # tenant id -> OptionLibrary
        self._tenant_for = tenant_for  # tenant id -> Tenant (number prefix, calendar)
        self._numbers = numbers
        self._shop_floor = shop_floor  # production and inventory, for a change's impact
        self._contract_prices = contract_prices  # the customer service's contract price lists

    def _withhold_prices(self) -> bool:
        """Does the caller get this answer without prices? Staff by role; a portal account by its
        own customer's tier (services/price_visibility.py)."""
        caller = identity.current()
        tier = self._customers.tier(caller.customer_id) if caller.customer_id else ""
        return not may_see_prices(caller, self._tenant_for(caller.tenant_id).price_visibility, tier)

    def _order(self, order: Order, withhold: bool) -> order_pb2.Order:
        return order_to_proto(order, withhold)

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
            delivery_address=request.delivery_address.strip(),
            custom_fields=custom_fields_from_proto(request.custom_fields, "custom_fields"),
            batches=batches_from_proto(request.batches, "batches"),
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
            pricing=handlers.Pricing(self._contract_prices, tenant.price_rules.tolerance_percent),
        )
        return order_pb2.CreateOrderResponse(order=order_to_proto(order, self._withhold_prices()))

    def GetOrder(self, request: order_pb2.GetOrderRequest, context) -> order_pb2.GetOrderResponse:
        as_of = optional_instant_from_proto(request, "as_of")
        if as_of is None:
            order = handlers.get_order(request.order_id, self._uow)
        else:
            order = changes.order_as_of(request.order_id, as_of, self._uow)
        return order_pb2.GetOrderResponse(order=order_to_proto(order, self._withhold_prices()))

    def ListOrders(self, request: order_pb2.ListOrdersRequest, context) -> order_pb2.ListOrdersResponse:
        query = handlers.ListOrders(
            state=OrderState(order_pb2.OrderState.Name(request.state)) if request.state else None,
            due_from=optional_date_from_proto(request, "due_from"),
            due_to=optional_date_from_proto(request, "due_to"),
            page_size=request.page_size,
            page_token=request.page_token,
            order_no=request.order_no,
            customer_id=request.customer_id,
            channel=Channel(order_pb2.Channel.Name(request.channel)) if request.channel else None,
            priority=Priority(order_pb2.Priority.Name(request.priority)) if request.priority else None,
            text=request.text,
            request_id=request.request_id,
        )
        orders, token = handlers.list_orders(query, self._uow, self._customers)
        withhold = self._withhold_prices()
        return order_pb2.ListOrdersResponse(
            orders=[order_to_proto(o, withhold) for o in orders], next_page_token=token
        )

    def ApproveOrder(self, request: order_pb2.ApproveOrderRequest, context) -> order_pb2.ApproveOrderResponse:
        cmd = handlers.ApproveOrder(
            order_id=request.order_id,
            expected_version=request.expected_version,
            override_shortage=request.override_shortage,
            override_reason=request.override_reason,
        )
        order = handlers.approve_order(cmd, self._uow, self._materials)
        return order_pb2.ApproveOrderResponse(order=order_to_proto(order, self._withhold_prices()))

    def SubmitOrder(self, request: order_pb2.SubmitOrderRequest, context) -> order_pb2.SubmitOrderResponse:
        cmd = handlers.SubmitOrder(order_id=request.order_id, expected_version=request.expected_version)
        order = handlers.submit_order(cmd, self._uow)
        return order_pb2.SubmitOrderResponse(order=order_to_proto(order, self._withhold_prices()))

    def CancelOrder(self, request: order_pb2.CancelOrderRequest, context) -> order_pb2.CancelOrderResponse:
        cmd = handlers.CancelOrder(
            order_id=request.order_id, expected_version=request.expected_version, reason=request.reason
        )
        order = handlers.cancel_order(cmd, self._uow)
        return order_pb2.CancelOrderResponse(order=order_to_proto(order, self._withhold_prices()))

    def ListOrderHistory(
        self, request: order_pb2.ListOrderHistoryRequest, context
    ) -> order_pb2.ListOrderHistoryResponse:
        steps = handlers.order_history(request.order_id, self._uow)
        withhold = self._withhold_prices()
        return order_pb2.ListOrderHistoryResponse(
            transitions=[transition_to_proto(t, withhold) for t in steps]
        )

    def GetTenantOptions(
        self, request: order_pb2.GetTenantOptionsRequest, context
    ) -> order_pb2.GetTenantOptionsResponse:
        tenant = self._tenant_for(identity.current().tenant_id)
        return order_pb2.GetTenantOptionsResponse(options=tenant_options_to_proto(tenant))


def order_to_proto(o: Order, withhold: bool) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=o.order_id,
        order_no=o.order_no,
        customer_id=o.customer_id,
        channel=order_pb2.Channel.Value(o.channel.value),
        priority=order_pb2.Priority.Value(o.priority.value),
        state=order_pb2.OrderState.Value(o.state.value),
        due_date=date_to_proto(o.due_date),
        lines=lines_to_proto(o.lines, withhold),
        version=o.version,
        created_by=o.created_by,
        # Times leave in UTC whatever zone the handler worked in (create uses the plant's calendar).
        created_at=timestamp_of(o.created_at),
        approved_by=o.approved_by,
        approved_at=timestamp_of(o.approved_at),
        revision=o.revision,
        revision_since=timestamp_of(o.revision_since),
        pending_change_id=o.pending_change_id,
        total_fen=0 if withhold else o.total_fen(),
        prices_withheld=withhold,
        delivery_address=o.delivery_address,
        custom_fields=custom_fields_to_proto(o.custom_fields),
        price_review=o.price_review,
        batches=batches_to_proto(o.order_no, o.batches),
        price_deviations=[
            order_pb2.PriceDeviation(
                line_no=d.line_no,
                product_model=d.product_model,
                typed_fen=0 if withhold else d.typed_fen,
                contract_fen=0 if withhold else d.contract_fen,
                percent=0.0 if withhold else d.percent,
            )
            for d in o.price_deviations
        ],
        materials_short=o.materials_short,
        materials_locked=o.materials_locked,
        lock_rule=o.lock_rule,
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
        product_models=tenant.options.product_models,
        packaging=tenant.options.packaging,
        required_fields=tenant.entry.required,
        routes=[order_pb2.Route(product_model=m, workshops=w) for m, w in tenant.routing.items()],
        custom_fields=[
            order_pb2.CustomField(key=k, label=f.label, type=f.type, required=f.required, choices=f.choices)
            for k, f in tenant.custom_fields.items()
        ],
    )


def transition_to_proto(t: Transition, withhold: bool) -> order_pb2.OrderTransition:
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
        changes=[field_change_to_proto(f, withhold) for f in t.changes],
    )
