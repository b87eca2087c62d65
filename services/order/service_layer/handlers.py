"""Use cases: open a unit of work, load, ask the domain, commit. Events go out via the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from services.chassis import identity
from services.chassis.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    Duplicate,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
)
from services.chassis.paging import page_size
from services.chassis.uow import UowFactory as UowFactoryOf
from services.order.domain.batches import DeliveryBatch, check_batches
from services.order.domain.lifecycle import Transition
from services.order.domain.model import (
    Channel,
    OptionLibrary,
    Order,
    OrderLine,
    OrderState,
    Priority,
    order_number,
)
from services.order.domain.pricing import PriceDeviation, apply_contract_prices
from services.order.service_layer.ports import (
    ContractPrices,
    CustomerDirectory,
    MaterialReservations,
    NumberSource,
    ShortageOverride,
)
from services.order.service_layer.unit_of_work import OrderUnitOfWork
from services.permissions import may_accept_shortage, refuse_shortage_override

UowFactory = UowFactoryOf[OrderUnitOfWork]  # uow() or uow(read_only=True)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


PLANT_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class CreateOrder:
    customer_id: str
    channel: Channel
    priority: Priority
    due_date: date
    lines: list[OrderLine]
    request_id: str = ""
    draft: bool = False
    delivery_address: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    batches: tuple[DeliveryBatch, ...] = ()  # line numbers: 1 = the first line of `lines`


@dataclass(frozen=True)
class Pricing:
    """Where contract prices come from and how far a typed price may stray ([price_rules])."""

    contract: ContractPrices
    tolerance_percent: float = 0.0


@dataclass(frozen=True)
class ApproveOrder:
    order_id: str
    expected_version: int
    # Accept the order although materials are short (缺料接单): a manager, with a reason.
    override_shortage: bool = False
    override_reason: str = ""


@dataclass(frozen=True)
class ListOrders:
    state: OrderState | None
    due_from: date | None
    due_to: date | None
    page_size: int
    page_token: str
    order_no: str = ""
    customer_id: str = ""
    channel: Channel | None = None
    priority: Priority | None = None
    text: str = ""
    request_id: str = ""


def create_order(
    cmd: CreateOrder,
    uow: UowFactory,
    customers: CustomerDirectory,
    options: OptionLibrary,
    number_prefix: str,
    numbers: NumberSource,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    plant_tz: tzinfo = PLANT_TZ,
    pricing: Pricing | None = None,
) -> Order:
    caller = identity.current()
    if caller.customer_id and caller.customer_id != cmd.customer_id:
        raise InvalidArgument(
            "a portal account orders for its own customer only",
            [FieldViolation("customer_id", "not your customer account")],
        )
    numbered = [replace(x, line_no=n) for n, x in enumerate(cmd.lines, start=1)]
    lines, fields = options.prepare(numbered, cmd.delivery_address, cmd.custom_fields)
    customer = customers.look_up(cmd.customer_id)
    if customer is None:
        raise InvalidArgument(
            "unknown customer", [FieldViolation("customer_id", f"{cmd.customer_id} not found")]
        )
    if not customer.active:
        raise FailedPrecondition(
            f"customer {cmd.customer_id} is deactivated (已停用) and takes no new orders"
        )
    now = clock().astimezone(plant_tz)  # order numbers and "today" follow the plant's calendar
    deviations: list[PriceDeviation] = []
    if pricing is not None:
        models = list(dict.fromkeys(x.product_model for x in lines))
        agreed = pricing.contract.resolve(cmd.customer_id, models, now.date())
        lines, deviations = apply_contract_prices(lines, agreed, pricing.tolerance_percent)
    batches = check_batches(cmd.batches, lines, now.date())
    cmd = replace(cmd, lines=lines, custom_fields=fields, batches=batches)
    day = f"{now:%Y%m%d}"
    # No look-up of request_id first: the insert itself finds a resubmission (its unique key), so
    # the common case (a new order) costs one transaction.
    for _ in range(2):
        seq = numbers.next("order", day)
        try:
            return _insert_order(
                cmd, uow, order_number(number_prefix, now.date(), seq), caller.user, now, deviations
            )
        except Duplicate as dup:
            if "order_no" in dup.constraint:
                continue  # the counter was behind the table (a restored backup): take the next
            numbers.give_back("order", day, seq)
            # The same request_id committed earlier or concurrently (a phone resending its form).
            if cmd.request_id and (earlier := _earlier_submission(cmd, uow)):
                return earlier
            raise AlreadyExists(f"request_id {cmd.request_id!r} is already used by another order") from None
        except DomainError:
            numbers.give_back("order", day, seq)  # refused before commit: the number is unused
            raise
    raise Conflict("order numbers are taken faster than they are counted; try again")


def _insert_order(
    cmd: CreateOrder,
    uow: UowFactory,
    order_no: str,
    user: str,
    now: datetime,
    deviations: list[PriceDeviation],
) -> Order:
    with uow() as tx:
        order = Order.create(
            order_id=str(uuid.uuid4()),
            order_no=order_no,
            customer_id=cmd.customer_id,
            channel=cmd.channel,
            priority=cmd.priority,
            due_date=cmd.due_date,
            lines=cmd.lines,
            created_by=user,
            now=now,
            request_id=cmd.request_id,
            draft=cmd.draft,
            delivery_address=cmd.delivery_address,
            custom_fields=cmd.custom_fields,
            price_deviations=deviations,
            batches=cmd.batches,
        )
        tx.orders.add(order)
        tx.commit()
        return order


def _earlier_submission(cmd: CreateOrder, uow: UowFactory) -> Order | None:
    """The order an earlier submission of this very request created; a reused key with other
    content is refused rather than answered with someone else's order."""
    with uow(read_only=True) as tx:
        existing = tx.orders.find_by_request_id(cmd.request_id)
    if existing is None:
        return None
    if (existing.customer_id, existing.due_date, existing.lines) != (
        cmd.customer_id,
        cmd.due_date,
        cmd.lines,
    ):
        raise AlreadyExists(
            f"request_id {cmd.request_id!r} was used for order {existing.order_no} with different content"
        )
    return existing


