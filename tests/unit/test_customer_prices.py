"""Contract prices (合同价): windows within one scope and model never overlap (every overlap is
named), and a customer's own entry wins over its tier's on the day asked."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.chassis.errors import InvalidArgument
from services.customer.domain.prices import ContractPrice, PriceScope, PriceSource, check_entry, resolve
from services.customer.domain.tiers import Tier

CUSTOMER = PriceScope(customer_id="c-1")
TIER_A = PriceScope(tier=Tier.A)
AT = datetime(2026, 11, 25, tzinfo=UTC)


def entry(scope, model, fen, start, end=None, entry_id="p") -> ContractPrice:
    return ContractPrice(entry_id, scope, model, fen, start, end, "王经理", AT)


H1 = entry(CUSTOMER, "HB-2040", 85, date(2026, 1, 1), date(2026, 6, 30), "h1")
H2 = entry(CUSTOMER, "HB-2040", 90, date(2026, 7, 1), None, "h2")


def test_a_scope_is_one_customer_or_one_tier():
    with pytest.raises(ValueError):
        PriceScope()
    with pytest.raises(ValueError):
        PriceScope(customer_id="c-1", tier=Tier.A)
    assert (CUSTOMER.key, TIER_A.key) == ("c-1", "TIER_A")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 6, 30), date(2026, 6, 30)),  # the last day of H1
        (date(2025, 1, 1), date(2026, 1, 1)),  # ends on H1's first day
        (date(2025, 1, 1), None),  # open-ended over both
        (date(2027, 3, 1), None),  # inside the open-ended H2
    ],
)
def test_an_overlapping_window_is_refused_naming_the_entry_it_overlaps(start, end):
    with pytest.raises(InvalidArgument) as caught:
        check_entry(entry(CUSTOMER, "HB-2040", 80, start, end), [H1, H2])
    fields = [v.field for v in caught.value.violations]
    assert set(fields) == {"valid_from"}
    assert any(
        "2026-01-01 – 2026-06-30" in v.description or "2026-07-01 – 长期 open" in v.description
        for v in caught.value.violations
    )


def test_adjacent_windows_and_the_replaced_entry_are_no_overlap():
    check_entry(entry(CUSTOMER, "HB-2040", 80, date(2025, 1, 1), date(2025, 12, 31)), [H1, H2])
    check_entry(entry(CUSTOMER, "HB-2040", 88, date(2026, 1, 1), date(2026, 6, 30)), [H1, H2])  # same start


def test_a_window_ending_before_it_starts_and_an_overlap_are_reported_together():
    with pytest.raises(InvalidArgument) as caught:
        check_entry(entry(CUSTOMER, "HB-2040", 80, date(2026, 5, 1), date(2026, 4, 30)), [H1])
    assert [v.field for v in caught.value.violations] == ["valid_to", "valid_from"]


def test_the_customers_own_price_wins_over_its_tiers_on_the_day_asked():
    of_tier = [
        entry(TIER_A, "HB-2040", 99, date(2026, 1, 1)),
        entry(TIER_A, "BK-310", 40, date(2026, 1, 1), date(2026, 12, 31)),
    ]
    found = resolve(["HB-2040", "BK-310", "SP-08"], [H1, H2], of_tier, date(2026, 6, 30))
    assert [(r.product_model, r.source, r.entry and r.entry.unit_price_fen) for r in found] == [
        ("HB-2040", PriceSource.CUSTOMER, 85),
        ("BK-310", PriceSource.TIER, 40),
        ("SP-08", None, None),
    ]
    later = resolve(["HB-2040", "BK-310"], [H1, H2], of_tier, date(2027, 1, 1))
    assert [(r.source, r.entry and r.entry.unit_price_fen) for r in later] == [
        (PriceSource.CUSTOMER, 90),
        (None, None),  # the tier's BK-310 price ended on 31 Dec
    ]
