"""What the inventory service needs from outside: the plant's WMS, as one interface.

`services/inventory/adapters/wms.py` implements it over HTTP (the contract a plant's own WMS must
answer is docs/wms-adapter.md; `services/wms_simulator` is a WMS that answers it, for development
and tests). Quantities are in the material's own unit (kg, L, 个), as decimals.

Every method raises services.chassis.errors.Unavailable when the WMS does not answer in time, is
down, or the circuit breaker is open (the message says what to retry); never hangs past the
caller's deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WmsStock:
    material: str
    unit: str
    on_hand: float  # physically in the warehouse (issued material has left it)
    location: str = ""  # 仓位, e.g. "A-01-03"


@dataclass(frozen=True)
class WmsLine:
    material: str
    unit: str
    quantity: float


class Wms(Protocol):
    def stock(self, warehouse: str, materials: Iterable[str]) -> dict[str, WmsStock]:
        """On hand per material; a material the WMS does not know is absent (0 on hand)."""
        ...

    def put_reservation(
        self, warehouse: str, reservation_id: str, order_no: str, lines: Sequence[WmsLine], hard_lock: bool
    ) -> None:
        """Create or replace one order's reservation (idempotent by reservation_id: sending the
        same again changes nothing; sending other lines replaces them)."""
        ...

    def release(self, warehouse: str, reservation_id: str) -> None:
        """Drop a reservation (idempotent; an unknown id is already released)."""
        ...

    def issue(self, warehouse: str, reservation_id: str) -> None:
        """Hand the reserved quantities to the shop floor: on hand goes down by them and the
        reservation ends (idempotent)."""
        ...
