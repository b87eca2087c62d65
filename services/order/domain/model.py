"""Orders: the aggregate, its lines, its events. Pure Python: no database, no gRPC."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from services.chassis.errors import FieldViolation, InvalidArgument, VersionConflict
from services.chassis.events import DomainEvent
from services.order.domain.lifecycle import Action, OrderState, Transition, next_state


class Channel(StrEnum):
    MARKETPLACE = "CHANNEL_MARKETPLACE"
    AGENT = "CHANNEL_AGENT"
    DIRECT = "CHANNEL_DIRECT"


class Priority(StrEnum):
    NORMAL = "PRIORITY_NORMAL"
    HIGH = "PRIORITY_HIGH"


@dataclass(frozen=True)
class OrderLine:
    product_model: str
    quantity: int
    workshop: str
    colour: str = ""
    surface_treatment: str = ""
    unit_price_fen: int = 0


@dataclass(frozen=True)
class OptionLibrary:
    """A tenant's allowed values; an empty tuple means free text."""

    colours: tuple[str, ...] = ()
    surface_treatments: tuple[str, ...] = ()
    workshops: tuple[str, ...] = ()

    def check(self, lines: Iterable[OrderLine]) -> None:
        violations = []
        for i, line in enumerate(lines):
            for name, allowed in (
                ("colour", self.colours),
                ("surface_treatment", self.surface_treatments),
                ("workshop", self.workshops),
            ):
                value = getattr(line, name)
                if allowed and value and value not in allowed:
                    violations.append(
                        FieldViolation(
                            f"lines[{i}].{name}",
                            f"{value!r} is not in this business line's list: {list(allowed)}",
                        )
                    )
        if violations:
            raise InvalidArgument("order lines use values outside the option library", violations)


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
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)
    # Steps taken in this unit of work, stored beside the order (its history; see lifecycle.py).
    transitions: list[Transition] = field(default_factory=list, repr=False, compare=False)

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
            lines=list(lines),
            created_by=created_by,
            created_at=now,
            request_id=request_id,
            state=OrderState.DRAFT if draft else OrderState.PENDING_APPROVAL,
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
        self, action: Action, *, actor: str, expected_version: int, now: datetime, reason: str = ""
    ) -> None:
        """Take one lifecycle step: the caller's version is checked first (a stale screen gets
        ABORTED whatever the state), then the state machine, then the step is recorded."""
        self.ensure_version(expected_version)
        before = self.state
        self.state = next_state(before, action)
        self.version += 1
        self.transitions.append(Transition(action, before, self.state, actor, now, reason, self.version))

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

    def approve(self, *, approver: str, expected_version: int, now: datetime) -> None:
        self._move(Action.APPROVE, actor=approver, expected_version=expected_version, now=now)
        self.approved_by = approver
        self.approved_at = now
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
            )
        )

    def requested_quantities(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.product_model] = totals.get(line.product_model, 0) + line.quantity
        return totals


def line_as_dict(line: OrderLine) -> dict:
    return {
        "product_model": line.product_model,
        "quantity": line.quantity,
        "colour": line.colour,
        "surface_treatment": line.surface_treatment,
        "workshop": line.workshop,
        "unit_price_fen": line.unit_price_fen,
    }


def order_number(prefix: str, day: date, sequence: int) -> str:
    """One numbering scheme for every channel: HW-20261125-00042."""
    return f"{prefix}-{day:%Y%m%d}-{sequence:05d}"
