"""领料 so that the ledger records as issued exactly what left the WMS.

The WMS issues first (the material leaves there), the ledger records it after, and no lock is
held across the remote call. In between, the reservation carries an issuing mark committed
before the WMS is asked (domain/reservation.py): an order change, freeze or cancel meeting it is
refused with IssueInProgress (its consumer's retry policy delivers it again, after the issue), and
the WMS sync leaves it alone, so what the WMS issues is the marked ledger version, and that is
what is recorded. A mark whose process died mid-issue is settled by the sync job asking the WMS.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from services.chassis.errors import DomainError, FailedPrecondition, Internal, Unavailable
from services.chassis.uow import UowFactory as UowFactoryOf
from services.inventory.domain.reservation import Reservation
from services.inventory.service_layer.plant import Plant
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork

log = logging.getLogger(__name__)
UowFactory = UowFactoryOf[InventoryUnitOfWork]

# A mark older than this was left by a process that stopped mid-issue: far above one WMS call's
# timeout (OMS_WMS_TIMEOUT_S, 2 s), so a live issue is never taken for a dead one.
STALE_AFTER_S = 60.0


def begin(order_id: str, by: str, uow: UowFactory) -> Reservation:
    """Mark the order's reservation issuing (its own commit): the snapshot the WMS will issue.
    FAILED_PRECONDITION when it may not be issued (frozen, released, nothing held, an issue in
    progress); UNAVAILABLE when the WMS has not had its last change (a change came since the
    caller pushed it: retry)."""
    with uow() as tx:
        res = tx.reservations.for_order(order_id, for_update=True)
        if res is None:
            raise FailedPrecondition(f"无预留 order {order_id} has no reservation: nothing to issue")
        res.start_issue(by, datetime.now(UTC))
        if not res.wms_synced:
            raise Unavailable(
                "仓库系统尚未同步 the WMS does not have this reservation's last change yet: retry"
            )
        tx.reservations.save(res)
        tx.commit()
    return res


def record(snapshot: Reservation, uow: UowFactory) -> Reservation:
    """The WMS issued `snapshot` (the reservation as marked): record exactly its lines as issued
    and clear the mark, once (the job settling the same mark may have recorded it already)."""
    with uow() as tx:
        res = tx.reservations.for_order(snapshot.order_id, for_update=True)
        assert res is not None  # reservations are never deleted
        if res.wms_round > snapshot.wms_round:
            return res  # recorded already
        if res.ledger_version != snapshot.issuing_version:
            # The mark was cleared (the job found nothing issued: this issue took past
            # STALE_AFTER_S) and the reservation changed since: the ledger cannot say what left.
            log.error(
                "reservation %s (%s): the WMS issued ledger version %d, the ledger is at %d",
                res.reservation_id,
                res.order_no,
                snapshot.issuing_version,
                res.ledger_version,
            )
            raise Internal(
                f"领料记录不一致 the WMS issued {res.order_no} but its reservation changed meanwhile: "
                "compare the ledger with the WMS"
            )
        held = res.to_release()
        for material in sorted(held):
            tx.balances.give_back(material, held[material], res.locked, issued=True)
        res.issued_now(snapshot.issuing_by, datetime.now(UTC))
        res.wms_synced = True  # the WMS issued it before the ledger did
        tx.reservations.save(res)
        tx.commit()
    return res


def abandon(snapshot: Reservation, uow: UowFactory) -> None:
    """The WMS issued nothing: clear the mark (if it is still this one); the reservation holds
    what it held."""
    with uow() as tx:
        res = tx.reservations.for_order(snapshot.order_id, for_update=True)
        assert res is not None
        if res.issuing and res.issuing_version == snapshot.issuing_version:
            res.issue_refused()
            tx.reservations.save(res)
            tx.commit()


def settle(snapshot: Reservation, uow: UowFactory, plant: Plant) -> Reservation | None:
    """Whether the WMS issued the marked reservation, as the WMS says: record it (the answer) or
    clear the mark (None). UNAVAILABLE when the WMS does not answer: the mark stays."""
    found = plant.wms.reservation(plant.warehouse, snapshot.wms_id)
    if found is not None and found.state == "issued":
        return record(snapshot, uow)
    abandon(snapshot, uow)
    return None


def settle_stale(uow: UowFactory, plant: Plant, older_than_s: float = STALE_AFTER_S, batch: int = 100) -> int:
    """The sync job: settle the marks of issues that never finished (the process stopped between
    the mark and the record). How many were settled."""
    before = datetime.now(UTC) - timedelta(seconds=older_than_s)
    with uow(read_only=True) as tx:
        marked = tx.reservations.issuing_since_before(before, batch)
    done = 0
    for res in marked:
        try:
            recorded = settle(res, uow, plant)
        except Unavailable as exc:
            log.warning("issue of %s left unsettled, next period it runs again: %s", res.order_no, exc)
            break
        except DomainError as exc:  # record found the ledger changed meanwhile (logged there)
            log.error("issue of %s left unsettled: %s", res.order_no, exc)
            continue
        log.warning(
            "issue of %s (marked by %s at %s) settled: %s",
            res.order_no,
            res.issuing_by,
            res.issuing_since,
            "recorded as issued" if recorded is not None else "the WMS issued nothing, mark cleared",
        )
        done += 1
    return done
