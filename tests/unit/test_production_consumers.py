"""production's entry point for order_approved: the contract in, production's terms out; a
message no retry can fix is reported as malformed (dead-lettered at once)."""

from __future__ import annotations

import pytest

from services.chassis.events import MalformedEvent, ReceivedEvent
from services.production.consumers import approved_order_from, changed_order_from


def event(**data) -> ReceivedEvent:
    return ReceivedEvent("e-1", "order_approved", "hardware", "order", "2026-11-25T01:00:00+00:00", data)


LINES = [
    {"product_model": "HB-2040", "quantity": 300, "workshop": "stamping-1", "colour": "银色 silver"},
    {"product_model": "BK-310", "quantity": 20, "workshop": "assembly"},
]


def test_lines_keep_their_route_and_a_line_without_one_is_made_where_it_says():
    order = approved_order_from(
        event(
            order_id="o-1",
            order_no="HW-20261125-00001",
            due_date="2026-12-20",
            lines=[
                {**LINES[0], "route": ["stamping-1", "plating", "assembly"], "packaging": "纸箱"},
                LINES[1],
            ],
        )
    )
    assert [(x.route, x.line.product_model, x.line.quantity) for x in order.lines] == [
        (("stamping-1", "plating", "assembly"), "HB-2040", 300),
        (("assembly",), "BK-310", 20),
    ]
    assert (order.lines[0].line.colour, order.lines[0].line.packaging) == ("银色 silver", "纸箱")
    assert str(order.due_date) == "2026-12-20"


def test_a_change_carries_revision_change_and_lines():
    content, cancels = changed_order_from(
        ReceivedEvent(
            "e-2",
            "order_changed",
            "hardware",
            "order",
            "2026-11-25T01:00:00+00:00",
            {
                "order_id": "o-1",
                "order_no": "HW-20261125-00001",
                "version": 5,
                "revision": 2,
                "change_id": "c-1",
                "due_date": "2026-12-24",
                "lines": LINES,
            },
        )
    )
    assert (content.version, content.revision, content.change_id, cancels) == (5, 2, "c-1", False)
    assert [x.route for x in content.lines] == [("stamping-1",), ("assembly",)]


@pytest.mark.parametrize(
    "bad",
    [
        {"order_id": "o-1", "order_no": "n", "due_date": "2026-02-30", "lines": LINES},  # no such day
        {"order_id": "o-1", "order_no": "n", "due_date": "2026-12-20", "lines": []},  # nothing to make
        {"order_no": "n", "due_date": "2026-12-20", "lines": LINES},  # no order id
        {"order_id": "o-1", "due_date": "2026-12-20", "lines": "not a list"},  # breaks the contract
        {"order_id": "o-1", "order_no": "n", "due_date": "2026-12-20", "lines": [{"product_model": "X"}]},
    ],
)
def test_events_no_retry_can_fix_are_malformed(bad):
    with pytest.raises(MalformedEvent):
        approved_order_from(event(**bad))
