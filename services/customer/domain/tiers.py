"""The tier rule (客户分级 A/B/C) and why a tier changed. Pure Python.

A tier comes from two numbers, both in the tenant's calendar: whole years of cooperation since
the customer's first day, and purchases over the last 12 months (orders shipped, plus an opening
balance at registration), in integer fen. Tier A needs both of A's thresholds, likewise B.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Tier(StrEnum):
    A = "TIER_A"
    B = "TIER_B"
    C = "TIER_C"

    @property
    def letter(self) -> str:
        return self.value.removeprefix("TIER_")


RANK = {Tier.C: 0, Tier.B: 1, Tier.A: 2}
FEN_PER_CNY = 100


@dataclass(frozen=True)
class TierThresholds:
    """A tenant's [customer_tiers]: thresholds in whole years and CNY per 12 months."""

    a_min_years: int
    a_min_yearly_cny: int
    b_min_years: int
    b_min_yearly_cny: int

    def minimums(self, tier: Tier) -> tuple[int, int]:
        """(years, purchases in fen) a tier needs; tier C needs nothing."""
        if tier is Tier.A:
            return self.a_min_years, self.a_min_yearly_cny * FEN_PER_CNY
        if tier is Tier.B:
            return self.b_min_years, self.b_min_yearly_cny * FEN_PER_CNY
        return 0, 0

    def tier_for(self, years_of_cooperation: int, purchases_12m_fen: int) -> Tier:
        for tier in (Tier.A, Tier.B):
            min_years, min_fen = self.minimums(tier)
            if years_of_cooperation >= min_years and purchases_12m_fen >= min_fen:
                return tier
        return Tier.C


def shift_years(day: date, years: int) -> date:
    """The same day `years` later (negative: earlier); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def years_between(since: date, today: date) -> int:
    """Whole years of cooperation completed by `today` (0 before the first anniversary)."""
    years = today.year - since.year - ((today.month, today.day) < (since.month, since.day))
    return max(years, 0)


def window_start(today: date) -> date:
    """Purchases dated after this day count as "the last 12 months": one made on 25 Nov 2025
    counts up to 24 Nov 2026 and has aged out on the 25th."""
    return shift_years(today, -1)


@dataclass(frozen=True)
class Assessment:
    tier: Tier
    years_of_cooperation: int
    purchases_12m_fen: int


def assess(rule: TierThresholds, since: date, today: date, purchases_12m_fen: int) -> Assessment:
    years = years_between(since, today)
    return Assessment(rule.tier_for(years, purchases_12m_fen), years, purchases_12m_fen)


def cny(fen: int) -> str:
    """¥3,200,000 (whole yuan) or ¥3,200,000.50."""
    yuan, rest = divmod(fen, FEN_PER_CNY)
    return f"¥{yuan:,}" + (f".{rest:02d}" if rest else "")


@dataclass(frozen=True)
class Reason:
    """Why a tier changed, in Chinese and English: with the amounts (for staff who see prices
    and for events) and without them (for everyone else)."""

    text: str
    without_amounts: str


def explain(before: Tier | None, after: Assessment, rule: TierThresholds) -> Reason:
    """The conditions that decided the move: going up (or at registration), the new tier's
    thresholds that were met; going down, those of the tier just above the new one that are no
    longer met."""
    if before is None or RANK[after.tier] > RANK[before]:
        return _reached(after, rule, registered=before is None)
    return _fell_below(after, rule)


def _reached(a: Assessment, rule: TierThresholds, registered: bool) -> Reason:
    letter = a.tier.letter
    if a.tier is Tier.C:  # registration below tier B: say what B would need
        _, min_fen = rule.minimums(Tier.B)
        min_years, _ = rule.minimums(Tier.B)
        zh = f"登记评定为C级：近12个月采购额 {cny(a.purchases_12m_fen)}，合作 {a.years_of_cooperation} 年"
        zh_bare = f"登记评定为C级：合作 {a.years_of_cooperation} 年"
        en = "assessed at registration as tier C"
        return Reason(
            f"{zh}（B级门槛 {cny(min_fen)}、{min_years} 年） {en}",
            f"{zh_bare}（B级门槛 {min_years} 年） {en}",
        )
    min_years, min_fen = rule.minimums(a.tier)
    prefix = "登记评定：" if registered else ""
    zh = (
        f"{prefix}近12个月采购额 {cny(a.purchases_12m_fen)} ≥ {letter}级门槛 {cny(min_fen)}，"
        f"合作 {a.years_of_cooperation} 年 ≥ {min_years} 年"
    )
    zh_bare = f"{prefix}近12个月采购额达到{letter}级门槛，合作 {a.years_of_cooperation} 年 ≥ {min_years} 年"
    en = f"purchases over the last 12 months and years of cooperation reached tier {letter}"
    if registered:
        en += " at registration"
    return Reason(f"{zh} {en}", f"{zh_bare} {en}")


def _fell_below(a: Assessment, rule: TierThresholds) -> Reason:
    above = Tier.A if a.tier is Tier.B else Tier.B
    letter = above.letter
    min_years, min_fen = rule.minimums(above)
    zh, zh_bare, en = [], [], []
    if a.purchases_12m_fen < min_fen:
        zh.append(f"近12个月采购额 {cny(a.purchases_12m_fen)} < {letter}级门槛 {cny(min_fen)}")
        zh_bare.append(f"近12个月采购额低于{letter}级门槛")
        en.append("purchases over the last 12 months")
    if a.years_of_cooperation < min_years:
        years = f"合作 {a.years_of_cooperation} 年 < {letter}级门槛 {min_years} 年"
        zh.append(years)
        zh_bare.append(years)
        en.append("years of cooperation")
    english = f"{' and '.join(en)} fell below tier {letter}"
    return Reason(f"{'，'.join(zh)} {english}", f"{'，'.join(zh_bare)} {english}")
