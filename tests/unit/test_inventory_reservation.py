"""The reservation domain: material needs in exact millionths, shortfalls and their message,
adjusting by the difference, freeze/issue/release rules, and the events each step records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bom import MaterialLine
from services.chassis.errors import FailedPrecondition
from services.chassis.tenants import load_tenants
from services.inventory.domain.quantity import SCALE, exact, shown, text
from services.inventory.domain.reservation import (
    IssueInProgress,
    MaterialsIssued,
    MaterialsReleased,
    Need,
    Reservation,
    ReservationAdjusted,
    ReservationLine,
    ReservationState,
    Shortfall,
    adjustment,
    material_needs,
    models_without_bom,
    short_message,
    shortfalls,
)

HW = load_tenants(("hardware",))["hardware"]
STEEL, SILVER, GOLD = (
    "SPCC 冷轧钢板 cold-rolled steel",
    "镀银液 silver plating solution",
    "镀金液 gold plating solution",
)
HINGE = "HB-2040 铰链 hinge"
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_needs_are_exact_millionths_summed_per_material():
    lines = [MaterialLine(HINGE, 5000, "银色 silver"), MaterialLine("BK-310 支架 bracket", 3)]
    assert material_needs(HW.bom, lines) == {
        STEEL: Need(STEEL, "kg", exact(600) + exact(1.05)),  # 0.12 × 5000 + 0.35 × 3
        SILVER: Need(SILVER, "L", 10 * SCALE),  # 0.002 × 5000 = 10 exactly, not 9.999999
    }


def test_a_model_without_a_bom_is_named_once():
    lines = [MaterialLine("XX-1", 1), MaterialLine(HINGE, 1, "银色 silver"), MaterialLine("XX-1", 2)]
    assert models_without_bom(HW.bom, lines) == ["XX-1"]


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_text_and_shown_say_the_same_number(millionths):
    assert float(text(millionths)) == pytest.approx(shown(millionths))
    assert exact(shown(millionths)) == millionths


def test_shortfalls_name_every_short_material_in_order_with_what_is_available():
    wanted = {
        GOLD: Need(GOLD, "L", exact(12)),
        STEEL: Need(STEEL, "kg", exact(600)),
        SILVER: Need(SILVER, "L", 1),
    }
    found = shortfalls(wanted, {GOLD: exact(11.5), STEEL: exact(600), SILVER: -5})
    assert found == [Shortfall(GOLD, "L", exact(12), exact(11.5)), Shortfall(SILVER, "L", 1, 0)]
    assert short_message(found) == (
        "材料不足 materials short: 镀金液 gold plating solution needs 12 L, 11.5 available; "
        "镀银液 silver plating solution needs 0.000001 L, 0 available"
    )


def reservation(*lines: ReservationLine) -> Reservation:
    return Reservation(
        "r-1",
        "o-1",
        "HW-20261126-00001",
        "c-1",
        1,
        6_000_000,
        "PRIORITY_NORMAL",
        [],
        NOW,
        NOW,
        {x.material: x for x in lines},
    )


def test_adjustment_holds_the_difference_and_never_reissues_what_was_issued():
    lines = {
        STEEL: ReservationLine(STEEL, "kg", exact(600), exact(400), exact(200)),
        SILVER: ReservationLine(SILVER, "L", exact(10), exact(10)),
    }
    wanted = {STEEL: Need(STEEL, "kg", exact(720)), GOLD: Need(GOLD, "L", exact(12))}
    assert adjustment(lines, wanted) == {
        STEEL: exact(120),  # 720 needed - 200 issued = 520 to hold, 400 held
        SILVER: -exact(10),  # no longer needed: all given back
        GOLD: exact(12),
    }
    # less needed than already issued: hold nothing, give nothing back that left the warehouse
    assert adjustment(lines, {STEEL: Need(STEEL, "kg", exact(100))}) == {
        STEEL: -exact(400),
        SILVER: -exact(10),
    }


@given(
    st.dictionaries(
        st.sampled_from([STEEL, SILVER, GOLD]),
        st.tuples(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9)),
    ),
    st.dictionaries(st.sampled_from([STEEL, SILVER, GOLD]), st.integers(0, 10**9)),
)
def test_after_an_adjustment_each_material_holds_its_need_less_what_was_issued(held, need):
    lines = {m: ReservationLine(m, "kg", n, r, i) for m, (n, r, i) in held.items()}
    wanted = {m: Need(m, "kg", q) for m, q in need.items()}
    deltas = adjustment(lines, wanted)
    for m in lines.keys() | wanted.keys():
        after = (lines[m].reserved if m in lines else 0) + deltas.get(m, 0)
        issued = lines[m].issued if m in lines else 0
        assert after == max(need.get(m, 0) - issued, 0)


def test_an_adjustment_that_meets_too_little_stock_records_the_shortfall_and_the_moves():
    res = reservation(ReservationLine(SILVER, "L", exact(10), exact(10)))
    wanted = {GOLD: Need(GOLD, "L", exact(12))}
    gold_line = [MaterialLine(HINGE, 6000, "金色 gold")]
    res.adjusted(2, wanted, {SILVER: (-exact(10), 0), GOLD: (exact(8), exact(8))}, gold_line, NOW)

    assert (res.revision, res.order_lines, res.short, res.wms_synced, res.ledger_version) == (
        2,
        gold_line,
        True,
        False,
        2,
    )
    [event] = res.events
    assert event == ReservationAdjusted(
        "r-1",
        "o-1",
        "HW-20261126-00001",
        "c-1",
        2,
        1,
        [
            {"material": GOLD, "unit": "L", "needed": 12.0, "reserved": 8.0, "issued": 0.0, "short": 4.0},
            {"material": SILVER, "unit": "L", "needed": 0.0, "reserved": 0.0, "issued": 0.0, "short": 0.0},
        ],
        [{"material": SILVER, "unit": "L", "needed": 0.0, "reserved": 10.0, "issued": 0.0, "short": 0.0}],
        [{"material": GOLD, "unit": "L", "needed": 12.0, "reserved": 8.0, "issued": 0.0, "short": 0.0}],
        True,
    )


def test_a_frozen_reservation_refuses_issue_until_unfrozen():
    res = reservation(ReservationLine(STEEL, "kg", exact(600), exact(600)))
    assert res.freeze(NOW) and not res.freeze(NOW)
    with pytest.raises(FailedPrecondition, match="变更待审批，暂停领料 a change is pending: no issue"):
        res.to_issue()
    assert res.unfreeze(NOW) and not res.unfreeze(NOW)
    assert res.to_issue() == {STEEL: exact(600)}

    res.issued_now("仓管 李", NOW)
    assert res.state is ReservationState.ISSUED
    assert res.lines[STEEL] == ReservationLine(STEEL, "kg", exact(600), 0, exact(600))
    assert res.events == [
        MaterialsIssued(
            "r-1",
            "o-1",
            "HW-20261126-00001",
            "c-1",
            1,
            "仓管 李",
            [
                {
                    "material": STEEL,
                    "unit": "kg",
                    "needed": 600.0,
                    "reserved": 0.0,
                    "issued": 600.0,
                    "short": 0.0,
                }
            ],
        )
    ]
    with pytest.raises(FailedPrecondition, match="nothing is reserved"):
        res.to_issue()


def test_an_issuing_reservation_refuses_every_change_until_the_issue_is_recorded():
    res = reservation(ReservationLine(STEEL, "kg", exact(600), exact(600)))
    version = res.ledger_version
    assert res.start_issue("仓管 李", NOW) == {STEEL: exact(600)}
    # The mark is no change the WMS must hear of: the version and its sync stay as they were.
    assert (res.issuing, res.issuing_since, res.issuing_version, res.issuing_by) == (
        True,
        NOW,
        version,
        "仓管 李",
    )
    assert (res.state, res.ledger_version, res.events) == (ReservationState.HELD, version, [])
    in_progress = "领料进行中 an issue of this order \\(HW-20261126-00001\\) is in progress"
    for refused in (
        lambda: res.start_issue("仓管 王", NOW),
        lambda: res.to_issue(),
        lambda: res.freeze(NOW),
        lambda: res.released("order_cancelled", NOW),
        lambda: res.adjusted(2, {STEEL: Need(STEEL, "kg", exact(720))}, {STEEL: (exact(120), 0)}, [], NOW),
    ):
        with pytest.raises(IssueInProgress, match=in_progress):
            refused()
    assert isinstance(IssueInProgress("x"), FailedPrecondition)  # FAILED_PRECONDITION to a caller
    assert (res.state, res.revision, res.lines[STEEL].reserved) == (ReservationState.HELD, 1, exact(600))

    res.issued_now(res.issuing_by, NOW)
    assert (res.issuing, res.issuing_since, res.issuing_version, res.issuing_by) == (False, None, 0, "")
    assert res.state is ReservationState.ISSUED and res.events[0].issued_by == "仓管 李"


def test_an_issue_the_wms_refused_leaves_the_reservation_as_it_was():
    res = reservation(ReservationLine(STEEL, "kg", exact(600), exact(600)))
    res.start_issue("仓管 李", NOW)
    res.issue_refused()
    assert (res.issuing, res.issuing_since, res.issuing_version, res.issuing_by) == (False, None, 0, "")
    assert res.freeze(NOW) and res.state is ReservationState.FROZEN


def test_release_gives_back_what_is_held_once():
    res = reservation(ReservationLine(STEEL, "kg", exact(600), exact(500), 0, exact(100)))
    assert res.to_release() == {STEEL: exact(500)}
    assert res.released("order_cancelled", NOW)
    assert not res.released("order_cancelled", NOW)
    assert res.events == [
        MaterialsReleased(
            "r-1",
            "o-1",
            "HW-20261126-00001",
            "c-1",
            1,
            "order_cancelled",
            [
                {
                    "material": STEEL,
                    "unit": "kg",
                    "needed": 600.0,
                    "reserved": 500.0,
                    "issued": 0.0,
                    "short": 0.0,
                }
            ],
        )
    ]
    with pytest.raises(FailedPrecondition, match="was released"):
        res.to_issue()
