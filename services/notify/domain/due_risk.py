"""Due-date risk (交期前48小时未完工自动触发预警): which work orders must be warned about now, and
which warnings must be withdrawn. Pure Python.

A work order is due by the end of its due day in the plant's zone (midnight starting the next
day), as the shop-floor board counts it. It is unfinished while it is to be scheduled or in
process. A threshold of H hours is crossed once now ≥ due end − H; a threshold of 0 is the due
moment itself (overdue). Each (work order, threshold, due date) is warned once; a warning is
withdrawn when the work is no longer unfinished (finished, cancelled) or when an approved change
moved the due date; a moved due date that is (or comes) within a threshold is warned about anew,
with the new date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UNFINISHED_STAGES = frozenset({"STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS"})
OVERDUE = 0.0  # the threshold of the due moment itself


@dataclass(frozen=True)
class WatchedWorkOrder:
    """Notify's projection of one work order, kept from production's events."""

    work_order_id: str
    work_order_no: str
    order_id: str
    order_no: str
    workshop: str
    due_date: date
    stage: str
    cancelled: bool = False

    @property
    def unfinished(self) -> bool:
        return not self.cancelled and self.stage in UNFINISHED_STAGES

    def due_end(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.due_date + timedelta(days=1), time(), tzinfo=zone)


@dataclass(frozen=True)
class RaisedWarning:
    """A warning that went out and is not withdrawn."""

    work_order_id: str
    threshold_hours: float
    due_date: date  # the due date it warned about


@dataclass(frozen=True)
class Plan:
    warn: tuple[tuple[WatchedWorkOrder, float], ...]  # (work order, threshold hours)
    withdraw: tuple[tuple[RaisedWarning, str], ...]  # (warning, why: finished | cancelled | due_moved)


def crossed(work_order: WatchedWorkOrder, threshold_hours: float, now: datetime, zone: ZoneInfo) -> bool:
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    return now >= work_order.due_end(zone) - timedelta(hours=threshold_hours)


def plan(
    work_orders: Iterable[WatchedWorkOrder],
    raised: Iterable[RaisedWarning],
    thresholds: Sequence[float],
    now: datetime,
    zone: ZoneInfo,
) -> Plan:
    """What to warn about and what to withdraw now. Only the widest crossed threshold that was
    not warned about yet is raised per work order at a time: a work order first seen already
    overdue gets the overdue warning, not three at once."""
    open_by_order: dict[str, list[RaisedWarning]] = {}
    for r in raised:
        open_by_order.setdefault(r.work_order_id, []).append(r)
    warn: list[tuple[WatchedWorkOrder, float]] = []
    withdraw: list[tuple[RaisedWarning, str]] = []
    for wo in work_orders:
        mine = open_by_order.pop(wo.work_order_id, [])
        for r in mine:
            if not wo.unfinished:
                withdraw.append((r, "cancelled" if wo.cancelled else "finished"))
            elif r.due_date != wo.due_date:
                withdraw.append((r, "due_moved"))
        if not wo.unfinished:
            continue
        current = {r.threshold_hours for r in mine if r.due_date == wo.due_date}
        due = [t for t in sorted(thresholds) if crossed(wo, t, now, zone)]  # the nearest first
        if due and due[0] not in current and not any(t < due[0] for t in current):
            warn.append((wo, due[0]))
    # Warnings of work orders no longer watched (projection pruned): left as they are.
    return Plan(tuple(warn), tuple(withdraw))


def describe_threshold(hours: float) -> str:
    if hours == OVERDUE:
        return "已逾期 overdue"
    shown = f"{hours:g}"
    return f"交期前{shown}小时未完工 unfinished {shown} h before due"
