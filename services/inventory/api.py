"""gRPC API of the inventory service: request -> command -> handler -> response."""

from __future__ import annotations

from collections.abc import Callable

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from services.bom import MaterialLine
from services.chassis import identity
from services.chassis.rules import CompiledRule, active_rule
from services.chassis.tenant_config import TenantConfig
from services.inventory.domain.quantity import shown
from services.inventory.domain.reservation import Reservation, ReservationState
from services.inventory.service_layer import handlers, queries
from services.inventory.service_layer.plant import Plant, Pusher
from services.inventory.service_layer.ports import Wms

STATE = {
    ReservationState.HELD: inventory_pb2.RESERVATION_STATE_HELD,
    ReservationState.FROZEN: inventory_pb2.RESERVATION_STATE_FROZEN,
    ReservationState.ISSUED: inventory_pb2.RESERVATION_STATE_ISSUED,
    ReservationState.RELEASED: inventory_pb2.RESERVATION_STATE_RELEASED,
}


class Plants:
    """The caller's tenant as handlers need it, with its material_lock rule compiled once (tenant
    files are read at start and never change while the service runs)."""

    def __init__(self, config_of: Callable[[str], TenantConfig], wms: Wms, pusher: Pusher | None = None):
        self._config_of = config_of
        self._wms = wms
        self._pusher = pusher
        self._rules: dict[str, CompiledRule | None] = {}

    def of(self, tenant_id: str) -> Plant:
        config = self._config_of(tenant_id)
        if tenant_id not in self._rules:
            self._rules[tenant_id] = active_rule(config, "material_lock")
        return Plant(tenant_id, config, self._wms, self._rules[tenant_id], self._pusher)

    def current(self) -> Plant:
        return self.of(identity.current().tenant_id)


class InventoryApi(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, uow: handlers.UowFactory, plants: Plants):
        self._uow = uow
        self._plants = plants

    def ReserveMaterials(self, request, context) -> inventory_pb2.ReserveMaterialsResponse:
        cmd = handlers.ReserveMaterials(
            order_id=request.order_id,
            order_no=request.order_no,
            revision=request.revision,
            customer_id=request.customer_id,
            amount_fen=request.amount_fen,
            priority=request.priority,
            lines=_lines(request.lines),
            override_shortage=request.override_shortage,
            override_reason=request.override_reason,
        )
        res = handlers.reserve_materials(cmd, self._uow, self._plants.current())
        return inventory_pb2.ReserveMaterialsResponse(reservation=reservation_message(res))

    def IssueMaterials(self, request, context) -> inventory_pb2.IssueMaterialsResponse:
        res = handlers.issue_materials(request.order_id, self._uow, self._plants.current())
        return inventory_pb2.IssueMaterialsResponse(reservation=reservation_message(res))

    def ListReservations(self, request, context) -> inventory_pb2.ListReservationsResponse:
        found, token = queries.list_reservations(
            request.order_id, request.material, request.page_size, request.page_token, self._uow
        )
        return inventory_pb2.ListReservationsResponse(
            reservations=[reservation_message(r) for r in found], next_page_token=token
        )

    def CheckMaterials(self, request, context) -> inventory_pb2.CheckMaterialsResponse:
        checks, without_bom = queries.check_materials(
            _lines(request.lines), self._uow, self._plants.current()
        )
        return inventory_pb2.CheckMaterialsResponse(
            all_available=not without_bom and all(c.short == 0 for c in checks),
            materials=[
                inventory_pb2.MaterialReservation(
                    material=c.material,
                    unit=c.unit,
                    needed=shown(c.needed),
                    short=shown(c.short),
                    available=shown(c.available),
                )
                for c in checks
            ],
            models_without_bom=without_bom,
        )

    def ListMaterialStock(self, request, context) -> inventory_pb2.ListMaterialStockResponse:
        found = queries.material_stock(list(request.materials), self._uow, self._plants.current())
        return inventory_pb2.ListMaterialStockResponse(
            materials=[
                inventory_pb2.MaterialStock(
                    material=b.material,
                    unit=b.unit,
                    on_hand=shown(stock),
                    reserved=shown(b.reserved),
                    locked=shown(b.locked),
                    available=shown(max(stock - b.reserved, 0)),
                )
                for b, stock in found
            ]
        )

    def PreviewMaterialNeeds(self, request, context) -> inventory_pb2.PreviewMaterialNeedsResponse:
        found = queries.preview_material_needs(
            request.order_id, _lines(request.before), _lines(request.after), self._uow, self._plants.current()
        )
        return inventory_pb2.PreviewMaterialNeedsResponse(
            materials=[
                inventory_pb2.MaterialNeed(
                    material=m.material,
                    unit=m.unit,
                    needed_before=shown(m.needed_before),
                    needed_after=shown(m.needed_after),
                    reserved=shown(m.reserved),
                    issued=shown(m.issued),
                    available=shown(m.available),
                    at_risk=m.at_risk,
                )
                for m in found
            ]
        )

    def DryRunRule(self, request, context) -> inventory_pb2.DryRunRuleResponse:
        query = queries.DryRunRule(request.name, request.expression, request.params_json, request.days)
        run = queries.dry_run_rule(query, self._uow, self._plants.current())
        return inventory_pb2.DryRunRuleResponse(
            rule=run.rule,
            expression=run.expression,
            replayed=run.replayed,
            would_lock=run.would_lock,
            was_locked=run.was_locked,
            differences=[
                inventory_pb2.DryRunCase(
                    order_id=c.order_id,
                    order_no=c.order_no,
                    amount_fen=c.amount_fen,
                    would_lock=c.would_lock,
                    was_locked=c.was_locked,
                )
                for c in run.differences
            ],
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


def reservation_message(res: Reservation) -> inventory_pb2.OrderReservation:
    return inventory_pb2.OrderReservation(
        order_id=res.order_id,
        order_no=res.order_no,
        revision=res.revision,
        state=STATE[res.state],
        locked=res.locked,
        lock_rule=res.lock_rule,
        overridden=res.overridden,
        overridden_by=res.overridden_by,
        override_reason=res.override_reason,
        materials=[
            inventory_pb2.MaterialReservation(
                material=x.material,
                unit=x.unit,
                needed=shown(x.needed),
                reserved=shown(x.reserved),
                issued=shown(x.issued),
                short=shown(x.short),
                available=shown(x.available),
            )
            for x in res.lines.values()
        ],
        updated_at=res.updated_at.isoformat(),
        wms_synced=res.wms_synced,
    )


def _lines(items) -> list[MaterialLine]:
    return [MaterialLine(x.product_model, x.quantity, x.colour, x.surface_treatment) for x in items]
