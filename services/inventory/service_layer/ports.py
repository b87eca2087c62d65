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

from services.chassis.errors import Unavailable


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


@dataclass(frozen=True)
class WmsReservation:
    """A reservation as the WMS holds it (to compare the ledger with the WMS)."""

    reservation_id: str
    order_no: str
    hard_lock: bool
    state: str  # "open", "released" or "issued"
    lines: tuple[WmsLine, ...]


class WmsUnavailable(Unavailable):
    """The WMS did not answer (down, too slow for the deadline, 5xx, circuit breaker open).
    `maybe_applied`: a write was sent and its answer never came (a timeout, a dropped connection),
    so the WMS may have applied it; False when it was never sent or the WMS said it applied
    nothing (503). Every write is idempotent: repeating it, or releasing the reservation, is safe."""

    def __init__(self, message: str, maybe_applied: bool = False):
        super().__init__(message)
        self.maybe_applied = maybe_applied


class Wms(Protocol):
    def stock(self, warehouse: str, materials: Iterable[str]) -> dict[str, WmsStock]:
        """On hand per material; a material the WMS does not know is absent (0 on hand)."""
        ...

    def put_reservation(
        self, warehouse: str, reservation_id: str, order_no: str, lines: Sequence[WmsLine], hard_lock: bool
    ) -> None:
        """Create or replace one order's reservation (idempotent by reservation_id: sending the
        same again changes nothing; sending other lines replaces them). The WMS guards its own
        stock too: FailedPrecondition when a line would take more than it has free (nothing was
        reserved) or the reservation was already issued."""
        ...

    def release(self, warehouse: str, reservation_id: str) -> None:
        """Drop a reservation (idempotent; an unknown id is already released).
        FailedPrecondition if it was issued already."""
        ...

    def issue(self, warehouse: str, reservation_id: str) -> None:
        """Hand the reserved quantities to the shop floor: on hand goes down by them and the
        reservation ends (idempotent). NotFound for an id the WMS never saw; FailedPrecondition if
        it was released, or on hand no longer covers it."""
        ...

    def reservation(self, warehouse: str, reservation_id: str) -> WmsReservation | None:
        """One reservation as the WMS holds it (None: the WMS never heard of it)."""
        ...

    def reservations(self, warehouse: str, state: str = "") -> list[WmsReservation]:
        """The warehouse's reservations ("open", "released", "issued"; "" = all), to check that the
        ledger and the WMS agree."""
        ...

    def seed_stock(self, warehouse: str, stocks: Iterable[WmsStock]) -> None:
        """Set on hand (and unit, location) of materials: only the demo seed uses it (OMS_SEED_DEMO,
        the embedded stack), into a warehouse that knows none of the demo materials yet."""
        ...
