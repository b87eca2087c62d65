"""Due-date risk (services/notify/domain/due_risk.py) on a controllable clock: a warning per
threshold and due date, once; withdrawn when the work finishes, is cancelled, or an approved
change moves the due date away."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.notify.domain.due_risk import (
    OVERDUE,
    RaisedWarning,
    WatchedWorkOrder,
    crossed,
    describe_threshold,
    plan,
)

PLANT = ZoneInfo("Asia/Shanghai")
DUE = date(2026, 12, 10)  # due by 2026-12-11 00:00 plant time = 2026-12-10 16:00 UTC
END = datetime(2026, 12, 10, 16, 0, tzinfo=UTC)
WO = WatchedWorkOrder(
    "wo-1", "WO-HW-20261201-00001-02", "o-1", "HW-20261201-00001", "plating", DUE, "STAGE_IN_PROCESS"
)
THRESHOLDS = (48.0, 24.0, OVERDUE)


def at(hours_before_due: float) -> datetime:
    return END - timedelta(hours=hours_before_due)


def raised(threshold: float, due: date = DUE) -> RaisedWarning:
    return RaisedWarning("wo-1", threshold, due)


def test_the_due_moment_is_the_end_of_the_due_day_in_the_plants_zone():
    assert WO.due_end(PLANT) == END
    assert not crossed(WO, 48, at(48.001), PLANT) and crossed(WO, 48, at(48), PLANT)


def test_nothing_before_the_first_threshold_then_one_warning_per_threshold():
    assert plan([WO], [], THRESHOLDS, at(49), PLANT).warn == ()
    assert plan([WO], [], THRESHOLDS, at(40), PLANT).warn == ((WO, 48.0),)  # due in 40 h, in process
    assert plan([WO], [raised(48)], THRESHOLDS, at(30), PLANT).warn == ()  # once
    assert plan([WO], [raised(48)], THRESHOLDS, at(23), PLANT).warn == ((WO, 24.0),)
    assert plan([WO], [raised(48), raised(24)], THRESHOLDS, at(-1), PLANT).warn == ((WO, OVERDUE),)
    assert plan([WO], [raised(48), raised(24), raised(OVERDUE)], THRESHOLDS, at(-30), PLANT).warn == ()


def test_a_work_order_first_seen_overdue_gets_the_overdue_warning_only():
    assert plan([WO], [], THRESHOLDS, at(-2), PLANT).warn == ((WO, OVERDUE),)
    assert plan([WO], [raised(OVERDUE)], THRESHOLDS, at(-3), PLANT).warn == ()


@pytest.mark.parametrize("stage", ["STAGE_QC_PASSED", "STAGE_READY_TO_SHIP", "STAGE_SHIPPED"])
def test_finished_work_is_not_warned_about_and_its_warnings_are_withdrawn(stage):
    done = replace(WO, stage=stage)
    result = plan([done], [raised(48)], THRESHOLDS, at(30), PLANT)
    assert (result.warn, result.withdraw) == ((), ((raised(48), "finished"),))


def test_cancelled_work_withdraws_its_warnings():
    gone = replace(WO, cancelled=True)
    assert plan([gone], [raised(48)], THRESHOLDS, at(30), PLANT).withdraw == ((raised(48), "cancelled"),)


def test_a_due_date_moved_away_withdraws_and_a_later_approach_warns_again_about_the_new_date():
    moved = replace(WO, due_date=DUE + timedelta(days=5))
    result = plan([moved], [raised(48)], THRESHOLDS, at(30), PLANT)
    assert (result.warn, result.withdraw) == ((), ((raised(48), "due_moved"),))
    later = moved.due_end(PLANT) - timedelta(hours=47)
    assert plan([moved], [], THRESHOLDS, later, PLANT).warn == ((moved, 48.0),)


def test_a_due_date_moved_but_still_within_the_threshold_is_withdrawn_and_warned_anew():
    moved = replace(WO, due_date=DUE + timedelta(days=1))  # still due within 48 h at 10 h before
    result = plan([moved], [raised(48)], THRESHOLDS, at(10), PLANT)
    assert result.withdraw == ((raised(48), "due_moved"),) and result.warn == ((moved, 48.0),)


def test_the_wording_of_each_threshold():
    assert describe_threshold(48.0) == "交期前48小时未完工 unfinished 48 h before due"
    assert describe_threshold(1.5) == "交期前1.5小时未完工 unfinished 1.5 h before due"
    assert describe_threshold(OVERDUE) == "已逾期 overdue"


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError, match="aware"):
        plan([WO], [], THRESHOLDS, datetime(2026, 12, 9), PLANT)
