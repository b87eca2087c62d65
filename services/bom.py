"""Materials by BOM (物料清单): what order lines need, per the tenant's [bom]. Pure Python, shared by
production (requirements per work order) and inventory (reservations): one explosion rule.

A BOM line with a colour or surface treatment applies only to order lines with that value (the
plating material of a gold part is not that of a silver one); one without applies to every line
of its product model. A model without a BOM needs nothing this service knows of.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class BomEntry(Protocol):
    material: str
    quantity_per_unit: float
    unit: str
    colour: str
    surface_treatment: str


@dataclass(frozen=True)
class MaterialLine:
    product_model: str
    quantity: int
    colour: str = ""
    surface_treatment: str = ""


@dataclass(frozen=True)
class MaterialNeed:
    material: str
    unit: str
    needed_before: float
    needed_after: float


def needs(
    bom: Mapping[str, Sequence[BomEntry]], lines: Iterable[MaterialLine]
) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for line in lines:
        for entry in bom.get(line.product_model, ()):
            if entry.colour and entry.colour != line.colour:
                continue
            if entry.surface_treatment and entry.surface_treatment != line.surface_treatment:
                continue
            key = (entry.material, entry.unit)
            out[key] = out.get(key, 0.0) + entry.quantity_per_unit * line.quantity
    return out


def compare(
    bom: Mapping[str, Sequence[BomEntry]], before: Iterable[MaterialLine], after: Iterable[MaterialLine]
) -> list[MaterialNeed]:
    """Each material either side needs, before and after, by material name."""
    old, new = needs(bom, before), needs(bom, after)
    return [
        MaterialNeed(material, unit, round(old.get(key, 0.0), 6), round(new.get(key, 0.0), 6))
        for key in sorted(old.keys() | new.keys())
        for material, unit in [key]
    ]
