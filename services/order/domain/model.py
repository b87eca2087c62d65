"""Orders: the aggregate, its lines, its events. Pure Python: no database, no gRPC."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from services.chassis.errors import FailedPrecondition, FieldViolation, InvalidArgument, VersionConflict
from services.chassis.events import DomainEvent
from services.order.domain.batches import DeliveryBatch
from services.order.domain.changes import (
    ChangeRequest,
    ChangeState,
    FieldChange,
    OrderContent,
    OrderLine,
    Revision,
)
from services.order.domain.entry import OptionLibrary
from services.order.domain.lifecycle import PRODUCTION_STATES, Action, OrderState, Transition, next_state
from services.order.domain.materials import ReservationResult, describe
from services.order.domain.pricing import PriceDeviation

# The line lives with versioned content (changes.py), the entry rules in entry.py; callers import
# both from here.
__all__ = ["OptionLibrary", "OrderLine"]


class Channel(StrEnum):
    MARKETPLACE = "CHANNEL_MARKETPLACE"
    AGENT = "CHANNEL_AGENT"
    DIRECT = "CHANNEL_DIRECT"


class Priority(StrEnum):
    NORMAL = "PRIORITY_NORMAL"
    HIGH = "PRIORITY_HIGH"


@dataclass(frozen=True)
class OrderCreated(DomainEvent):
    event_type = "order_created"
    order_id: str
    order_no: str
    customer_id: str
    channel: str
    priority: str
    due_date: str


@dataclass(frozen=True)
class OrderApproved(DomainEvent):
    event_type = "order_approved"
    order_id: str
    order_no: str
    customer_id: str
    priority: str
    due_date: str
    version: int
    lines: list[dict]
    approved_by: str
    batches: list[dict] = field(default_factory=list)
    revision: int = 1
    # Accepted short of materials by an override of approved_by (缺料接单), and why.
    materials_short: bool = False
    override_reason: str = ""
    shortages: list[dict] = field(default_factory=list)
    materials_locked: bool = False  # 原材料已锁定, by the tenant rule lock_rule
    lock_rule: str = ""


@dataclass(frozen=True)
class OrderSubmitted(DomainEvent):
    event_type = "order_submitted"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    submitted_by: str


@dataclass(frozen=True)
class OrderCancelled(DomainEvent):
    event_type = "order_cancelled"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    cancelled_by: str
    reason: str


@dataclass(frozen=True)
class OrderChangeRequested(DomainEvent):
    """Production and inventory freeze the order's work orders and material issues on this."""

    event_type = "order_change_requested"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    change_id: str
    revision: int  # the revision the change is against
    requested_by: str
    reason: str
    cancels_order: bool
    diff: list[dict]


@dataclass(frozen=True)
class OrderChanged(DomainEvent):
    """A change was approved: the new revision's whole content and the diff from the previous
    one, so material needs are recomputed and work orders revised (never cancelled and re-made)."""

    event_type = "order_changed"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    change_id: str
    revision: int
    previous_revision: int
    approved_by: str
    reason: str
    cancels_order: bool
    due_date: str
    priority: str
    lines: list[dict]
    diff: list[dict]
    batches: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class OrderChangeRejected(DomainEvent):
    """The change will not happen: unfreeze."""

    event_type = "order_change_rejected"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    change_id: str
    rejected_by: str
    note: str


@dataclass(frozen=True)
class OrderStateChanged(DomainEvent):
    """Production moved the order (its least advanced work order reached a stage)."""

    event_type = "order_state_changed"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    from_state: str
    to_state: str
    at: str


@dataclass(frozen=True)
class OrderShipped(DomainEvent):
    event_type = "order_shipped"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    amount_fen: int
    shipped_by: str
    shipped_at: str


@dataclass(frozen=True)
class OrderLineRerouted(DomainEvent):
    """A planner changed the workshops of one line of an approved order."""

    event_type = "order_line_rerouted"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    line_no: int
    before: list[str]
    after: list[str]
    rerouted_by: str
    reason: str


@dataclass(frozen=True)
class OrderClosed(DomainEvent):
    event_type = "order_closed"
    order_id: str
    order_no: str
    customer_id: str
    version: int
    closed_by: str


