"""Customer tiers (客户分级): A needs both the years and the purchases, likewise B."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.customer.domain.model import Customer, CustomerCreated, Tier, TierThresholds

# The hardware line's rule (tenants/hardware.toml).
HARDWARE = TierThresholds(a_min_years=5, a_min_yearly_cny=3_000_000, b_min_years=2, b_min_yearly_cny=800_000)


@pytest.mark.parametrize(
    ("years", "cny", "tier"),
    [
        (5, 3_000_000, Tier.A),  # exactly on both A thresholds
        (4, 3_000_000, Tier.B),  # one year short of A
        (5, 2_999_999, Tier.B),  # one yuan short of A
        (20, 100_000_000, Tier.A),
        (2, 800_000, Tier.B),  # exactly on both B thresholds
        (1, 800_000, Tier.C),
        (2, 799_999, Tier.C),
        (30, 799_999, Tier.C),  # years alone do not make a tier
        (1, 50_000_000, Tier.C),  # nor do purchases alone
        (0, 0, Tier.C),
    ],
)
def test_tier_boundaries(years, cny, tier):
    assert HARDWARE.tier_for(years, cny) is tier


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
RANK = {Tier.C: 0, Tier.B: 1, Tier.A: 2}


@given(
    rule=thresholds,
    years=st.integers(0, 60),
    cny=st.integers(0, 50_000_000),
    more_years=st.integers(0, 60),
    more_cny=st.integers(0, 50_000_000),
)
def test_more_years_or_purchases_never_lower_the_tier(rule, years, cny, more_years, more_cny):
    before = rule.tier_for(years, cny)

    assert RANK[rule.tier_for(years + more_years, cny)] >= RANK[before]
    assert RANK[rule.tier_for(years, cny + more_cny)] >= RANK[before]
    assert RANK[rule.tier_for(years + more_years, cny + more_cny)] >= RANK[before]


@given(rule=thresholds, years=st.integers(0, 60), cny=st.integers(0, 50_000_000))
def test_tier_a_means_both_a_thresholds_are_met(rule, years, cny):
    meets_a = years >= rule.a_min_years and cny >= rule.a_min_yearly_cny
    assert (rule.tier_for(years, cny) is Tier.A) == meets_a


def test_registering_a_customer_sets_its_tier_and_records_the_event():
    customer = Customer.register(
        customer_id="c-9",
        code="MIDEA-FS",
        name="美的佛山",
        years_of_cooperation=3,
        yearly_purchases_cny=1_200_000,
        sales_owner="吴晓燕",
        thresholds=HARDWARE,
        now=datetime(2026, 11, 25, tzinfo=UTC),
    )

    assert customer.tier is Tier.B
    assert customer.events == [CustomerCreated("c-9", "MIDEA-FS", "美的佛山", "TIER_B", "吴晓燕")]
