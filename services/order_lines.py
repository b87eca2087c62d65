"""The order lines an order event carries, held to the order contract's limits by every service
that reads them (production makes work orders of them, inventory reserves for them): one check,
so a payload past the limits is refused alike everywhere.

A line past the limits (OrderLine, CreateOrderRequest.lines in protos/oms/order/v1/order.proto)
was not written by the order service: acting on it would only spread the damage (a negative
quantity would release what an order still needs), so the event is malformed and dead-lettered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from oms.order.v1 import order_pb2
from services.chassis.events import MalformedEvent, ReceivedEvent

MAX_LINES = 200
MAX_QUANTITY = 10_000_000


def checked_lines(
    event: ReceivedEvent, lines: Iterable[order_pb2.OrderLine]
) -> Sequence[order_pb2.OrderLine]:
    """The event's lines, each with a model and a quantity of 1..MAX_QUANTITY, at most MAX_LINES."""
    lines = list(lines)
    if len(lines) > MAX_LINES:
        raise MalformedEvent(
            f"{event.event_type} {event.event_id} has {len(lines)} lines (at most {MAX_LINES})"
        )
    for x in lines:
        if not x.product_model or not 0 < x.quantity <= MAX_QUANTITY:
            raise MalformedEvent(
                f"{event.event_type} {event.event_id}: line {x.line_no} has model {x.product_model[:64]!r} "
                f"and quantity {x.quantity} (a model, and 1-{MAX_QUANTITY})"
            )
    return lines
