"""The WMS agrees with the ledger: each change is pushed after the ledger commits (a new
reservation from the pusher's thread, off its caller's path), a job sends what a push missed,
another refreshes on-hand figures for the consumers (which call no WMS)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from services.chassis.errors import DomainError, Unavailable
from services.chassis.identity import Identity, acting_as
from services.chassis.uow import UowFactory as UowFactoryOf
from services.inventory.domain.quantity import shown
from services.inventory.domain.reservation import Reservation, ReservationState
from services.inventory.service_layer import issuing
from services.inventory.service_layer.plant import Plant, on_hand
from services.inventory.service_layer.ports import WmsLine
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork

log = logging.getLogger(__name__)
UowFactory = UowFactoryOf[InventoryUnitOfWork]


def push_to_wms(res: Reservation, uow: UowFactory, plant: Plant) -> bool:
    """Tell the WMS the reservation's state (idempotent by reservation id); mark it synced unless
    it changed since. False when the WMS did not answer: the sync job tries again."""
    if not _send(res, plant):
        return False
    with uow() as tx:
        res.wms_synced = tx.reservations.mark_synced(res.reservation_id, res.ledger_version)
        tx.commit()
    return True


def push_pending(reservation_ids: Sequence[str], uow: UowFactory, plant: Plant) -> tuple[int, int]:
    """Send the WMS those of `reservation_ids` it has not had, as the ledger holds them now (never
    an older state than the ledger's), and mark them synced in one transaction. (sent, left)."""
    with uow(read_only=True) as tx:
        pending = tx.reservations.unsynced_of(reservation_ids)
    return _send_all(pending, uow, plant)


def _send_all(pending: Sequence[Reservation], uow: UowFactory, plant: Plant) -> tuple[int, int]:
    sent = {r.reservation_id: r.ledger_version for r in pending if _send(r, plant)}
    if sent:
        with uow() as tx:
            tx.reservations.mark_all_synced(sent)
            tx.commit()
    return len(sent), len(pending) - len(sent)


def _send(res: Reservation, plant: Plant) -> bool:
    if res.issuing:
        return False  # the WMS is issuing it: it keeps what it holds (the issue records the rest)
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
    remember_on_hand(uow, known, stock)
    return len(stock)


def remember_on_hand(uow: UowFactory, units: Mapping[str, str], stock: Mapping[str, int]) -> None:
    """Record on hand as the WMS just said (material -> unit, material -> quantity): the figure
    an approved change's consumer holds against."""
    with uow() as tx:
        tx.balances.ensure(dict(units))
        tx.balances.set_on_hand(dict(stock))
        tx.commit()


def sync_with_wms(uow: UowFactory, plant: Plant, batch: int = 100) -> tuple[int, int]:
    """The job: settle issues a stopped process left marked (issuing.py), then send the WMS
    every reservation change it has not had. (sent, left)."""
    issuing.settle_stale(uow, plant)
    with uow(read_only=True) as tx:
        pending = tx.reservations.unsynced(batch)
    return _send_all(pending, uow, plant)


class WmsPusher:
    """Tells the WMS of committed reservations from a thread of its own (one per process), so an
    approval answers once the ledger has committed rather than after a WMS round trip as well,
    and a burst of them is marked synced in one transaction. Best effort by design: the ledger
    never depends on it. A full queue (the caller then pushes itself), a WMS that does not answer,
    a process that stops with work queued: the sync job sends whatever is still unsynced."""

    def __init__(
        self, uow: UowFactory, plant_of: Callable[[str], Plant], *, capacity: int = 10_000, batch: int = 100
    ):
        self._uow = uow
        self._plant_of = plant_of
        self._batch = batch
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(capacity)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, tenant_id: str, reservation_id: str) -> bool:
        """Queue the reservation for the WMS; False when the queue is full (push it yourself)."""
        self._ensure_started()
        try:
            self._queue.put_nowait((tenant_id, reservation_id))
        except queue.Full:
            return False
        return True

    def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued so far was tried (bench, tests, shutdown). False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0 or not self._queue.all_tasks_done.wait(left):
                    return False
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Try what is queued (for at most `timeout_s`), then stop the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="wms-pusher", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            items = [first]
            while items[-1] is not None and len(items) < self._batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._push([x for x in items if x is not None])
            except Exception:  # a database hiccup: the sync job sends what this missed
                log.exception("WMS pusher: %d reservation(s) left to the sync job", len(items))
            finally:
                for _ in items:
                    self._queue.task_done()
            if None in items:
                return

    def _push(self, items: Sequence[tuple[str, str]]) -> None:
        by_tenant: dict[str, list[str]] = {}
        for tenant_id, reservation_id in items:
            by_tenant.setdefault(tenant_id, []).append(reservation_id)
        for tenant_id, ids in by_tenant.items():
            with acting_as(Identity(tenant_id, "wms-pusher", frozenset({"service"}))):
                push_pending(ids, self._uow, self._plant_of(tenant_id))
