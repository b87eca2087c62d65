"""Where each order line is, from the work orders of its route (services/order/domain/progress.py)."""

from __future__ import annotations

from services.order.domain.progress import WorkOrderProgress, line_progress


def wo(no: str, workshop: str, step: int, stage: str, lines=(1,), cancelled=False) -> WorkOrderProgress:
    return WorkOrderProgress(f"id-{no}", no, workshop, step, stage, tuple(lines), cancelled)


def summary(work_orders) -> list[tuple[int, str, str]]:
    return [(p.line_no, p.stage, p.workshop) for p in line_progress(work_orders)]


def test_a_line_not_started_waits_at_its_first_workshop():
    route = [wo("01", "stamping-1", 1, "STAGE_TO_SCHEDULE"), wo("02", "plating", 2, "STAGE_TO_SCHEDULE")]
    assert summary(route) == [(1, "STAGE_TO_SCHEDULE", "stamping-1")]


def test_a_line_stamped_and_waiting_for_plating_is_in_process_at_plating():
    route = [wo("01", "stamping-1", 1, "STAGE_QC_PASSED"), wo("02", "plating", 2, "STAGE_TO_SCHEDULE")]
    assert summary(route) == [(1, "STAGE_IN_PROCESS", "plating")]


def test_a_line_done_everywhere_is_as_far_as_its_least_advanced_work_order():
    route = [wo("01", "stamping-1", 1, "STAGE_READY_TO_SHIP"), wo("02", "plating", 2, "STAGE_QC_PASSED")]
    assert summary(route) == [(1, "STAGE_QC_PASSED", "plating")]


def test_each_line_has_its_own_route_and_cancelled_work_does_not_count():
    work = [
        wo("01", "stamping-1", 1, "STAGE_IN_PROCESS", lines=(1, 2)),
        wo("02", "plating", 2, "STAGE_TO_SCHEDULE", lines=(1,)),
        wo("03", "assembly", 3, "STAGE_TO_SCHEDULE", lines=(2,), cancelled=True),
    ]
    progress = line_progress(work)
    assert [(p.line_no, p.stage, p.workshop) for p in progress] == [
        (1, "STAGE_IN_PROCESS", "stamping-1"),
        (2, "STAGE_IN_PROCESS", "stamping-1"),
    ]
    assert [s.workshop for s in progress[0].steps] == ["stamping-1", "plating"]
    assert [s.workshop for s in progress[1].steps] == ["stamping-1"]


def test_no_work_orders_no_progress():
    assert line_progress([]) == []
