"""Stock and availability. Pure Python.

Stock levels mirror what the plant's WMS reports; `reserved` is held for accepted orders
(reservations arrive with the inventory issue), so what can be promised is on_hand - reserved.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StockLevel:
    product_model: str
    on_hand: int
    reserved: int = 0

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


@dataclass(frozen=True)
class Availability:
    product_model: str
    requested: int
    available: int

    @property
    def sufficient(self) -> bool:
        return self.available >= self.requested


def check_availability(requested: dict[str, int], levels: dict[str, StockLevel]) -> list[Availability]:
    """One answer per requested model; a model the WMS does not know has nothing available."""
    out = []
    for model, qty in requested.items():
        level = levels.get(model)
        out.append(Availability(model, qty, level.available if level else 0))
    return out
