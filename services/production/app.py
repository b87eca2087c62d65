"""Composition root of the production service."""

from __future__ import annotations

from pathlib import Path

from oms.production.v1 import production_pb2, production_pb2_grpc
from services.chassis.consumer import Subscription
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.production import consumers
from services.production.adapters.tables import metadata
from services.production.api import ProductionApi
from services.production.service_layer.unit_of_work import ProductionUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    name = production_pb2.DESCRIPTOR.services_by_name["ProductionService"].full_name
    return Wiring(
        bindings=[
            GrpcBinding(
                name, production_pb2_grpc.add_ProductionServiceServicer_to_server, ProductionApi(ctx.uow)
            )
        ],
        subscriptions=subscriptions(),
    )


def subscriptions() -> list[Subscription]:
    return [
        Subscription(
            "order",
            "order_approved",
            consumers.create_work_orders,
            name="create_work_orders",
            version_of=consumers.order_version,
        )
    ]


definition = ServiceDefinition(
    name="production",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={"work_order_created": production_pb2.WorkOrderCreated},
    unit_of_work=ProductionUnitOfWork,
    wire=wire,
)
