"""Composition root of the production service."""

from __future__ import annotations

import functools
from pathlib import Path

from oms.production.v1 import production_pb2, production_pb2_grpc
from services.chassis.consumer import Subscription
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.chassis.tenants import tenant_file
from services.production import consumers
from services.production.adapters.tables import metadata
from services.production.api import ProductionApi
from services.production.consumers_batching import with_batching
from services.production.domain.model import Bom
from services.production.service_layer.batching import policy_of
from services.production.service_layer.handlers import BomOf
from services.production.service_layer.unit_of_work import ProductionUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    name = production_pb2.DESCRIPTOR.services_by_name["ProductionService"].full_name
    return Wiring(
        bindings=[
            GrpcBinding(
                name,
                production_pb2_grpc.add_ProductionServiceServicer_to_server,
                ProductionApi(ctx.uow, ctx.tenant),
            )
        ],
        subscriptions=with_batching(
            subscriptions(lambda tenant_id: ctx.tenant(tenant_id).bom),
            functools.cache(lambda tenant_id: policy_of(ctx.tenant(tenant_id))),
        ),
    )


def tenant_files_bom(tenant_id: str) -> Bom:
    """The tenant file's [bom] (tests and tools that build subscriptions alone)."""
    return tenant_file(tenant_id).bom


def subscriptions(bom_of: BomOf = tenant_files_bom) -> list[Subscription]:
    return [
        Subscription(
            "order",
            "order_approved",
            consumers.create_work_orders(bom_of),
            name="create_work_orders",
            version_of=consumers.order_version,
        ),
        # The change flow is ordered per order by production's own row (consumers.py), so these
        # carry no version_of: a per-consumer version would not see the other consumers' events.
        Subscription(
            "order", "order_change_requested", consumers.freeze_work_orders, name="freeze_work_orders"
        ),
        Subscription(
            "order", "order_change_rejected", consumers.unfreeze_work_orders, name="unfreeze_work_orders"
        ),
        Subscription(
            "order", "order_changed", consumers.revise_work_orders(bom_of), name="revise_work_orders"
        ),
        Subscription("order", "order_cancelled", consumers.cancel_work_orders, name="cancel_work_orders"),
        Subscription(
            "order", "order_line_rerouted", consumers.reroute_work_orders(bom_of), name="reroute_work_orders"
        ),
    ]


definition = ServiceDefinition(
    name="production",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={
        "work_order_created": production_pb2.WorkOrderCreated,
        "work_order_stage_changed": production_pb2.WorkOrderStageChanged,
        "work_order_revised": production_pb2.WorkOrderRevised,
        "work_order_cancelled": production_pb2.WorkOrderCancelled,
        "material_requirements_changed": production_pb2.MaterialRequirementsChanged,
        "batch_task_created": production_pb2.BatchTaskCreated,
        "batch_task_changed": production_pb2.BatchTaskChanged,
    },
    unit_of_work=ProductionUnitOfWork,
    wire=wire,
)
