"""Change-control use cases: ask for a change (with its impact), approve or reject it, read
changes, revisions, the audit trail and the order as it stood at a moment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo

from services.chassis import identity
from services.chassis.errors import FieldViolation, InvalidArgument
from services.chassis.paging import page_size
from services.order.domain.batches import DeliveryBatch, check_batches
from services.order.domain.changes import (
    ChangeRequest,
    FieldChange,
    OrderContent,
    OrderLine,
    Revision,
    diff,
    number_new_lines,
)
from services.order.domain.lifecycle import LABELS, Action, OrderState, Transition, next_state
from services.order.domain.model import OptionLibrary, Order, Priority
from services.order.service_layer.handlers import PLANT_TZ, Clock, UowFactory, utc_now
from services.order.service_layer.impact import ShopFloor, assess_impact


@dataclass(frozen=True)
class Proposal:
    due_date: date
    priority: Priority
    lines: list[OrderLine]
    delivery_address: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    batches: tuple[DeliveryBatch, ...] = ()


@dataclass(frozen=True)
class RequestChange:
    order_id: str
    expected_version: int
    reason: str
    proposed: Proposal | None  # None: cancel the order


def request_change(
    cmd: RequestChange,
    uow: UowFactory,
    shop_floor: ShopFloor,
    options: OptionLibrary,
    clock: Clock = utc_now,
    plant_tz: tzinfo = PLANT_TZ,
) -> tuple[ChangeRequest, Order]:
    caller = identity.current()
    now = clock()
    with uow(read_only=True) as tx:
        seen = tx.orders.get(cmd.order_id)
    # Refuse early (stale screen, wrong state) before asking production and inventory anything.
    seen.ensure_version(cmd.expected_version)
    next_state(seen.state, Action.REQUEST_CHANGE)
    before = seen.content()
    proposed = None if cmd.proposed is None else _checked(cmd.proposed, before, options, now, plant_tz)
    if proposed is None:
        changes = [
            FieldChange("state", "订单状态 order state", LABELS[seen.state], LABELS[OrderState.CANCELLED])
        ]
    else:
        changes = diff(before, proposed)
        if not changes:
            raise InvalidArgument(
                "the proposal is the order as it is: nothing to change",
                [FieldViolation("proposed", "identical to the current revision")],
            )
    change = ChangeRequest(
        change_id=str(uuid.uuid4()),
        order_id=seen.order_id,
        base_revision=seen.revision,
        proposed=proposed,
        reason=cmd.reason,
        requested_by=caller.user,
        requested_at=now,
        diff=changes,
        # Outside any transaction: remote calls never hold a lock; a peer that is down leaves its
        # part out and says so, it never fails the request.
        impact=assess_impact(seen.order_id, before, proposed, shop_floor),
    )
    with uow() as tx:
        tx.orders.attach(seen)  # guarded by the version read above: a concurrent edit -> ABORTED
        seen.request_change(change, expected_version=cmd.expected_version or seen.version)
        tx.orders.save(seen)
        tx.changes.add(change)
        tx.commit()
    return change, seen


def _checked(
    proposal: Proposal, before: OrderContent, options: OptionLibrary, now: datetime, plant_tz: tzinfo
) -> OrderContent:
    lines, fields = options.prepare(
        proposal.lines, proposal.delivery_address, proposal.custom_fields, prefix="proposed."
    )
    today = now.astimezone(plant_tz).date()
    if proposal.due_date < today and proposal.due_date != before.due_date:
        raise InvalidArgument(
            "due date is in the past",
            [FieldViolation("proposed.due_date", f"{proposal.due_date} is before today {today}")],
        )
    numbered = number_new_lines(before, lines)
    # A kept line of the same model keeps its route (a planner may have overridden the routing).
    kept = tuple(
        replace(x, workshop=old.workshop, route=old.route)
        if (old := before.line(x.line_no)) is not None and old.product_model == x.product_model
        else x
        for x in numbered
    )
    batches = check_batches(proposal.batches, kept, today, prefix="proposed.")
    return OrderContent(
        proposal.due_date, proposal.priority.value, kept, proposal.delivery_address.strip(), fields, batches
    )


@dataclass(frozen=True)
class DecideChange:
    order_id: str
    change_id: str
    expected_version: int
    note: str
    approve: bool


def decide_change(cmd: DecideChange, uow: UowFactory, clock: Clock = utc_now) -> tuple[ChangeRequest, Order]:
    """Approve (revision n+1, or cancellation) or reject (back where it was)."""
    actor = identity.current().user
    with uow() as tx:
        order = tx.orders.get(cmd.order_id)
        change = tx.changes.get(order.order_id, cmd.change_id)
        step = order.approve_change if cmd.approve else order.reject_change
        step(change, actor=actor, expected_version=cmd.expected_version, now=clock(), note=cmd.note)
        tx.orders.save(order)
        tx.changes.save_decision(change)
        tx.commit()
        return change, order


def get_change(order_id: str, change_id: str, uow: UowFactory) -> ChangeRequest:
    with uow(read_only=True) as tx:
        tx.orders.get(order_id)  # NotFound for an order the caller may not see
        return tx.changes.get(order_id, change_id)


def list_changes(order_id: str, uow: UowFactory) -> list[ChangeRequest]:
    with uow(read_only=True) as tx:
        tx.orders.get(order_id)
        return tx.changes.for_order(order_id)


def list_revisions(order_id: str, uow: UowFactory) -> tuple[list[Revision], int]:
    """Every revision, oldest first, and the current revision's number."""
    with uow(read_only=True) as tx:
        order = tx.orders.get(order_id)
        return tx.orders.revisions(order), order.revision


def order_as_of(order_id: str, at: datetime, uow: UowFactory) -> Order:
    with uow(read_only=True) as tx:
        return tx.orders.as_of(order_id, at)


@dataclass(frozen=True)
class ListAudit:
    order_id: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None
    page_size: int = 0
    page_token: str = ""


def list_audit(query: ListAudit, uow: UowFactory) -> tuple[list[tuple[str, str, Transition]], str]:
    """(order id, order no, step) oldest first, and the next page's token."""
    if query.since and query.until and query.since > query.until:
        raise InvalidArgument("the window ends before it starts", [FieldViolation("until", "before since")])
    with uow(read_only=True) as tx:
        return tx.orders.audit(
            order_id=query.order_id,
            actor=query.actor,
            since=query.since,
            until=query.until,
            page_size=page_size(query.page_size, default=100),
            page_token=query.page_token,
        )


@dataclass(frozen=True)
class Reroute:
    order_id: str
    expected_version: int
    line_no: int
    route: tuple[str, ...]
    reason: str


def reroute_line(cmd: Reroute, uow: UowFactory, workshops: tuple[str, ...], clock: Clock = utc_now) -> Order:
    """A planner's override of one line's workshops on an approved order."""
    with uow() as tx:
        order = tx.orders.get(cmd.order_id)
        order.reroute(
            cmd.line_no,
            cmd.route,
            actor=identity.current().user,
            expected_version=cmd.expected_version,
            now=clock(),
            reason=cmd.reason,
            workshops=workshops,
        )
        tx.orders.save(order)
        tx.commit()
        return order
