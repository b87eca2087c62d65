"""The public services the edge serves over HTTP, read off the protos: each backend's gRPC
service descriptor, its generated Connect application (oms/*/v1/*_connect.py) and stub."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from services.catalog import NAMES


@dataclass(frozen=True)
class PublicService:
    backend: str  # the service that answers it: "order", …
    descriptor: ServiceDescriptor
    connect: ModuleType  # the generated <name>_connect module
    grpc: ModuleType  # the generated <name>_pb2_grpc module

    @property
    def full_name(self) -> str:
        return self.descriptor.full_name

    @property
    def methods(self) -> list[MethodDescriptor]:
        return list(self.descriptor.methods)


def snake(name: str) -> str:
    """ListOrders -> list_orders, as the Connect generator names a service's methods."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def public_services() -> list[PublicService]:
    found = []
    for backend in NAMES:
        pb2 = importlib.import_module(f"oms.{backend}.v1.{backend}_pb2")
        for descriptor in pb2.DESCRIPTOR.services_by_name.values():
            found.append(
                PublicService(
                    backend,
                    descriptor,
                    importlib.import_module(f"oms.{backend}.v1.{backend}_connect"),
                    importlib.import_module(f"oms.{backend}.v1.{backend}_pb2_grpc"),
                )
            )
    return found
