"""Where each order line is on the shop floor, from the work orders that make it (one per
workshop of its route: stamping, then plating, then assembly).

A line's stage: the one stage all its work orders share; else 加工中 while any of them is
unfinished (work on the line has begun somewhere), else the least advanced of the finished ones.
Its workshop: the first in the route whose work is unfinished (where it is, or waits), else the
last. Cancelled work orders (a change that no longer passes a workshop) do not count."""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS", "STAGE_QC_PASSED", "STAGE_READY_TO_SHIP", "STAGE_SHIPPED")
FINISHED = STAGES.index("STAGE_QC_PASSED")


@dataclass(frozen=True)
class WorkOrderProgress:
    work_order_id: str
    work_order_no: str
    workshop: str
    step: int
    stage: str
    line_nos: tuple[int, ...]
    cancelled: bool = False


@dataclass(frozen=True)
class Step:
    workshop: str
    stage: str
    work_order_no: str


@dataclass(frozen=True)
class LineProgress:
    line_no: int
    stage: str
    workshop: str
    steps: tuple[Step, ...]


def rank(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else 0


def line_progress(work_orders: list[WorkOrderProgress]) -> list[LineProgress]:
    by_line: dict[int, list[WorkOrderProgress]] = {}
    for wo in work_orders:
        if not wo.cancelled:
            for line_no in wo.line_nos:
                by_line.setdefault(line_no, []).append(wo)
    out = []
    for line_no in sorted(by_line):
        route = sorted(by_line[line_no], key=lambda w: (w.step, w.work_order_no))
        ranks = [rank(w.stage) for w in route]
        unfinished = [w for w, r in zip(route, ranks, strict=True) if r < FINISHED]
        if len(set(ranks)) == 1:
            stage = route[0].stage
        elif unfinished:
            stage = "STAGE_IN_PROCESS"
        else:
            stage = STAGES[min(ranks)]
        where = unfinished[0] if unfinished else route[-1]
        steps = tuple(Step(w.workshop, w.stage, w.work_order_no) for w in route)
        out.append(LineProgress(line_no, stage, where.workshop, steps))
    return out
