"""The WMS agrees with the ledger: each change is pushed after the ledger commits, a job sends
what a push missed, another refreshes on-hand figures for the consumers (which call no WMS)."""

from __future__ import annotations

import logging

from services.chassis.errors import DomainError, Unavailable
from services.chassis.uow import UowFactory as UowFactoryOf
from services.inventory.domain.quantity import shown
from services.inventory.domain.reservation import Reservation, ReservationState
from services.inventory.service_layer.plant import Plant, on_hand
from services.inventory.service_layer.ports import WmsLine
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork

log = logging.getLogger(__name__)
UowFactory = UowFactoryOf[InventoryUnitOfWork]


def push_to_wms(res: Reservation, uow: UowFactory, plant: Plant) -> bool:
    """Tell the WMS the reservation's state (idempotent by reservation id); mark it synced unless
    it changed since. False when the WMS did not answer: the sync job tries again."""
    try:
        lines = [WmsLine(x.material, x.unit, shown(x.reserved)) for x in res.lines.values() if x.reserved > 0]
        if res.state.open and lines:
            plant.wms.put_reservation(plant.warehouse, res.wms_id, res.order_no, lines, res.locked)
        elif res.state.open or res.state is ReservationState.RELEASED:
            # Holding nothing (all short, or no BOM material): for the WMS, no reservation.
            plant.wms.release(plant.warehouse, res.wms_id)
        # ISSUED: the WMS issued it first (issue_materials); nothing more to tell.
    except Unavailable as exc:
        log.warning(
            "WMS sync of reservation %s (%s) failed, will retry: %s", res.reservation_id, res.order_no, exc
        )
        return False
    except DomainError as exc:
        # The WMS refused what the ledger holds (its own stock guard: material it holds for
        # others, or counted lower than it said): the ledger stands, the reservation stays
        # unsynced and is retried; a person must look (the log, ListReservations wms_synced).
        log.error("WMS refused reservation %s (%s): %s", res.reservation_id, res.order_no, exc)
        return False
    with uow() as tx:
        res.wms_synced = tx.reservations.mark_synced(res.reservation_id, res.ledger_version)
        tx.commit()
    return True


def refresh_stock(uow: UowFactory, plant: Plant) -> int:
    """The job: on hand of every material the BOM names (and the ledger holds) as the WMS says
    now, so an approved change (whose consumer calls no WMS) holds against a recent figure."""
    with uow(read_only=True) as tx:
        known = {m: b.unit for m, b in tx.balances.get().items()}
    for lines in plant.config.bom.values():
        for entry in lines:
            known.setdefault(entry.material, entry.unit)
    try:
        stock = on_hand(plant, sorted(known))
    except Unavailable as exc:  # an hour-long outage is one line a minute, not a traceback
        log.warning("stock refresh from the WMS failed, next period it runs again: %s", exc)
        return 0
    with uow() as tx:
        tx.balances.ensure(known)
        tx.balances.set_on_hand(stock)
        tx.commit()
    return len(stock)


def sync_with_wms(uow: UowFactory, plant: Plant, batch: int = 100) -> tuple[int, int]:
    """The job: send the WMS every reservation change it has not had. (sent, left)."""
    with uow(read_only=True) as tx:
        pending = tx.reservations.unsynced(batch)
    sent = sum(push_to_wms(res, uow, plant) for res in pending)
    return sent, len(pending) - sent
