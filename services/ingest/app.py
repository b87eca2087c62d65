"""Composition root of the ingest service."""

from __future__ import annotations

from pathlib import Path

from oms.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.chassis.jobs import Job
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.ingest.adapters.marketplaces.registry import Marketplaces
from services.ingest.adapters.order_desk import GrpcCustomerBook, GrpcOrderDesk
from services.ingest.adapters.tables import metadata
from services.ingest.api import IngestApi
from services.ingest.service_layer.pulling import Puller
from services.ingest.service_layer.unit_of_work import IngestUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    name = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name
    orders = GrpcOrderDesk(ctx.channel("order"))
    customers = GrpcCustomerBook(ctx.channel("customer"))
    puller = Puller(ctx.uow, orders, customers, Marketplaces(ctx.settings))
    api = IngestApi(ctx.uow, orders, customers, ctx.tenant, puller)
    return Wiring(
        bindings=[GrpcBinding(name, ingest_pb2_grpc.add_IngestServiceServicer_to_server, api)],
        jobs=[
            # Each shop keeps its own schedule and back-off (shop_checkpoints); this only looks for
            # the shops that are due.
            Job("marketplace_pull", every_s=5, run=lambda tenant_id: puller.pull_due(ctx.tenant(tenant_id))),
        ],
    )


definition = ServiceDefinition(
    name="ingest",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={
        "review_item_opened": ingest_pb2.ReviewItemOpened,
        "review_item_resolved": ingest_pb2.ReviewItemResolved,
    },
    unit_of_work=IngestUnitOfWork,
    wire=wire,
)
