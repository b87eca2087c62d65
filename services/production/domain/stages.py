"""Stages of a work order (待排产 → 加工中 → 质检完成 → 待发货 → 已发货) and the one legal move.

Forward one step at a time, never skipping: each stage is a checkpoint somebody answers for (QC
signs 质检完成, the warehouse 待发货), so a work order that jumps from 加工中 to 待发货 would
ship what nobody inspected. Reporting the stage a work order is already at is a progress report
(more good and scrap pieces), not a move. Never backwards: scrap is reported, not undone."""

from __future__ import annotations

from enum import StrEnum

from services.chassis.errors import FailedPrecondition


class Stage(StrEnum):
    TO_SCHEDULE = "STAGE_TO_SCHEDULE"  # 待排产
    IN_PROCESS = "STAGE_IN_PROCESS"  # 加工中
    QC_PASSED = "STAGE_QC_PASSED"  # 质检完成
    READY_TO_SHIP = "STAGE_READY_TO_SHIP"  # 待发货
    SHIPPED = "STAGE_SHIPPED"  # 已发货


ORDERED = list(Stage)
LABELS = {
    Stage.TO_SCHEDULE: "待排产 to schedule",
    Stage.IN_PROCESS: "加工中 in process",
    Stage.QC_PASSED: "质检完成 QC passed",
    Stage.READY_TO_SHIP: "待发货 ready to ship",
    Stage.SHIPPED: "已发货 shipped",
}


def check_move(current: Stage, target: Stage) -> bool:
    """True for a move one step forward, False for a progress report at the current stage;
    FailedPrecondition naming from and to for anything else."""
    if target is current:
        if current is Stage.SHIPPED:
            raise FailedPrecondition(
                f"工单已发货 work order already {LABELS[current]}: nothing more to report"
            )
        return False
    at, to = ORDERED.index(current), ORDERED.index(target)
    if to == at + 1:
        return True
    allowed = LABELS[ORDERED[at + 1]] if at + 1 < len(ORDERED) else "nothing"
    why = "不能倒退 stages never go back" if to < at else "不能跳过工序 stages are not skipped"
    raise FailedPrecondition(
        f"{why}: cannot move from {LABELS[current]} ({current.name}) to {LABELS[target]} ({target.name});"
        f" next allowed: {allowed}"
    )


def least_advanced(stages: list[Stage]) -> Stage | None:
    """The order is as far as its least advanced work order."""
    return min(stages, key=ORDERED.index) if stages else None
