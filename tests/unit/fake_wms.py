"""An in-memory WMS keeping the promises of services/inventory/service_layer/ports.py `Wms`:
on hand per warehouse and material, reservations by id (put replaces, release and issue are
idempotent, issue takes the reserved quantities off on hand), and `down` to be unreachable."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.chassis.errors import FailedPrecondition
from services.inventory.service_layer.ports import WmsLine, WmsReservation, WmsStock, WmsUnavailable


@dataclass
class FakeWms:
    on_hand: dict[tuple[str, str], WmsStock] = field(default_factory=dict)
    held: dict[tuple[str, str], WmsReservation] = field(default_factory=dict)
    down: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, reservation id or "")

    def put(self, warehouse: str, material: str, unit: str, on_hand: float) -> None:
        self.on_hand[(warehouse, material)] = WmsStock(material, unit, on_hand)

    def _reach(self, operation: str, what: str = "") -> None:
        self.calls.append((operation, what))
        if self.down:
            raise WmsUnavailable("仓储系统暂不可用 WMS unavailable: retry")

    def stock(self, warehouse: str, materials: Iterable[str]) -> dict[str, WmsStock]:
        self._reach("stock")
        return {m: self.on_hand[(warehouse, m)] for m in materials if (warehouse, m) in self.on_hand}

    def put_reservation(
        self, warehouse: str, reservation_id: str, order_no: str, lines: Sequence[WmsLine], hard_lock: bool
    ) -> None:
        self._reach("put_reservation", reservation_id)
        found = self.held.get((warehouse, reservation_id))
        if found is not None and found.state == "issued":
            raise FailedPrecondition(f"仓储系统拒绝 WMS refused: reservation {reservation_id} was issued")
        self.held[(warehouse, reservation_id)] = WmsReservation(
            reservation_id, order_no, hard_lock, "open", tuple(lines)
        )

    def release(self, warehouse: str, reservation_id: str) -> None:
        self._reach("release", reservation_id)
        found = self.held.get((warehouse, reservation_id))
        if found is not None and found.state == "open":
            self.held[(warehouse, reservation_id)] = _with_state(found, "released")

    def issue(self, warehouse: str, reservation_id: str) -> None:
        self._reach("issue", reservation_id)
        found = self.held.get((warehouse, reservation_id))
        if found is None or found.state != "open":
            return
        for line in found.lines:
            stock = self.on_hand[(warehouse, line.material)]
            self.on_hand[(warehouse, line.material)] = WmsStock(
                stock.material, stock.unit, round(stock.on_hand - line.quantity, 6), stock.location
            )
        self.held[(warehouse, reservation_id)] = _with_state(found, "issued")

    def reservation(self, warehouse: str, reservation_id: str) -> WmsReservation | None:
        self._reach("reservation", reservation_id)
        return self.held.get((warehouse, reservation_id))

    def reservations(self, warehouse: str, state: str = "") -> list[WmsReservation]:
        self._reach("reservations")
        return [r for (w, _), r in self.held.items() if w == warehouse and (not state or r.state == state)]

    def seed_stock(self, warehouse: str, stocks: Iterable[WmsStock]) -> None:
        for s in stocks:
            self.on_hand[(warehouse, s.material)] = s


def _with_state(r: WmsReservation, state: str) -> WmsReservation:
    return WmsReservation(r.reservation_id, r.order_no, r.hard_lock, state, r.lines)
