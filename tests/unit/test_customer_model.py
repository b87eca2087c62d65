"""Customers (客户) and their tier (客户分级): A needs both A's years and A's purchases over the
last 12 months (in fen), likewise B; years count in the tenant's calendar from cooperation_since;
purchases age out 12 months after their day. Every change raises the version and is recorded as
an event carrying it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.chassis.errors import FailedPrecondition, InvalidArgument, VersionConflict
from services.customer.domain.model import (
    Contact,
    Customer,
    CustomerCreated,
    CustomerDeactivated,
    CustomerReactivated,
    CustomerTierChanged,
    CustomerUpdated,
    DeliveryAddress,
    MasterData,
    Tier,
    TierThresholds,
)
from services.customer.domain.tiers import RANK, cny, shift_years, window_start, years_between

# The hardware line's rule (tenants/hardware.toml).
HARDWARE = TierThresholds(a_min_years=5, a_min_yearly_cny=3_000_000, b_min_years=2, b_min_yearly_cny=800_000)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)
YUAN = 100  # fen


@pytest.mark.parametrize(
    ("years", "fen", "tier"),
    [
        (5, 3_000_000 * YUAN, Tier.A),  # exactly on both A thresholds
        (4, 3_000_000 * YUAN, Tier.B),  # one year short of A
        (5, 3_000_000 * YUAN - 1, Tier.B),  # one fen short of A
        (20, 100_000_000 * YUAN, Tier.A),
        (2, 800_000 * YUAN, Tier.B),  # exactly on both B thresholds
        (1, 800_000 * YUAN, Tier.C),
        (2, 800_000 * YUAN - 1, Tier.C),
        (30, 799_999 * YUAN, Tier.C),  # years alone do not make a tier
        (1, 50_000_000 * YUAN, Tier.C),  # nor do purchases alone
        (0, 0, Tier.C),
    ],
)
def test_tier_boundaries(years, fen, tier):
    assert HARDWARE.tier_for(years, fen) is tier


thresholds = st.builds(
    lambda b_years, b_cny, extra_years, extra_cny: TierThresholds(
        a_min_years=b_years + extra_years,
        a_min_yearly_cny=b_cny + extra_cny,
        b_min_years=b_years,
        b_min_yearly_cny=b_cny,
    ),
    st.integers(0, 30),
    st.integers(0, 10_000_000),
    st.integers(0, 30),
    st.integers(0, 10_000_000),
)
FEN = st.integers(0, 5_000_000_000)


@given(rule=thresholds, years=st.integers(0, 60), fen=FEN, more_years=st.integers(0, 60), more_fen=FEN)
def test_more_years_or_purchases_never_lower_the_tier(rule, years, fen, more_years, more_fen):
    before = rule.tier_for(years, fen)

    assert RANK[rule.tier_for(years + more_years, fen)] >= RANK[before]
    assert RANK[rule.tier_for(years, fen + more_fen)] >= RANK[before]
    assert RANK[rule.tier_for(years + more_years, fen + more_fen)] >= RANK[before]


@given(rule=thresholds, years=st.integers(0, 60), fen=FEN)
def test_tier_a_means_both_a_thresholds_are_met_in_fen(rule, years, fen):
    meets_a = years >= rule.a_min_years and fen >= rule.a_min_yearly_cny * 100
    assert (rule.tier_for(years, fen) is Tier.A) == meets_a


@pytest.mark.parametrize(
    ("since", "today", "years"),
    [
        (date(2021, 11, 25), date(2026, 11, 25), 5),  # the anniversary itself counts
        (date(2021, 11, 26), date(2026, 11, 25), 4),  # the day before does not
        (date(2026, 11, 25), date(2026, 11, 25), 0),
        (date(2027, 1, 1), date(2026, 11, 25), 0),  # never negative
        (date(2024, 2, 29), date(2025, 2, 28), 0),  # a leap-day start: its anniversary is 1 March
        (date(2024, 2, 29), date(2025, 3, 1), 1),
    ],
)
def test_years_of_cooperation_are_whole_years_in_the_calendar(since, today, years):
    assert years_between(since, today) == years


def test_years_before_today_and_the_twelve_month_window():
    assert shift_years(date(2026, 11, 25), -8) == date(2018, 11, 25)
    assert shift_years(date(2028, 2, 29), -1) == date(2027, 2, 28)
    # a purchase of 25 Nov 2025 counts on 24 Nov 2026 and has aged out on the 25th
    assert date(2025, 11, 25) > window_start(date(2026, 11, 24))
    assert not date(2025, 11, 25) > window_start(date(2026, 11, 25))


def test_amounts_read_in_yuan_with_thousands_separators():
    assert cny(320_000_000) == "¥3,200,000"
    assert cny(320_000_050) == "¥3,200,000.50"
    assert cny(0) == "¥0"


def data(**overrides) -> MasterData:
    base = MasterData(
        name="美的集团顺德基地 Midea Shunde",
        sales_owner="陈丽",
        cooperation_since=date(2020, 3, 1),
        tax_id="91440606MA4UH1XK2E",
        contacts=(Contact("刘敏", "138 0013 8000", "采购 buyer"),),
        addresses=(DeliveryAddress("顺德总部 HQ", "广东省佛山市顺德区北滘镇美的大道6号", "刘敏", "", True),),
    )
    return replace(base, **overrides)


def register(purchases_fen: int = 3_200_000 * YUAN, **overrides) -> Customer:
    return Customer.register(
        customer_id="c-1",
        code="MIDEA-SD",
        data=data(**overrides),
        purchases_12m_fen=purchases_fen,
        rule=HARDWARE,
        today=TODAY,
        now=NOW,
    )


def test_registering_assesses_the_tier_records_why_and_emits_created_at_version_1():
    customer = register()

    assert (customer.tier, customer.years_of_cooperation, customer.version, customer.active) == (
        Tier.A,
        6,
        1,
        True,
    )
    assert customer.events == [
        CustomerCreated("c-1", "MIDEA-SD", "美的集团顺德基地 Midea Shunde", "TIER_A", "陈丽", True, 1)
    ]
    [first] = customer.tier_changes
    assert (first.from_tier, first.to_tier, first.version, first.purchases_12m_fen) == (
        None,
        Tier.A,
        1,
        320_000_000,
    )
    assert "¥3,200,000 ≥ A级门槛 ¥3,000,000" in first.reason and "reached tier A" in first.reason
    assert "¥" not in first.reason_without_amounts and "reached tier A" in first.reason_without_amounts


def test_every_bad_field_is_reported_at_once_and_nothing_is_made():
    with pytest.raises(InvalidArgument) as caught:
        register(
            name="  ",
            tax_id="91440606ma4uh1xk2e",
            cooperation_since=date(2026, 11, 26),
            contacts=(Contact(" ", "13800138000"),),
            addresses=(
                DeliveryAddress("A", "广州", is_default=True),
                DeliveryAddress("B", " ", is_default=True),
            ),
        )
    assert {v.field for v in caught.value.violations} == {
        "name",
        "tax_id",
        "cooperation_since",
        "contacts[0].name",
        "addresses[1].is_default",
        "addresses[1].address",
    }


def test_an_update_replaces_the_fields_raises_the_version_and_reassesses():
    customer = register()
    customer.events.clear()
    customer.tier_changes.clear()

    later = datetime(2026, 11, 26, tzinfo=UTC)
    customer.update(
        data(name="美的集团", cooperation_since=date(2024, 1, 1), contacts=()),
        expected_version=1,
        purchases_12m_fen=3_200_000 * YUAN,
        rule=HARDWARE,
        today=TODAY,
        now=later,
    )

    assert (customer.version, customer.tier, customer.data.contacts, customer.updated_at) == (
        2,
        Tier.B,
        (),
        later,
    )
    assert customer.events == [
        CustomerUpdated("c-1", "MIDEA-SD", "美的集团", "TIER_B", "陈丽", True, 2),
        CustomerTierChanged(
            "c-1",
            "MIDEA-SD",
            "TIER_A",
            "TIER_B",
            "合作 2 年 < A级门槛 5 年 years of cooperation fell below tier A",
            320_000_000,
            2,
            2,
        ),
    ]


def test_a_stale_version_is_a_conflict_and_changes_nothing():
    customer = register()
    before = replace(customer)

    with pytest.raises(VersionConflict):
        customer.update(
            data(name="新名字"),
            expected_version=2,
            purchases_12m_fen=0,
            rule=HARDWARE,
            today=TODAY,
            now=NOW,
        )
    with pytest.raises(VersionConflict):
        customer.deactivate(reason="停止合作", expected_version=0, actor="陈丽", now=NOW)
    assert customer == before and customer.version == 1


def test_deactivate_then_reactivate_each_raise_the_version_once():
    customer = register()
    customer.events.clear()

    customer.deactivate(reason="停止合作 cooperation ended", expected_version=1, actor="陈丽", now=NOW)
    with pytest.raises(FailedPrecondition):
        customer.deactivate(reason="again", expected_version=2, actor="陈丽", now=NOW)
    customer.reactivate(expected_version=2, actor="王经理", now=NOW)
    with pytest.raises(FailedPrecondition):
        customer.reactivate(expected_version=3, actor="王经理", now=NOW)

    assert (customer.active, customer.version, customer.deactivation_reason) == (True, 3, "")
    assert customer.events == [
        CustomerDeactivated("c-1", "MIDEA-SD", 2, "停止合作 cooperation ended", "陈丽"),
        CustomerReactivated("c-1", "MIDEA-SD", 3, "王经理"),
    ]


def test_reassessing_a_tier_change_raises_the_version_numbers_alone_do_not():
    customer = register(purchases_fen=3_000_000 * YUAN)
    customer.events.clear()
    customer.tier_changes.clear()

    # more purchases, same tier: stored numbers change, no version, no event
    assert customer.reassess(purchases_12m_fen=3_100_000 * YUAN, rule=HARDWARE, today=TODAY, now=NOW)
    assert (customer.version, customer.events, customer.purchases_12m_fen) == (1, [], 310_000_000)
    # nothing moved at all
    assert not customer.reassess(purchases_12m_fen=3_100_000 * YUAN, rule=HARDWARE, today=TODAY, now=NOW)
    # the opening balance aged out: tier A -> C, one version up, one event
    assert customer.reassess(purchases_12m_fen=0, rule=HARDWARE, today=TODAY, now=NOW)
    assert customer.version == 2
    assert customer.events == [
        CustomerTierChanged(
            "c-1",
            "MIDEA-SD",
            "TIER_A",
            "TIER_C",
            "近12个月采购额 ¥0 < B级门槛 ¥800,000 purchases over the last 12 months fell below tier B",
            0,
            6,
            2,
        )
    ]
    [change] = customer.tier_changes
    assert change.reason_without_amounts == (
        "近12个月采购额低于B级门槛 purchases over the last 12 months fell below tier B"
    )


def test_years_growing_past_the_threshold_lifts_the_tier():
    customer = register(cooperation_since=date(2021, 11, 26), purchases_fen=3_500_000 * YUAN)
    assert customer.tier is Tier.B  # 4 years on 25 Nov 2026
    customer.events.clear()

    assert customer.reassess(
        purchases_12m_fen=3_500_000 * YUAN, rule=HARDWARE, today=date(2026, 11, 26), now=NOW
    )
    assert customer.tier is Tier.A and customer.years_of_cooperation == 5
    [event] = customer.events
    assert event.reason == (
        "近12个月采购额 ¥3,500,000 ≥ A级门槛 ¥3,000,000，合作 5 年 ≥ 5 年 "
        "purchases over the last 12 months and years of cooperation reached tier A"
    )
