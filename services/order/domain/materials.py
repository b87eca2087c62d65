"""The materials an order was approved with: what inventory reserved for it (锁料), what was short
and accepted by an override (缺料接单), and whether a tenant rule hard-locked them. Pure values:
the aggregate records them at approval, the audit trail and the order_approved event show them.

Inventory decides (its ReserveMaterials: all or nothing, refused when short unless overridden);
the order keeps its answer so people see it on the order without asking inventory."""

from __future__ import annotations

from dataclasses import dataclass

from services.order.domain.changes import FieldChange


@dataclass(frozen=True)
class Shortage:
    """A material the order was accepted short of, in the BOM's unit."""

    material: str  # as the BOM names it, e.g. "镀金液 gold plating solution"
    unit: str
    needed: float
    short: float

    def as_dict(self) -> dict:
        return {"material": self.material, "unit": self.unit, "needed": self.needed, "short": self.short}

    def as_change(self) -> FieldChange:
        """How the audit trail shows it: what was needed, what was missing when it was accepted."""
        return FieldChange(
            f"materials_short[{self.material}]",
            f"缺料 material short: {self.material}",
            f"需要 needed {self.needed:g} {self.unit}".rstrip(),
            f"缺 short {self.short:g} {self.unit}".rstrip(),
        )


@dataclass(frozen=True)
class ReservationResult:
    """Inventory's reservation of one revision of an order, as approval needs it."""

    revision: int
    locked: bool = False  # hard-locked by the tenant's material_lock rule
    lock_rule: str = ""
    shortages: tuple[Shortage, ...] = ()
    # The override that accepted the shortages (inventory keeps it with the reservation, so a
    # retried approval answers the same one): why, and who.
    override_reason: str = ""
    overridden_by: str = ""

    @property
    def short(self) -> bool:
        return bool(self.shortages)

    def audit(self) -> tuple[FieldChange, ...]:
        """What the approve step records beside its actor and reason."""
        changes = tuple(s.as_change() for s in self.shortages)
        if self.locked:
            changes += (FieldChange("materials_locked", "原材料已锁定 materials locked", "", self.lock_rule),)
        return changes


def describe(shortages: tuple[Shortage, ...]) -> str:
    return "; ".join(
        f"{s.material} 缺 short {s.short:g} of {s.needed:g} {s.unit}".rstrip() for s in shortages
    )
