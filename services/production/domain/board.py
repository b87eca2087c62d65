"""The shop-floor board (看板): open work per workshop and stage, with overdue and at-risk work
flagged. Pure Python: which days count as overdue and at risk, in the plant's calendar.

Open = neither shipped nor cancelled. Unfinished = still to make (待排产 to schedule, 加工中 in
process): work that passed QC waits for the warehouse, not the shop floor. A work order is due by
the end of its due day in the plant's zone: overdue when that day is before today, at risk when
the end of its due day falls within the tenant's warning threshold from now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Stage values as work_orders stores them (the work-order core's Stage enum); a cancelled work
# order is flagged, whatever its stage.
SHIPPED = "STAGE_SHIPPED"
UNFINISHED_STAGES = ("STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS")
DEFAULT_WARNING_HOURS = 48.0
LIST_LIMIT = 50


def warning_hours(thresholds: Iterable[float]) -> float:
    """The widest of the tenant's due warnings ([alerts] due_warning_hours), 48 h without one."""
    return max(thresholds, default=DEFAULT_WARNING_HOURS)


@dataclass(frozen=True)
class BoardWindow:
    today: date  # in the plant's zone: due before it = overdue
    last_at_risk_day: date  # due from today up to this day = at risk (may be before today: none)
    hours: float
    today_from: datetime | None = None  # when today began in the plant's zone: today's completions


def board_window(now: datetime, zone: ZoneInfo, hours: float) -> BoardWindow:
    """Due day D ends at midnight starting D+1 (plant time); it is at risk when that midnight is no
    later than now + hours, i.e. D + 1 <= the plant's date at now + hours."""
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    today = now.astimezone(zone).date()
    horizon = (now + timedelta(hours=hours)).astimezone(zone).date()
    return BoardWindow(
        today, horizon - timedelta(days=1), hours, datetime.combine(today, time.min, tzinfo=zone)
    )


@dataclass(frozen=True)
class BoardCell:
    workshop: str
    stage: str
    count: int


@dataclass(frozen=True)
class BoardItem:
    work_order_id: str
    work_order_no: str
    order_no: str
    workshop: str
    stage: str
    due_date: date


@dataclass(frozen=True)
class Completion:
    """A work order that passed QC (质检完成) today."""

    work_order_no: str
    order_no: str
    workshop: str
    good_quantity: int
    completed_at: datetime


@dataclass(frozen=True)
class Board:
    window: BoardWindow
    cells: list[BoardCell]
    overdue: list[BoardItem]
    overdue_total: int
    at_risk: list[BoardItem]
    at_risk_total: int
    completed_today: list[Completion] = field(default_factory=list)
    completed_today_total: int = 0
