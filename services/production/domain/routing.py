"""拆单 by routing: one work order per workshop an order's lines pass through, in route order."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.production.domain.lines import RoutedLine, WorkOrderLine


@dataclass
class Step:
    """One workshop's share of an order: the lines that pass through it."""

    workshop: str
    step: int  # 1-based position in the route (stamping 1, plating 2, assembly 3)
    lines: list[WorkOrderLine] = field(default_factory=list)


def split_by_route(lines: list[RoutedLine]) -> list[Step]:
    """Each workshop of the order with every line whose route passes it (once, even if a route
    comes back to a workshop). A workshop two routes place differently takes its earliest
    position; steps come out by position, then first seen."""
    steps: dict[str, Step] = {}
    for routed in lines:
        for workshop, position in _first_positions(routed.route).items():
            step = steps.setdefault(workshop, Step(workshop, position))
            step.step = min(step.step, position)
            step.lines.append(routed.line)
    seen = {w: i for i, w in enumerate(steps)}
    return sorted(steps.values(), key=lambda s: (s.step, seen[s.workshop]))


def _first_positions(route: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for position, workshop in enumerate(route, start=1):
        out.setdefault(workshop, position)
    return out
