"""Availability: what can be promised is on hand minus reserved, never below zero."""

from __future__ import annotations

from services.inventory.domain.model import Availability, StockLevel, check_availability

LEVELS = {
    "HB-2040": StockLevel("HB-2040", on_hand=1000, reserved=300),
    "SB-55": StockLevel("SB-55", on_hand=50),
    "SR-10": StockLevel("SR-10", on_hand=10, reserved=40),  # over-reserved
}


def test_reserved_stock_is_not_available():
    assert check_availability({"HB-2040": 700}, LEVELS) == [Availability("HB-2040", 700, 700)]


def test_one_more_than_available_is_insufficient():
    [answer] = check_availability({"HB-2040": 701}, LEVELS)

    assert answer.available == 700
    assert not answer.sufficient


def test_exactly_available_is_sufficient():
    [answer] = check_availability({"SB-55": 50}, LEVELS)

    assert answer.sufficient


def test_a_model_the_wms_does_not_know_has_nothing_available():
    [answer] = check_availability({"XX-404": 1}, LEVELS)

    assert answer == Availability("XX-404", 1, 0)
    assert not answer.sufficient


def test_over_reservation_shows_zero_not_a_negative_number():
    assert StockLevel("SR-10", on_hand=10, reserved=40).available == 0


def test_one_answer_per_requested_model_in_request_order():
    answers = check_availability({"SB-55": 60, "XX-404": 5, "HB-2040": 1}, LEVELS)

    assert [(a.product_model, a.requested, a.available, a.sufficient) for a in answers] == [
        ("SB-55", 60, 50, False),
        ("XX-404", 5, 0, False),
        ("HB-2040", 1, 700, True),
    ]
