"""Where each order line is on the shop floor. Production makes an approved order as one work
order per workshop (stamping, then plating, then assembly); each line passes the workshops of its
route. Production's stage reports say each work order's stage; a workshop not reported yet is
still to schedule (待排产).

A line's stage: the one stage all its workshops share; else 加工中 while any of them is unfinished
(work on the line has begun somewhere), else the least advanced of the finished ones. Its
workshop: the first in the route whose work is unfinished (where it is, or waits), else the last."""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS", "STAGE_QC_PASSED", "STAGE_READY_TO_SHIP", "STAGE_SHIPPED")
FINISHED = STAGES.index("STAGE_QC_PASSED")


@dataclass(frozen=True)
class Step:
    workshop: str
    stage: str
    work_order_no: str  # "" while production has reported nothing for it


@dataclass(frozen=True)
class LineProgress:
    line_no: int
    stage: str
    workshop: str
    steps: tuple[Step, ...]


def rank(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else 0


def line_progress(
    routes: dict[int, tuple[str, ...]], reported: dict[str, tuple[str, str]]
) -> list[LineProgress]:
    """`routes`: line number -> its workshops in sequence; `reported`: workshop -> (stage, work
    order number) of the order's work order there."""
    out = []
    for line_no in sorted(routes):
        route = routes[line_no]
        if not route:
            continue
        steps = tuple(Step(w, *reported.get(w, ("STAGE_TO_SCHEDULE", ""))) for w in route)
        ranks = [rank(s.stage) for s in steps]
        unfinished = [s for s, r in zip(steps, ranks, strict=True) if r < FINISHED]
        if len(set(ranks)) == 1:
            stage = steps[0].stage
        elif unfinished:
            stage = "STAGE_IN_PROCESS"
        else:
            stage = STAGES[min(ranks)]
        where = unfinished[0] if unfinished else steps[-1]
        out.append(LineProgress(line_no, stage, where.workshop, steps))
    return out