@dataclass
class Order:
    order_id: str
    order_no: str
    customer_id: str
    channel: Channel
    priority: Priority
    due_date: date
    lines: list[OrderLine]
    created_by: str
    created_at: datetime
    state: OrderState = OrderState.PENDING_APPROVAL
    version: int = 1
    approved_by: str = ""
    approved_at: datetime | None = None
    request_id: str = ""
    revision: int = 1  # 版本: the content's version, +1 per approved change
    revision_since: datetime | None = None  # when the current revision took effect
    state_before_change: OrderState | None = None  # where a decided change returns the order
    pending_change_id: str = ""
    production_state: OrderState | None = None  # the state production last reported
    delivery_address: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)  # the tenant's own fields, normalised
    # Typed prices off the contract price beyond the tolerance: approval needs a manager.
    price_deviations: list[PriceDeviation] = field(default_factory=list)
    batches: tuple[DeliveryBatch, ...] = ()  # 分批交货; none = one delivery on the due date
    # Inventory's answer at approval: accepted short by an override, hard-locked by a rule.
    materials_short: bool = False
    materials_locked: bool = False
    lock_rule: str = ""
    # Set when lines changed within a revision (a planner's reroute): the repository rewrites them.
    lines_changed: bool = field(default=False, repr=False, compare=False)
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)
    # Steps taken in this unit of work, stored beside the order (its history; see lifecycle.py).
    transitions: list[Transition] = field(default_factory=list, repr=False, compare=False)
    # Revisions made in this unit of work, to keep (version history; see changes.py).
    new_revisions: list[Revision] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        *,
        order_id: str,
        order_no: str,
        customer_id: str,
        channel: Channel,
        priority: Priority,
        due_date: date,
        lines: list[OrderLine],
        created_by: str,
        now: datetime,
        request_id: str = "",
        draft: bool = False,
        delivery_address: str = "",
        custom_fields: dict[str, str] | None = None,
        price_deviations: list[PriceDeviation] | None = None,
        batches: tuple[DeliveryBatch, ...] = (),
    ) -> Order:
        if due_date < now.date():
            raise InvalidArgument(
                "due date is in the past",
                [FieldViolation("due_date", f"{due_date} is before today {now.date()}")],
            )
        order = cls(
            order_id=order_id,
            order_no=order_no,
            customer_id=customer_id,
            channel=channel,
            priority=priority,
            due_date=due_date,
            lines=[
                replace(line, line_no=n, route=line.route or ((line.workshop,) if line.workshop else ()))
                for n, line in enumerate(lines, start=1)
            ],
            created_by=created_by,
            created_at=now,
            request_id=request_id,
            state=OrderState.DRAFT if draft else OrderState.PENDING_APPROVAL,
            revision_since=now,
            delivery_address=delivery_address,
            custom_fields=dict(custom_fields or {}),
            price_deviations=list(price_deviations or []),
            batches=batches,
        )
        order.transitions.append(Transition(Action.CREATE, None, order.state, created_by, now))
        order.events.append(
            OrderCreated(order_id, order_no, customer_id, channel.value, priority.value, due_date.isoformat())
        )
        return order

    def ensure_version(self, expected_version: int) -> None:
        """Optimistic check against the version the caller reviewed (0 = caller did not say)."""
        if expected_version and expected_version != self.version:
            raise VersionConflict(
                f"order {self.order_no} is at version {self.version}, not {expected_version}; reload it"
            )

    def _move(
        self,
        action: Action,
        *,
        actor: str,
        expected_version: int,
        now: datetime,
        reason: str = "",
        back_to: OrderState | None = None,
        changes: tuple[FieldChange, ...] = (),
    ) -> None:
        """Take one lifecycle step: the caller's version is checked first (a stale screen gets
        ABORTED whatever the state), then the state machine, then the step is recorded."""
        self.ensure_version(expected_version)
        before = self.state
        self.state = next_state(before, action, back_to)
        self.version += 1
        self.transitions.append(
            Transition(action, before, self.state, actor, now, reason, self.version, changes)
        )

    @property
    def price_review(self) -> bool:
        """Does approval need a manager (a typed price off the contract price)?"""
        return bool(self.price_deviations)

    def content(self) -> OrderContent:
        return OrderContent(
            self.due_date,
            self.priority.value,
            tuple(self.lines),
            self.delivery_address,
            dict(self.custom_fields),
            self.batches,
        )

    def total_fen(self) -> int:
        return sum(line.quantity * line.unit_price_fen for line in self.lines)

    # --- change control ----------------------------------------------------------------------

    def request_change(self, change: ChangeRequest, *, expected_version: int) -> None:
        """Put the order into pending change; production and inventory freeze on the event."""
        if change.base_revision != self.revision:
            raise VersionConflict(
                f"the change is against revision {change.base_revision}, the order is at {self.revision}"
            )
        before = self.state
        self._move(
            Action.REQUEST_CHANGE,
            actor=change.requested_by,
            expected_version=expected_version,
            now=change.requested_at,
            reason=change.reason,
        )
        self.state_before_change = before
        self.pending_change_id = change.change_id
        self.events.append(
            OrderChangeRequested(
                self.order_id,
                self.order_no,
                self.customer_id,
                self.version,
                change.change_id,
                self.revision,
                change.requested_by,
                change.reason,
                change.cancels_order,
                [c.as_dict() for c in change.diff],
            )
        )

    def _decidable(self, change: ChangeRequest, expected_version: int) -> None:
        """A stale screen first (ABORTED), then the order's state (the state machine names it),
        then whether this is the change the order waits on."""
        self.ensure_version(expected_version)
        if self.state is not OrderState.PENDING_CHANGE:
            return  # _move refuses it, naming the state
        if change.state is not ChangeState.PENDING or change.change_id != self.pending_change_id:
            raise FailedPrecondition(
                f"change {change.change_id} is {change.state.name.lower()}, not the order's pending change"
            )

    def _state_after_change(self) -> OrderState:
        """Where the order was; if production reported progress while it was frozen, there."""
        back = self.state_before_change or OrderState.APPROVED
        if back in PRODUCTION_STATES and self.production_state in PRODUCTION_STATES:
            return self.production_state
        return back

    def approve_change(
        self, change: ChangeRequest, *, actor: str, expected_version: int, now: datetime, note: str = ""
    ) -> None:
        """Version n+1 (or cancellation): same order id and number, same work orders downstream."""
        self._decidable(change, expected_version)
        back = OrderState.CANCELLED if change.cancels_order else self._state_after_change()
        self._move(
            Action.APPROVE_CHANGE,
            actor=actor,
            expected_version=expected_version,
            now=now,
            reason=note or change.reason,
            back_to=back,
            changes=tuple(change.diff),
        )
        previous = self.revision
        if change.proposed is not None:
            if self.revision == 1:  # the first change: keep what the order was as revision 1
                self.new_revisions.append(Revision(1, self.content(), self.revision_since or self.created_at))
            self.due_date = change.proposed.due_date
            self.priority = Priority(change.proposed.priority)
            self.lines = list(change.proposed.lines)
            self.delivery_address = change.proposed.delivery_address
            self.custom_fields = dict(change.proposed.custom_fields)
            self.batches = tuple(change.proposed.batches)
            self.revision += 1
            self.revision_since = now
            self.new_revisions.append(
                Revision(
                    self.revision,
                    self.content(),
                    now,
                    change.change_id,
                    change.reason,
                    actor,
                    tuple(change.diff),
                )
            )
        self.state_before_change = None
        self.pending_change_id = ""
        change.decide(ChangeState.APPROVED, actor, now, note)
        self.events.append(
            OrderChanged(
                self.order_id,
                self.order_no,
                self.customer_id,
                self.version,
                change.change_id,
                self.revision,
                previous,
                actor,
                change.reason,
                change.cancels_order,
                self.due_date.isoformat(),
                self.priority.value,
                [line_as_dict(line) for line in self.lines],
                [c.as_dict() for c in change.diff],
                [b.as_dict() for b in self.batches],
            )
        )
        if change.cancels_order:
            self.events.append(
                OrderCancelled(
                    self.order_id, self.order_no, self.customer_id, self.version, actor, change.reason
                )
            )

    def reject_change(
        self, change: ChangeRequest, *, actor: str, expected_version: int, now: datetime, note: str
    ) -> None:
        self._decidable(change, expected_version)
        self._move(
            Action.REJECT_CHANGE,
            actor=actor,
            expected_version=expected_version,
            now=now,
            reason=note,
            back_to=self._state_after_change(),
        )
        self.state_before_change = None
        self.pending_change_id = ""
        change.decide(ChangeState.REJECTED, actor, now, note)
        self.events.append(
            OrderChangeRejected(
                self.order_id, self.order_no, self.customer_id, self.version, change.change_id, actor, note
            )
        )

    def reroute(
        self,
        line_no: int,
        route: tuple[str, ...],
        *,
        actor: str,
        expected_version: int,
        now: datetime,
        reason: str,
        workshops: tuple[str, ...] = (),
    ) -> None:
        """A planner's override of a line's workshops (the routing is the default, not a law)."""
        line = next((x for x in self.lines if x.line_no == line_no), None)
        problems = []
        if line is None:
            problems.append(FieldViolation("line_no", f"order {self.order_no} has no line {line_no}"))
        problems += [
            FieldViolation(
                f"route[{i}]", f"{code!r} is not a workshop of this business line: {list(workshops)}"
            )
            for i, code in enumerate(route)
            if workshops and code not in workshops
        ]
        if problems:
            raise InvalidArgument("the new route does not fit the order", problems)
        assert line is not None
        if route == line.route:
            raise InvalidArgument(
                "the line is already routed so",
                [FieldViolation("route", f"line {line_no} is {' → '.join(route)}")],
            )
        change = FieldChange(
            f"lines[{line_no}].route",
            f"第{line_no}行 line {line_no} 工艺路线 route",
            " → ".join(line.route),
            " → ".join(route),
        )
        self._move(
            Action.REROUTE,
            actor=actor,
            expected_version=expected_version,
            now=now,
            reason=reason,
            changes=(change,),
        )
        self.lines = [
            replace(x, workshop=route[0], route=route) if x.line_no == line_no else x for x in self.lines
        ]
        self.lines_changed = True
        self.events.append(
            OrderLineRerouted(
                self.order_id,
                self.order_no,
                self.customer_id,
                self.version,
                line_no,
                list(line.route),
                list(route),
                actor,
                reason,
            )
        )

    # --- production and after ----------------------------------------------------------------

    def report_production(self, reached: OrderState, *, actor: str, now: datetime) -> bool:
        """Production says the order's least advanced work order is at `reached` (one of
        PRODUCTION_STATES). Moves the order there when it is in production's hands; while a change
        is pending (work frozen) or before approval it is only remembered. True if anything changed."""
        if reached not in PRODUCTION_STATES:
            raise ValueError(f"{reached} is not a state production reports")
        remembered = self.production_state != reached
        self.production_state = reached
        if self.state in PRODUCTION_STATES and self.state is not reached:
            before = self.state
            self._move(PRODUCTION_STATES[reached], actor=actor, expected_version=0, now=now)
            self.events.append(
                OrderStateChanged(
                    self.order_id,
                    self.order_no,
                    self.customer_id,
                    self.version,
                    before.value,
                    self.state.value,
                    now.isoformat(),
                )
            )
            return True
        return remembered

    def ship(self, *, actor: str, expected_version: int, now: datetime) -> None:
        self._move(Action.SHIP, actor=actor, expected_version=expected_version, now=now)
        self.events.append(
            OrderShipped(
                self.order_id,
                self.order_no,
                self.customer_id,
                self.version,
                self.total_fen(),
                actor,
                now.isoformat(),
            )
        )

    def close(self, *, actor: str, expected_version: int, now: datetime) -> None:
        self._move(Action.CLOSE, actor=actor, expected_version=expected_version, now=now)
        self.events.append(OrderClosed(self.order_id, self.order_no, self.customer_id, self.version, actor))

    def submit(self, *, actor: str, expected_version: int, now: datetime) -> None:
        self._move(Action.SUBMIT, actor=actor, expected_version=expected_version, now=now)
        self.events.append(
            OrderSubmitted(self.order_id, self.order_no, self.customer_id, self.version, actor)
        )

    def cancel(self, *, actor: str, expected_version: int, now: datetime, reason: str) -> None:
        self._move(Action.CANCEL, actor=actor, expected_version=expected_version, now=now, reason=reason)
        self.events.append(
            OrderCancelled(self.order_id, self.order_no, self.customer_id, self.version, actor, reason)
        )

    def approve(
        self,
        *,
        approver: str,
        expected_version: int,
        now: datetime,
        materials: ReservationResult | None = None,
    ) -> None:
        """Accept the order. `materials`: what inventory reserved for it; an order short of
        materials is accepted only by an override with a reason (kept as the step's reason, the
        short materials as its changes: the audit trail shows who, why and what)."""
        self.ensure_version(expected_version)
        materials = materials or ReservationResult(self.revision)
        if materials.short and not materials.override_reason:
            raise FailedPrecondition(
                f"材料不足 materials short for order {self.order_no}: {describe(materials.shortages)}; "
                "a manager may accept it with override_shortage and a reason"
            )
        self._move(
            Action.APPROVE,
            actor=approver,
            expected_version=expected_version,
            now=now,
            reason=materials.override_reason if materials.short else "",
            changes=materials.audit(),
        )
        self.approved_by = approver
        self.approved_at = now
        self.materials_short = materials.short
        self.materials_locked = materials.locked
        self.lock_rule = materials.lock_rule
        self.events.append(
            OrderApproved(
                self.order_id,
                self.order_no,
                self.customer_id,
                self.priority.value,
                self.due_date.isoformat(),
                self.version,
                [line_as_dict(line) for line in self.lines],
                approver,
                [b.as_dict() for b in self.batches],
                self.revision,
                materials.short,
                materials.override_reason if materials.short else "",
                [x.as_dict() for x in materials.shortages],
                materials.locked,
                materials.lock_rule,
            )
        )


def line_as_dict(line: OrderLine) -> dict:
    return {
        "product_model": line.product_model,
        "quantity": line.quantity,
        "colour": line.colour,
        "surface_treatment": line.surface_treatment,
        "workshop": line.workshop,
        "unit_price_fen": line.unit_price_fen,
        "line_no": line.line_no,
        "packaging": line.packaging,
        "route": list(line.route),
    }


def order_number(prefix: str, day: date, sequence: int) -> str:
    """One numbering scheme for every channel: HW-20261125-00042."""
    return f"{prefix}-{day:%Y%m%d}-{sequence:05d}"
