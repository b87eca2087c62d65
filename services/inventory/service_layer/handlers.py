"""Inventory use cases: reserve, adjust, freeze, issue and release an order's materials.

The ledger is the truth. What the WMS says is on hand is read BEFORE the write transaction (no
lock is ever held across a remote call; a WMS that does not answer is UNAVAILABLE with nothing
written); the WMS is told the new state AFTER the ledger commits (a new reservation by the
process's pusher, once its caller is answered; other changes before answering), and a job
retries what was missed (`sync_with_wms`). Issue is the exception: material leaves the warehouse
through the WMS, so the WMS issues first and the ledger records it (else a reservation read on
the WMS's stale on-hand figure could take stock the ledger has already handed out), with an
issuing mark holding the reservation still in between (issuing.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.bom import MaterialLine
from services.chassis import identity
from services.chassis.errors import (
    Duplicate,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.chassis.rules import CompiledRule, RuleFailed
from services.chassis.tenant_config import TenantConfig
from services.chassis.uow import UowFactory as UowFactoryOf
from services.inventory.domain.lock_rule import order_variables
from services.inventory.domain.model import Availability, check_availability
from services.inventory.domain.reservation import (
    Need,
    Reservation,
    ReservationLine,
    ReservationState,
    Shortfall,
    adjustment,
    material_needs,
    short_message,
    shortfalls,
)
from services.inventory.service_layer import issuing
from services.inventory.service_layer.plant import Plant, on_hand, wanted_for
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from services.inventory.service_layer.wms_sync import push_to_wms
from services.permissions import may_accept_shortage, refuse_shortage_override

UowFactory = UowFactoryOf[InventoryUnitOfWork]  # uow() or uow(read_only=True)


@dataclass(frozen=True)
class ReserveMaterials:
    order_id: str
    order_no: str
    revision: int
    customer_id: str
    amount_fen: int
    priority: str
    lines: list[MaterialLine]
    override_shortage: bool = False
    override_reason: str = ""


def reserve_materials(cmd: ReserveMaterials, uow: UowFactory, plant: Plant) -> Reservation:
    """All of what the revision needs, or nothing (or, overridden, what is available)."""
    if cmd.override_shortage and not cmd.override_reason.strip():
        raise InvalidArgument(
            "an override of a shortage needs a reason",
            [FieldViolation("override_reason", "say why the order is accepted without its materials")],
        )
    if cmd.override_shortage and not may_accept_shortage(identity.current()):
        raise refuse_shortage_override(identity.current())  # where the override is recorded
    try:
        wanted = wanted_for(plant.config, cmd.lines)
        stock = on_hand(plant, list(wanted))
        locked, rule = _lock_verdict(cmd, plant.lock_rule)
    except (Unavailable, FailedPrecondition):
        # A retried approval is answered from the ledger, WMS down or tenant file changed since.
        with uow(read_only=True) as tx:
            existing = tx.reservations.for_order(cmd.order_id)
        if existing is not None and existing.revision >= cmd.revision:
            return existing
        if existing is not None:
            existing.require_open("reserve a new revision")
        raise
    now = datetime.now(UTC)
    res = Reservation(
        reservation_id=str(uuid.uuid4()),
        order_id=cmd.order_id,
        order_no=cmd.order_no,
        customer_id=cmd.customer_id,
        revision=cmd.revision,
        amount_fen=cmd.amount_fen,
        priority=cmd.priority,
        order_lines=list(cmd.lines),
        created_at=now,
        updated_at=now,
        locked=locked,
        lock_rule=rule,
    )
    for material, need in wanted.items():  # sorted by material: no two takers deadlock
        res.lines[material] = ReservationLine(material, need.unit, need.quantity, reserved=need.quantity)
    try:
        with uow() as tx:
            # The reservation, its lines and its event as they are once every material is held,
            # written first: an order reserved already (a retried approval, a newer revision) is
            # a Duplicate here, before any balance is touched, and a hot material's balance row
            # stays locked only from its guarded UPDATE to the commit. Short: all rolls back.
            tx.reservations.add(res)
            if not cmd.override_shortage:
                res.announce()
                tx.write_events_now()
            _hold(tx, res, cmd, wanted, stock)
            if cmd.override_shortage:
                if res.short:  # what the override held, as it is
                    tx.reservations.save(res)
                res.announce()
            tx.commit()
    except Duplicate:
        found = _reserved_already(cmd, wanted, stock, uow, plant)
        if found is None:  # reservations are never deleted: a Duplicate of something else
            raise
        return found
    # The ledger has committed: the answer stands whatever the WMS does next. The pusher tells
    # the WMS after the caller is answered (wms_synced false in the answer); without one, or
    # with its queue full, it is told now. The sync job sends whatever either missed.
    if plant.pusher is None or not plant.pusher.submit(plant.tenant_id, res.reservation_id):
        push_to_wms(res, uow, plant)
    return res


def _hold(
    tx: InventoryUnitOfWork,
    res: Reservation,
    cmd: ReserveMaterials,
    wanted: dict[str, Need],
    stock: dict[str, int],
) -> None:
    """The guarded UPDATE of each material's balance (each writing its line's available
    figure), in material order. Short and not overridden: FAILED_PRECONDITION naming every
    short material (the caller's `with` rolls back what the others took)."""
    short: list[str] = []  # refused: each further material is only looked at
    for material, need in wanted.items():
        line = res.lines[material]
        available = None
        if not short:
            available = tx.balances.take(
                material, need.quantity, stock[material], res.locked, line_of=res.reservation_id
            )
            if available is None:
                # Perhaps no row yet (the material's first reservations, racing): create it
                # (race-safe) and take again, seeing a row another taker created meanwhile.
                tx.balances.ensure({material: need.unit})
                available = tx.balances.take(
                    material, need.quantity, stock[material], res.locked, line_of=res.reservation_id
                )
        if available is not None:
            line.available = available
        elif cmd.override_shortage:
            line.reserved, line.available = tx.balances.take_available(
                material, need.quantity, stock[material], res.locked
            )
            line.short = need.quantity - line.reserved
        else:
            short.append(material)
    if short:
        balances = tx.balances.get(short)
        available_now = {m: stock[m] - (balances[m].reserved if m in balances else 0) for m in short}
        # The first was refused by the guard; the others are short as of this read.
        first = Shortfall(short[0], wanted[short[0]].unit, wanted[short[0]].quantity, 0)
        missing = [
            Shortfall(first.material, first.unit, first.needed, max(available_now[first.material], 0)),
            *shortfalls({m: wanted[m] for m in short[1:]}, available_now),
        ]
        raise FailedPrecondition(short_message(missing))
    if res.short:
        res.overridden = True
        res.overridden_by = identity.current().user
        res.override_reason = cmd.override_reason.strip()


def _reserved_already(
    cmd: ReserveMaterials, wanted: dict[str, Need], stock: dict[str, int], uow: UowFactory, plant: Plant
) -> Reservation | None:
    """The order has a reservation (a retried or concurrent approval, or a newer revision asked
    directly): the same one for its revision, else held by the difference."""
    with uow(read_only=True) as tx:
        existing = tx.reservations.for_order(cmd.order_id)
    if existing is None or existing.revision >= cmd.revision:
        return existing
    existing.require_open("reserve a new revision")
    return _adjust_by_request(cmd, wanted, stock, uow, plant)


def _lock_verdict(cmd: ReserveMaterials, rule: CompiledRule | None) -> tuple[bool, str]:
    if rule is None:
        return False, ""
    variables = order_variables(cmd.order_no, cmd.customer_id, cmd.priority, cmd.amount_fen, cmd.lines)
    try:
        return (True, rule.name) if rule.matches(variables) else (False, "")
    except RuleFailed as exc:
        raise FailedPrecondition(f"锁料规则出错 {exc}: fix the rule in the tenant file") from None


def _adjust_by_request(
    cmd: ReserveMaterials, wanted: dict[str, Need], stock: dict[str, int], uow: UowFactory, plant: Plant
) -> Reservation:
    """A newer revision asked through ReserveMaterials (changes normally arrive as order_changed):
    hold the difference, all of it or nothing, as a first reservation would."""
    with uow() as tx:
        res = tx.reservations.for_order(cmd.order_id, for_update=True)
        assert res is not None  # reservations are never deleted
        if res.revision >= cmd.revision:
            return res
        res.require_open("reserve a new revision")
        adjust(tx, res, wanted, cmd.revision, cmd.lines, stock=stock, accept_short=cmd.override_shortage)
        tx.reservations.save(res)
        tx.commit()
    push_to_wms(res, uow, plant)
    return res


def adjust(
    tx: InventoryUnitOfWork,
    res: Reservation,
    wanted: Mapping[str, Need],
    revision: int,
    order_lines: Sequence[MaterialLine],
    *,
    stock: Mapping[str, int] | None,
    accept_short: bool,
) -> None:
    """Take the reservation to `wanted`, by the difference: give back what is no longer needed,
    hold more where more is needed. `stock` None (a consumer: no remote call inside its
    transaction) holds against the last on-hand figure the WMS gave. Short and not
    `accept_short`: FAILED_PRECONDITION naming every short material (the caller rolls back);
    else what is available is held and the rest recorded as short: never over-committed.
    IssueInProgress while the WMS issues the reservation (before any balance is touched)."""
    res.require_not_issuing()
    deltas = adjustment(res.lines, wanted)
    tx.balances.ensure({m: wanted[m].unit for m in deltas if m in wanted})
    taken: dict[str, tuple[int, int]] = {}
    short: list[Shortfall] = []
    for material, delta in deltas.items():  # sorted by material
        line = res.lines.get(material)
        if delta < 0:
            tx.balances.give_back(material, -delta, res.locked)
            taken[material] = (delta, line.available if line else 0)
            continue
        available = None
        if stock is not None:
            available = tx.balances.take(material, delta, stock[material], res.locked)
        if available is not None:
            taken[material] = (delta, available)
        elif accept_short or stock is None:
            taken[material] = tx.balances.take_available(
                material, delta, stock[material] if stock is not None else None, res.locked
            )
        else:
            short.append(Shortfall(material, wanted[material].unit, delta, 0))
    if short:
        assert stock is not None
        balances = tx.balances.get([s.material for s in short])
        raise FailedPrecondition(
            short_message(
                [
                    Shortfall(s.material, s.unit, s.needed, stock[s.material] - balances[s.material].reserved)
                    for s in short
                ]
            )
        )
    res.adjusted(revision, wanted, taken, list(order_lines), datetime.now(UTC))


def issue_materials(order_id: str, uow: UowFactory, plant: Plant) -> Reservation:
    """领料: the reservation is marked issuing (its own commit: from then on no change, freeze or
    cancel can move it, and the WMS sync leaves it alone), the WMS issues it (the material
    physically leaves there), then the ledger records exactly the marked lines as issued.
    Refused while a change is pending, while another issue is in progress, or when nothing is
    held. The WMS refusing or down: the mark is cleared, nothing issued, the caller gets the error
    (unless the WMS may have issued: then it is asked; no answer leaves the mark to the sync job)."""
    with uow(read_only=True) as tx:
        res = tx.reservations.for_order(order_id)
    if res is None:
        raise FailedPrecondition(f"无预留 order {order_id} has no reservation: nothing to issue")
    res.to_issue()
    if not res.wms_synced and not push_to_wms(res, uow, plant):
        raise Unavailable("仓库系统无响应 the WMS does not have this reservation yet: retry the issue")
    snapshot = issuing.begin(order_id, identity.current().user, uow)
    try:
        plant.wms.issue(plant.warehouse, snapshot.wms_id)
    except (FailedPrecondition, NotFound) as exc:
        issuing.abandon(snapshot, uow)  # the WMS refused: it issued nothing
        raise exc
    except Exception as exc:
        if isinstance(exc, Unavailable) and not getattr(exc, "maybe_applied", False):
            issuing.abandon(snapshot, uow)  # never sent, or the WMS said it applied nothing
            raise
        # No answer to a sent issue (a timeout, a dropped connection): perhaps it left. Ask.
        try:
            recorded = issuing.settle(snapshot, uow, plant)
        except Unavailable:
            raise Unavailable(
                "仓库系统无响应 the WMS did not say whether it issued: the sync job settles it within "
                f"{issuing.STALE_AFTER_S:.0f} s; look at the reservation then"
            ) from exc
        if recorded is None:
            raise
        return recorded
    return issuing.record(snapshot, uow)


# What the order's events do (consumers.py calls these inside the consumer's unit of work).


def freeze(order_id: str, tx: InventoryUnitOfWork) -> None:
    res = tx.reservations.for_order(order_id, for_update=True)
    if res is not None and res.freeze(datetime.now(UTC)):
        tx.reservations.save(res)


def unfreeze(order_id: str, tx: InventoryUnitOfWork) -> None:
    res = tx.reservations.for_order(order_id, for_update=True)
    if res is not None and res.unfreeze(datetime.now(UTC)):
        tx.reservations.save(res)


def follow_change(
    order_id: str,
    revision: int,
    lines: Sequence[MaterialLine],
    cancels: bool,
    tx: InventoryUnitOfWork,
    config: TenantConfig,
) -> None:
    """An approved change: hold what the new revision needs (short where stock does not cover
    it), or release everything when the change cancels the order; then unfreeze. After an issue,
    the new revision holds its need less what was issued (issued stays issued; what it no longer
    needs is not given back: it left the warehouse). IssueInProgress while the WMS issues the
    reservation: the consumer's retry policy delivers the change again after the issue."""
    res = tx.reservations.for_order(order_id, for_update=True)
    if res is None or res.state is ReservationState.RELEASED:
        return  # an order with no reservation (or a cancelled one): nothing to do
    now = datetime.now(UTC)
    if cancels:
        _release(tx, res, "change_cancels_order", now)
        return
    if revision > res.revision:
        wanted = material_needs(config.bom, lines)  # models without a BOM need nothing here
        adjust(tx, res, wanted, revision, lines, stock=None, accept_short=True)
    res.unfreeze(now)
    tx.reservations.save(res)


def release(order_id: str, reason: str, tx: InventoryUnitOfWork) -> None:
    res = tx.reservations.for_order(order_id, for_update=True)
    if res is not None:
        _release(tx, res, reason, datetime.now(UTC))


def _release(tx: InventoryUnitOfWork, res: Reservation, reason: str, now: datetime) -> None:
    held = res.to_release()
    if res.released(reason, now):
        for material in sorted(held):
            tx.balances.give_back(material, held[material], res.locked)
        tx.reservations.save(res)


# The deprecated finished-goods check (CheckAvailability).


def availability(requested: dict[str, int], uow: UowFactory) -> list[Availability]:
    with uow(read_only=True) as tx:
        return check_availability(requested, tx.stock.levels(requested))


def record_stock(levels: dict[str, int], uow: UowFactory) -> None:
    with uow() as tx:
        for model, stock in levels.items():
            tx.stock.set_on_hand(model, stock)
        tx.commit()
