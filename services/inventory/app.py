"""Composition root of the inventory service."""

from __future__ import annotations

from pathlib import Path

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.chassis.tenants import Tenant
from services.inventory.adapters.tables import metadata
from services.inventory.api import InventoryApi
from services.inventory.service_layer import handlers
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    def seed(tenant: Tenant) -> None:
        stock = {s.product_model: s.on_hand for s in tenant.demo.stock}
        handlers.record_stock(stock, ctx.uow)

    name = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name
    return Wiring(
        bindings=[
            GrpcBinding(
                name,
                inventory_pb2_grpc.add_InventoryServiceServicer_to_server,
                InventoryApi(ctx.uow, lambda tenant_id: ctx.tenant(tenant_id).bom),
            )
        ],
        seed=seed,
    )


definition = ServiceDefinition(
    name="inventory",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={},
    unit_of_work=InventoryUnitOfWork,
    wire=wire,
)
