"""物料需求 per work order: the tenant's BOM explosion (services/bom.py), only the materials
consumed at the work order's workshop. A BOM line names the workshop that consumes it (plating
solution at plating); one that names none, or names a workshop the line's route does not pass
(a planner rerouted it), is consumed at the route's first workshop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from services.bom import BomEntry, MaterialLine, needs
from services.production.domain.lines import RoutedLine


class RoutedBomEntry(BomEntry, Protocol):
    workshop: str


Requirements = dict[tuple[str, str], float]  # (material, unit) -> quantity


def consumed_at(entry: RoutedBomEntry, route: tuple[str, ...]) -> str:
    workshop = getattr(entry, "workshop", "")
    return workshop if workshop in route else route[0]


def requirements_at(
    bom: Mapping[str, Sequence[RoutedBomEntry]], workshop: str, lines: Sequence[RoutedLine]
) -> Requirements:
    """What `workshop` consumes to make its share of these lines."""
    total: Requirements = {}
    for routed in lines:
        if workshop not in routed.route:
            continue
        entries = [
            e for e in bom.get(routed.line.product_model, ()) if consumed_at(e, routed.route) == workshop
        ]
        line = routed.line
        for key, quantity in needs(
            {line.product_model: entries},
            [MaterialLine(line.product_model, line.quantity, line.colour, line.surface_treatment)],
        ).items():
            total[key] = round(total.get(key, 0.0) + quantity, 6)
    return total
