"""gRPC API of the inventory service."""

from __future__ import annotations

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from services.inventory.service_layer import handlers


class InventoryApi(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, uow: handlers.UowFactory):
        self._uow = uow

    def CheckAvailability(self, request, context) -> inventory_pb2.CheckAvailabilityResponse:
        requested: dict[str, int] = {}
        for item in request.items:
            requested[item.product_model] = requested.get(item.product_model, 0) + item.quantity
        answers = handlers.availability(requested, self._uow)
        return inventory_pb2.CheckAvailabilityResponse(
            all_available=all(a.sufficient for a in answers),
            items=[
                inventory_pb2.ItemAvailability(
                    product_model=a.product_model,
                    requested=a.requested,
                    available=a.available,
                    sufficient=a.sufficient,
                )
                for a in answers
            ],
        )
