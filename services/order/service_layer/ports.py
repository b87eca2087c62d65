"""What the order service needs from outside, as interfaces (fakes in unit tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Shortfall:
    product_model: str
    requested: int
    available: int


class CustomerDirectory(Protocol):
    def exists(self, customer_id: str) -> bool: ...


class StockCheck(Protocol):
    def shortfalls(self, quantities: dict[str, int]) -> list[Shortfall]: ...


class NumberSource(Protocol):
    """Running numbers per tenant, name and period (services/chassis/numbering.py)."""

    def next(self, name: str, period: str) -> int: ...

    def give_back(self, name: str, period: str, number: int) -> None: ...
