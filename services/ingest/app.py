"""Composition root of the ingest service."""

from __future__ import annotations

from pathlib import Path

from oms.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.ingest.adapters.order_desk import GrpcOrderDesk
from services.ingest.adapters.tables import metadata
from services.ingest.api import IngestApi
from services.ingest.service_layer.unit_of_work import IngestUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    name = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name
    api = IngestApi(ctx.uow, GrpcOrderDesk(ctx.channel("order")))
    return Wiring(bindings=[GrpcBinding(name, ingest_pb2_grpc.add_IngestServiceServicer_to_server, api)])


definition = ServiceDefinition(
    name="ingest",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={},
    unit_of_work=IngestUnitOfWork,
    wire=wire,
)
