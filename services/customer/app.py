"""Composition root of the customer service."""

from __future__ import annotations

import contextlib
from pathlib import Path

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from services.chassis.consumer import Subscription
from services.chassis.errors import AlreadyExists
from services.chassis.jobs import Job
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.chassis.tenants import Tenant
from services.customer import consumers
from services.customer.adapters.tables import metadata
from services.customer.api import CustomerApi, tenant_rules
from services.customer.service_layer import handlers
from services.customer.service_layer.handlers import TenantRules
from services.customer.service_layer.tiers import reassess_tiers
from services.customer.service_layer.unit_of_work import CustomerUnitOfWork

DAY_S = 24 * 3600


def wire(ctx: ServiceContext) -> Wiring:
    def rules_for(tenant_id: str) -> TenantRules:
        return tenant_rules(ctx.tenant(tenant_id))

    def seed(tenant: Tenant) -> None:
        for c in tenant.demo.customers:
            with contextlib.suppress(AlreadyExists):
                handlers.register_customer(
                    handlers.RegisterCustomer(
                        code=c.code,
                        fields=handlers.EditableFields(name=c.name, sales_owner=c.sales_owner),
                        years_of_cooperation=c.years_of_cooperation,
                        yearly_purchases_cny=c.yearly_purchases_cny,
                    ),
                    ctx.uow,
                    tenant_rules(tenant),
                )

    name = customer_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name
    return Wiring(
        bindings=[
            GrpcBinding(
                name,
                customer_pb2_grpc.add_CustomerServiceServicer_to_server,
                CustomerApi(ctx.uow, ctx.tenant),
            )
        ],
        subscriptions=subscriptions(rules_for),
        seed=seed,
        jobs=[
            # Purchases age out of the last 12 months and years of cooperation grow with no event:
            # every active customer is reassessed once a day (not at start-up: a crash-looping pod
            # would run it on every start).
            Job(
                "customer_tiers",
                every_s=DAY_S,
                run=lambda tenant_id: reassess_tiers(ctx.uow, rules_for(tenant_id)),
                first_after_s=300,
            )
        ],
    )


def subscriptions(rules_for) -> list[Subscription]:
    return [
        Subscription(
            "order",
            "order_shipped",
            consumers.count_purchase(rules_for),
            name="count_purchase",
            version_of=consumers.order_version,
        )
    ]


definition = ServiceDefinition(
    name="customer",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={
        "customer_created": customer_pb2.CustomerCreated,
        "customer_updated": customer_pb2.CustomerUpdated,
        "customer_deactivated": customer_pb2.CustomerDeactivated,
        "customer_reactivated": customer_pb2.CustomerReactivated,
        "customer_tier_changed": customer_pb2.CustomerTierChanged,
        "contract_price_set": customer_pb2.ContractPriceSet,
    },
    unit_of_work=CustomerUnitOfWork,
    wire=wire,
)