def approve_order(
    cmd: ApproveOrder,
    uow: UowFactory,
    materials: MaterialReservations,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Order:
    """Accept an order waiting for approval: inventory reserves its materials first, then the
    approval is written.

    No lock is held across the remote call: the order is read, inventory reserves (its own
    transaction), then the approval is one write guarded by the version read. If that write
    fails (VersionConflict: someone changed the order meanwhile), the reservation stays: it is of
    the order's revision, and inventory answers the same reservation when the approval is retried
    for that revision (idempotent per order and revision). A change approved meanwhile makes a new
    revision, which inventory adjusts to from order_changed; a cancellation releases it. A refusal
    (short materials, a model without BOM: FailedPrecondition; the WMS down: Unavailable) reaches
    the caller with inventory's message and changes nothing here."""
    caller = identity.current()
    override = _shortage_override(cmd, caller)
    with uow(read_only=True) as tx:
        seen = tx.orders.get(cmd.order_id)
    seen.ensure_version(cmd.expected_version)
    if (
        seen.price_review
        and seen.state is OrderState.PENDING_APPROVAL
        and not caller.roles & {"manager", "admin"}
    ):
        off = "; ".join(
            f"line {d.line_no} {d.product_model}: {d.typed_fen} fen, contract {d.contract_fen} "
            f"({d.percent:+}%)"
            for d in seen.price_deviations
        )
        raise PermissionDenied(
            f"单价偏离合同价，需经理审批 typed prices are off the contract, a manager approves: {off}"
        )
    reservation = None
    if seen.state is OrderState.PENDING_APPROVAL:  # any other state: approve() names it below
        reservation = materials.reserve(seen, override)
        if reservation.short and not reservation.override_reason and override is not None:
            # Inventory answered a reservation it already held, short without an override (made
            # before, then adjusted short by a change): this caller's override accepts it.
            reservation = replace(reservation, override_reason=override.reason, overridden_by=caller.user)
    with uow() as tx:
        # No second read: the update is guarded by the version `seen` was read at, so a change
        # made since (by anyone) fails it with VersionConflict instead of being overwritten.
        tx.orders.attach(seen)
        seen.approve(
            approver=caller.user,
            expected_version=cmd.expected_version or seen.version,
            now=clock(),
            materials=reservation,
        )
        tx.orders.save(seen)
        tx.commit()
        return seen


def _shortage_override(cmd: ApproveOrder, caller: identity.Identity) -> ShortageOverride | None:
    """The override the caller asked for, checked before anything is read or reserved."""
    reason = cmd.override_reason.strip()
    if not cmd.override_shortage:
        if reason:
            raise InvalidArgument(
                "an override reason without an override",
                [FieldViolation("override_reason", "only with override_shortage")],
            )
        return None
    if not reason:
        raise InvalidArgument(
            "缺料接单须写明原因 accepting an order short of materials needs a reason",
            [FieldViolation("override_reason", "required with override_shortage")],
        )
    if not may_accept_shortage(caller):
        raise refuse_shortage_override(caller)
    return ShortageOverride(reason)


@dataclass(frozen=True)
class SubmitOrder:
    order_id: str
    expected_version: int


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    expected_version: int
    reason: str


def _take_step(order_id: str, uow: UowFactory, step: Callable[[Order, str], None]) -> Order:
    """One lifecycle step in one transaction: load, step as the caller, save (version-guarded)."""
    with uow() as tx:
        order = tx.orders.get(order_id)
        step(order, identity.current().user)
        tx.orders.save(order)
        tx.commit()
        return order


def submit_order(cmd: SubmitOrder, uow: UowFactory, clock: Clock = utc_now) -> Order:
    return _take_step(
        cmd.order_id,
        uow,
        lambda o, actor: o.submit(actor=actor, expected_version=cmd.expected_version, now=clock()),
    )


def cancel_order(cmd: CancelOrder, uow: UowFactory, clock: Clock = utc_now) -> Order:
    return _take_step(
        cmd.order_id,
        uow,
        lambda o, actor: o.cancel(
            actor=actor, expected_version=cmd.expected_version, now=clock(), reason=cmd.reason
        ),
    )


def order_history(order_id: str, uow: UowFactory) -> list[Transition]:
    with uow(read_only=True) as tx:
        return tx.orders.history(order_id)


def get_order(order_id: str, uow: UowFactory) -> Order:
    with uow(read_only=True) as tx:
        return tx.orders.get(order_id)


def list_orders(
    query: ListOrders, uow: UowFactory, customers: CustomerDirectory | None = None
) -> tuple[list[Order], str]:
    text = query.text.strip()
    named: list[str] = []
    # Names live with the customer service: it finds the customers, this service their orders. A
    # portal account sees one customer only and may not search customers: numbers alone.
    if text and customers is not None and not identity.current().customer_id:
        named = customers.matching(text)
    with uow(read_only=True) as tx:
        return tx.orders.list(
            state=query.state,
            due_from=query.due_from,
            due_to=query.due_to,
            page_size=page_size(query.page_size, default=50),
            page_token=query.page_token,
            order_no=query.order_no,
            customer_id=query.customer_id,
            channel=query.channel,
            priority=query.priority,
            text=text,
            customer_ids=named,
            request_id=query.request_id,
        )


@dataclass(frozen=True)
class Step:
    """A lifecycle step that needs nothing but the order and the version the caller saw."""

    order_id: str
    expected_version: int


def ship_order(cmd: Step, uow: UowFactory, clock: Clock = utc_now) -> Order:
    return _take_step(
        cmd.order_id,
        uow,
        lambda o, actor: o.ship(actor=actor, expected_version=cmd.expected_version, now=clock()),
    )


def close_order(cmd: Step, uow: UowFactory, clock: Clock = utc_now) -> Order:
    return _take_step(
        cmd.order_id,
        uow,
        lambda o, actor: o.close(actor=actor, expected_version=cmd.expected_version, now=clock()),
    )
