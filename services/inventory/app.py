"""Composition root of the inventory service."""

from __future__ import annotations

from pathlib import Path

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from services.chassis.consumer import Subscription
from services.chassis.jobs import Job
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.chassis.tenants import Tenant
from services.inventory import consumers
from services.inventory.adapters.tables import metadata
from services.inventory.adapters.wms import build_wms, seed_demo_materials
from services.inventory.api import InventoryApi, Plants
from services.inventory.service_layer import handlers, wms_sync
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    wms = build_wms(ctx.settings)  # the plant's WMS (services/inventory/adapters/wms.py)

    def seed(tenant: Tenant) -> None:
        stock = {s.product_model: s.on_hand for s in tenant.demo.stock}
        handlers.record_stock(stock, ctx.uow)
        seed_demo_materials(wms, tenant)

    # Approvals are answered once the ledger commits; this thread tells the WMS after them (the
    # wms_sync job below sends whatever it misses: an outage, a stop with work queued).
    pusher = wms_sync.WmsPusher(ctx.uow, lambda tenant_id: plants.of(tenant_id))
    plants = Plants(lambda tenant_id: ctx.tenant(tenant_id), wms, pusher)
    name = inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"].full_name
    return Wiring(
        bindings=[
            GrpcBinding(
                name,
                inventory_pb2_grpc.add_InventoryServiceServicer_to_server,
                InventoryApi(ctx.uow, plants),
            )
        ],
        subscriptions=subscriptions(lambda tenant_id: ctx.tenant(tenant_id)),
        seed=seed,
        jobs=[
            # The WMS gets every ledger change it missed (it was down when the change committed,
            # or the change came from an event).
            Job(
                "wms_sync",
                every_s=5,
                run=lambda tenant_id: wms_sync.sync_with_wms(ctx.uow, plants.of(tenant_id)),
            ),
            # On hand as the WMS says, for what an approved change holds (its consumer calls no WMS).
            Job(
                "stock_refresh",
                every_s=30,
                run=lambda tenant_id: wms_sync.refresh_stock(ctx.uow, plants.of(tenant_id)),
            ),
        ],
    )


def subscriptions(config_of) -> list[Subscription]:
    """The order's change and cancel events, under one name (consumers.py says why)."""
    changed = consumers.changed(config_of)
    handle = {
        "order_change_requested": consumers.change_requested,
        "order_changed": changed,
        "order_change_rejected": consumers.change_rejected,
        "order_cancelled": consumers.cancelled,
    }
    return [
        Subscription("order", event, handler, name=consumers.NAME, version_of=consumers.order_version)
        for event, handler in handle.items()
    ]


definition = ServiceDefinition(
    name="inventory",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={
        "materials_reserved": inventory_pb2.MaterialsReserved,
        "reservation_adjusted": inventory_pb2.ReservationAdjusted,
        "materials_released": inventory_pb2.MaterialsReleased,
        "materials_issued": inventory_pb2.MaterialsIssued,
    },
    unit_of_work=InventoryUnitOfWork,
    wire=wire,
)
