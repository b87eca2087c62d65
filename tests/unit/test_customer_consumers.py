"""The customer service's entry point for order_shipped: the contract in, a shipment out; a
message no retry can fix is reported as malformed (dead-lettered at once)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.chassis.events import MalformedEvent, ReceivedEvent
from services.customer.consumers import order_version, shipment_from
from services.customer.service_layer.tiers import RecordShipment

GOOD = {
    "order_id": "o-1",
    "order_no": "HW-20261125-00001",
    "customer_id": "c-1",
    "version": 7,
    "amount_fen": "320000000",  # int64 travels as a JSON string in proto3 JSON
    "shipped_by": "仓库 张三",
    "shipped_at": "2026-11-25T08:30:00+00:00",
}


def event(**data) -> ReceivedEvent:
    return ReceivedEvent("e-1", "order_shipped", "hardware", "order", "2026-11-25T08:30:01+00:00", data)


def test_a_shipment_is_read_through_the_contract():
    assert shipment_from(event(**GOOD)) == RecordShipment(
        "o-1", "HW-20261125-00001", "c-1", 320_000_000, datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    )
    assert order_version(event(**GOOD)) == ("o-1", 7)


def test_unknown_fields_are_ignored():
    assert shipment_from(event(**GOOD, carrier="顺丰")).amount_fen == 320_000_000


@pytest.mark.parametrize(
    "broken",
    [
        {"order_id": ""},
        {"customer_id": ""},
        {"amount_fen": "-1"},
        {"amount_fen": "12.5"},
        {"shipped_at": "2026-11-25 08:30"},  # no offset: which zone?
        {"shipped_at": "yesterday"},
        {"shipped_at": "2" * 100},
        {"version": "seven"},
    ],
)
def test_what_no_retry_can_fix_is_malformed(broken):
    with pytest.raises(MalformedEvent):
        shipment_from(event(**{**GOOD, **broken}))


def test_an_event_without_a_version_is_malformed_for_the_version_check():
    with pytest.raises(MalformedEvent):
        order_version(event(**{**GOOD, "version": 0}))
