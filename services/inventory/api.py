"""gRPC API of the inventory service."""

from __future__ import annotations

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from services.bom import MaterialLine, compare
from services.chassis import identity
from services.inventory.service_layer import handlers


class InventoryApi(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, uow: handlers.UowFactory, bom_for):
        self._uow = uow
        self._bom_for = bom_for  # tenant id -> {product model: BOM lines}

    def PreviewMaterialNeeds(self, request, context) -> inventory_pb2.PreviewMaterialNeedsResponse:
        bom = self._bom_for(identity.current().tenant_id)
        found = compare(bom, _lines(request.before), _lines(request.after))
        # Reservations and issues per order arrive with the reservations issue: 0 until then.
        return inventory_pb2.PreviewMaterialNeedsResponse(
            materials=[
                inventory_pb2.MaterialNeed(
                    material=m.material,
                    unit=m.unit,
                    needed_before=m.needed_before,
                    needed_after=m.needed_after,
                )
                for m in found
            ]
        )

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


def _lines(items) -> list[MaterialLine]:
    return [MaterialLine(x.product_model, x.quantity, x.colour, x.surface_treatment) for x in items]
