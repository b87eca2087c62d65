"""Event entry points of batch merging: order_approved records the order's configurations and
merges; order_cancelled (and an approved change that cancels the order) takes it out again. The
order contract in, production's terms out; a message no retry can fix is MalformedEvent."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime

from oms.order.v1 import order_pb2
from services.chassis.consumer import Handler, Subscription
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.chassis.tenants import tenant_file
from services.order_lines import checked_lines
from services.production.consumers import approved_message
from services.production.domain.batching import Configuration, LineDemand
from services.production.service_layer import batching
from services.production.service_layer.batching import ApprovalForBatching, MergePolicy, PolicyOf
from services.production.service_layer.unit_of_work import ProductionUnitOfWork


def approval_from(event: ReceivedEvent) -> ApprovalForBatching:
    msg = approved_message(event)
    if not msg.order_id or not msg.order_no or not msg.lines:
        raise MalformedEvent(f"order_approved {event.event_id} has no order id, number or lines")
    try:
        due = date.fromisoformat(msg.due_date)
    except ValueError:
        raise MalformedEvent(f"order_approved {event.event_id} has due_date {msg.due_date!r}") from None
    return ApprovalForBatching(
        order_id=msg.order_id,
        order_no=msg.order_no,
        customer_id=msg.customer_id,
        priority=_priority(msg.priority),
        # The moment of approval is the event's: the envelope's time, checked as RFC 3339 on arrival.
        approved_at=datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00")),
        due_date=due,
        lines=_demands(msg.lines, event),
    )


def approved_version(event: ReceivedEvent) -> tuple[str, int]:
    msg = approved_message(event)
    if not msg.order_id or msg.version < 1:
        raise MalformedEvent(f"order_approved {event.event_id} has no order id or version")
    return msg.order_id, msg.version


def merge_batches(policy_of: PolicyOf) -> Handler:
    def handle(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
        batching.record_approval(approval_from(event), policy_of(event.tenant_id), uow)

    return handle


def leave_batches(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
    """order.order_cancelled -> the order leaves its open groups and batches."""
    msg = event.as_proto(order_pb2.OrderCancelled)
    if not msg.order_id:
        raise MalformedEvent(f"order_cancelled {event.event_id} has no order id")
    batching.cancel_order(msg.order_id, msg.reason or "订单取消 order cancelled", uow)


def follow_changes(policy_of: PolicyOf) -> Handler:
    """order.order_changed: a change that cancels the order is a cancellation (the order_cancelled
    that follows then changes nothing); any other approved change is followed (its configurations
    and quantities; a configuration it dropped leaves its group or batch)."""

    def handle(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
        msg = event.as_proto(order_pb2.OrderChanged)
        if not msg.order_id:
            raise MalformedEvent(f"order_changed {event.event_id} has no order id")
        reason = msg.reason or "订单变更 order changed"
        if msg.cancels_order:
            batching.cancel_order(msg.order_id, reason, uow)
            return
        if not msg.lines:
            raise MalformedEvent(f"order_changed {event.event_id} keeps the order but has no lines")
        try:
            due = date.fromisoformat(msg.due_date)
        except ValueError:
            raise MalformedEvent(f"order_changed {event.event_id} has due_date {msg.due_date!r}") from None
        revised = ApprovalForBatching(
            order_id=msg.order_id,
            order_no=msg.order_no,
            customer_id=msg.customer_id,
            priority=_priority(msg.priority),
            approved_at=datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00")),  # not used
            due_date=due,
            lines=_demands(msg.lines, event),
        )
        batching.revise_order(revised, policy_of(event.tenant_id), uow, reason)

    return handle


def _priority(value: int) -> str:
    """The priority's enum name, as rules compare it ("PRIORITY_HIGH"); a number this contract
    does not know yet reads as unspecified rather than failing the event."""
    return order_pb2.Priority.Name(value) if value in order_pb2.Priority.values() else "PRIORITY_UNSPECIFIED"


def _demands(lines: Iterable[order_pb2.OrderLine], event: ReceivedEvent) -> list[LineDemand]:
    checked = checked_lines(event, lines)  # the order contract's limits, as the core holds them
    if any(x.unit_price_fen < 0 for x in checked):
        raise MalformedEvent(f"{event.event_type} {event.event_id} has a line with a negative price")
    return [
        LineDemand(
            Configuration(x.product_model, x.surface_treatment, x.colour, x.packaging),
            x.quantity,
            x.unit_price_fen,
        )
        for x in checked
    ]


def with_batching(core: Sequence[Subscription], policy_of: PolicyOf) -> list[Subscription]:
    """The service's subscriptions with batch merging added. A service consumes each event type
    through ONE subscription (the consumer routes by exchange and type; one queue per service), so
    where the work-order core already consumes an event, batching runs after it in the same unit
    of work (one inbox claim, one commit: both happen or neither); where it does not, batching
    gets a subscription of its own."""
    mine: dict[str, Handler] = {
        "order_approved": merge_batches(policy_of),
        "order_cancelled": leave_batches,
        "order_changed": follow_changes(policy_of),
    }
    out = []
    for sub in core:
        extra = mine.pop(sub.event_type, None) if sub.source == "order" else None
        out.append(sub if extra is None else replace(sub, handler=_chain(sub.handler, extra)))
    out += [
        Subscription(
            "order",
            event_type,
            handler,
            name=_OWN_NAMES[event_type],
            version_of=approved_version if event_type == "order_approved" else None,
        )
        for event_type, handler in mine.items()
    ]
    return out


_OWN_NAMES = {
    "order_approved": "merge_batches",
    "order_cancelled": "leave_batches_on_cancel",
    "order_changed": "leave_batches_on_change",
}


def _chain(first: Handler, then: Handler) -> Handler:
    def handle(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
        first(event, uow)
        then(event, uow)

    return handle


@functools.cache
def tenant_files_policy(tenant_id: str) -> MergePolicy:
    """The tenant file's merge policy, compiled once (tests and tools that build subscriptions
    alone; the service reads it from its context)."""
    return batching.policy_of(tenant_file(tenant_id))
