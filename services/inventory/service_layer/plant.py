"""The caller's plant as the use cases see it: its tenant file, its WMS and warehouse, its lock
rule; what the BOM says lines need, and what the WMS says is on hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.bom import MaterialLine
from services.chassis.errors import FailedPrecondition
from services.chassis.rules import CompiledRule
from services.chassis.tenant_config import TenantConfig
from services.inventory.domain.quantity import exact
from services.inventory.domain.reservation import Need, material_needs, models_without_bom
from services.inventory.service_layer.ports import Wms


def warehouse_of(tenant_id: str, tenant: TenantConfig) -> str:
    """The WMS warehouse a business line draws materials from ([wms] warehouse, else its id)."""
    return tenant.wms.warehouse or tenant_id


class Pusher(Protocol):
    """Tells the WMS of a committed reservation off the caller's path (wms_sync.WmsPusher)."""

    def submit(self, tenant_id: str, reservation_id: str) -> bool:
        """Queued (True), or not (False: the caller pushes itself)."""
        ...


@dataclass(frozen=True)
class Plant:
    """What the handlers need to know of the caller's tenant and its WMS."""

    tenant_id: str
    config: TenantConfig
    wms: Wms
    lock_rule: CompiledRule | None  # the tenant's material_lock rule (None: the kind is off)
    # None: a new reservation is pushed to the WMS before its caller is answered
    pusher: Pusher | None = None

    @property
    def warehouse(self) -> str:
        return warehouse_of(self.tenant_id, self.config)


def wanted_for(config: TenantConfig, lines: Sequence[MaterialLine]) -> dict[str, Need]:
    """The lines' materials by the tenant's BOM; a model without one is refused unless the tenant
    accepts such models (they then need nothing this service reserves)."""
    missing = models_without_bom(config.bom, lines)
    if missing and not config.inventory.accept_models_without_bom:
        raise FailedPrecondition(
            f"无物料清单 no BOM for {', '.join(missing)}: its materials cannot be reserved "
            "(add it to [bom] of the tenant file, or set [inventory] accept_models_without_bom)"
        )
    return material_needs(config.bom, lines)


def on_hand(plant: Plant, materials: Sequence[str]) -> dict[str, int]:
    """On hand per material as the WMS says now (a material it does not know: 0). Unavailable
    propagates: the caller retries, nothing was written."""
    if not materials:
        return {}
    stock = plant.wms.stock(plant.warehouse, materials)
    return {m: exact(stock[m].on_hand) if m in stock else 0 for m in materials}
