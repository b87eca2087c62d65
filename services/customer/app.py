"""Composition root of the customer service."""

from __future__ import annotations

import contextlib
from pathlib import Path

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from services.chassis.errors import AlreadyExists
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.chassis.tenants import Tenant
from services.customer.adapters.tables import metadata
from services.customer.api import CustomerApi
from services.customer.domain.model import TierThresholds
from services.customer.service_layer import handlers
from services.customer.service_layer.unit_of_work import CustomerUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    def thresholds_for(tenant_id: str) -> TierThresholds:
        return tier_thresholds(ctx.tenant(tenant_id))

    def seed(tenant: Tenant) -> None:
        for c in tenant.demo.customers:
            with contextlib.suppress(AlreadyExists):
                handlers.register_customer(
                    handlers.RegisterCustomer(
                        code=c.code,
                        name=c.name,
                        years_of_cooperation=c.years_of_cooperation,
                        yearly_purchases_cny=c.yearly_purchases_cny,
                        sales_owner=c.sales_owner,
                    ),
                    ctx.uow,
                    tier_thresholds(tenant),
                )

    api = CustomerApi(ctx.uow, thresholds_for)
    name = customer_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name
    return Wiring(
        bindings=[GrpcBinding(name, customer_pb2_grpc.add_CustomerServiceServicer_to_server, api)], seed=seed
    )


def tier_thresholds(tenant: Tenant) -> TierThresholds:
    tiers = tenant.customer_tiers
    return TierThresholds(
        a_min_years=tiers.a_min_years,
        a_min_yearly_cny=tiers.a_min_yearly_cny,
        b_min_years=tiers.b_min_years,
        b_min_yearly_cny=tiers.b_min_yearly_cny,
    )


definition = ServiceDefinition(
    name="customer",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={"customer_created": customer_pb2.CustomerCreated},
    unit_of_work=CustomerUnitOfWork,
    wire=wire,
)
