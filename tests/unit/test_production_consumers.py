"""production's entry point for order_approved: the contract in, production's terms out; a
message no retry can fix is reported as malformed (dead-lettered at once)."""

from __future__ import annotations

import pytest

from services.chassis.events import MalformedEvent, ReceivedEvent
from services.production.consumers import approved_order_from


def event(**data) -> ReceivedEvent:
    return ReceivedEvent("e-1", "order_approved", "hardware", "order", "2026-11-25T01:00:00+00:00", data)


LINES = [
    {"product_model": "HB-2040", "quantity": 300, "workshop": "stamping-1", "colour": "银色 silver"},
    {"product_model": "BK-310", "quantity": 20, "workshop": "assembly"},
]


def test_lines_keep_their_workshop():
    order = approved_order_from(
        event(order_id="o-1", order_no="HW-20261125-00001", due_date="2026-12-20", lines=LINES)
    )
    assert [(shop, line.product_model, line.quantity) for shop, line in order.lines] == [
        ("stamping-1", "HB-2040", 300),
        ("assembly", "BK-310", 20),
    ]
    assert order.lines[0][1].colour == "银色 silver"
    assert str(order.due_date) == "2026-12-20"


@pytest.mark.parametrize(
    "bad",
    [
        {"order_id": "o-1", "order_no": "n", "due_date": "2026-02-30", "lines": LINES},  # no such day
        {"order_id": "o-1", "order_no": "n", "due_date": "2026-12-20", "lines": []},  # nothing to make
        {"order_no": "n", "due_date": "2026-12-20", "lines": LINES},  # no order id
        {"order_id": "o-1", "due_date": "2026-12-20", "lines": "not a list"},  # breaks the contract
    ],
)
def test_events_no_retry_can_fix_are_malformed(bad):
    with pytest.raises(MalformedEvent):
        approved_order_from(event(**bad))
