"""Composition root of the order service: the one place its real dependencies are wired."""

from __future__ import annotations

from pathlib import Path

from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis.consumer import Subscription
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.chassis.tenants import Tenant
from services.order import consumers
from services.order.adapters.peers import (
    GrpcContractPrices,
    GrpcCustomerDirectory,
    GrpcMaterialReservations,
    GrpcShopFloor,
    RememberedContractPrices,
)
from services.order.adapters.tables import metadata
from services.order.api import OrderApi
from services.order.domain.entry import CustomFieldSpec
from services.order.domain.model import OptionLibrary
from services.order.service_layer.unit_of_work import OrderUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    customers = GrpcCustomerDirectory(ctx.channel("customer"))
    prices = RememberedContractPrices(GrpcContractPrices(ctx.channel("customer")))
    api = OrderApi(
        ctx.uow,
        customers,
        GrpcMaterialReservations(ctx.channel("inventory")),
        lambda tenant_id: option_library(ctx.tenant(tenant_id)),
        ctx.tenant,
        ctx.numbers,
        GrpcShopFloor(ctx.channel("production"), ctx.channel("inventory")),
        prices,
    )
    return Wiring(
        bindings=[
            GrpcBinding(
                order_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name,
                order_pb2_grpc.add_OrderServiceServicer_to_server,
                api,
            )
        ],
        subscriptions=[
            Subscription(
                "production",
                "work_order_stage_changed",
                consumers.follow_production,  # the order's state and the work order's progress
                name="follow_production",
            ),
            *(
                Subscription(
                    "customer", event_type, consumers.forget_customer(customers), name=f"forget_{event_type}"
                )
                for event_type in consumers.CUSTOMER_EVENTS
            ),
            Subscription(
                "customer",
                "contract_price_set",
                consumers.forget_prices(prices),
                name="forget_contract_prices",
            ),
        ],
    )


def option_library(tenant: Tenant) -> OptionLibrary:
    """What order lines are checked against: the tenant's option libraries and its workshops."""
    return OptionLibrary(
        colours=tenant.options.colours,
        surface_treatments=tenant.options.surface_treatments,
        workshops=tuple(tenant.workshops),
        product_models=tenant.options.product_models,
        packaging=tenant.options.packaging,
        required=frozenset(tenant.entry.required),
        routing=dict(tenant.routing),
        custom_fields={
            key: CustomFieldSpec(f.label, f.type, f.required, f.choices)
            for key, f in tenant.custom_fields.items()
        },
    )


definition = ServiceDefinition(
    name="order",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={
        "order_created": order_pb2.OrderCreated,
        "order_submitted": order_pb2.OrderSubmitted,
        "order_approved": order_pb2.OrderApproved,
        "order_cancelled": order_pb2.OrderCancelled,
        "order_change_requested": order_pb2.OrderChangeRequested,
        "order_changed": order_pb2.OrderChanged,
        "order_change_rejected": order_pb2.OrderChangeRejected,
        "order_state_changed": order_pb2.OrderStateChanged,
        "order_shipped": order_pb2.OrderShipped,
        "order_closed": order_pb2.OrderClosed,
        "order_line_rerouted": order_pb2.OrderLineRerouted,
        "after_sales_requested": order_pb2.AfterSalesRequested,
    },
    unit_of_work=OrderUnitOfWork,
    wire=wire,
)
