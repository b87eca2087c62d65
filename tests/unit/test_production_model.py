"""拆单 by routing: an approved order becomes one work order per workshop its lines pass through,
in route order; the stage machine; a change freezes, revises (keeping the old revision), cancels
what no longer applies; material requirements per workshop."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.chassis.errors import FailedPrecondition, VersionConflict
from services.production.domain.lines import RoutedLine, WorkOrderLine
from services.production.domain.model import (
    FROZEN,
    MaterialRequirementsChanged,
    OrderContent,
    ProductionOrder,
    WorkOrder,
    WorkOrderCancelled,
    WorkOrderCreated,
    WorkOrderRevised,
    WorkOrderStageChanged,
    work_order_number,
)
from services.production.domain.routing import split_by_route
from services.production.domain.stages import ORDERED, Stage, check_move, least_advanced

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
HINGE_ROUTE = ("stamping-1", "plating", "assembly")
HINGE = WorkOrderLine("HB-2040 铰链 hinge", 500, "银色 silver", "电镀 plating", "纸箱 carton", 1)
BRACKET = WorkOrderLine("BK-310 支架 bracket", 200, line_no=2)
CLIP = WorkOrderLine("SP-08 弹片 spring clip", 1000, line_no=3)


class Entry:
    """A BOM line as the tenant file has it."""

    def __init__(self, material, quantity_per_unit, unit, colour="", surface_treatment="", workshop=""):
        self.material, self.quantity_per_unit, self.unit = material, quantity_per_unit, unit
        self.colour, self.surface_treatment, self.workshop = colour, surface_treatment, workshop


STEEL = "SPCC 冷轧钢板 cold-rolled steel"
SILVER = "镀银液 silver plating solution"
GOLD = "镀金液 gold plating solution"
BOM = {
    "HB-2040 铰链 hinge": [
        Entry(STEEL, 0.12, "kg", workshop="stamping-1"),
        Entry(SILVER, 0.002, "L", colour="银色 silver", workshop="plating"),
        Entry(GOLD, 0.002, "L", colour="金色 gold", workshop="plating"),
    ],
    "BK-310 支架 bracket": [Entry(STEEL, 0.35, "kg")],  # no workshop: the route's first
}


def content(
    lines: list[RoutedLine], *, version=2, revision=1, due=date(2026, 12, 10), change_id=""
) -> OrderContent:
    return OrderContent("o-1", "HW-20261125-00042", due, lines, version, revision, change_id)


def ids():
    counter = itertools.count(1)
    return lambda: f"wo-{next(counter)}"


def planned(lines: list[RoutedLine]) -> ProductionOrder:
    po = ProductionOrder("o-1", "HW-20261125-00042")
    assert po.approved(content(lines), BOM, NOW, ids())
    return po


# routing


def test_a_multi_workshop_route_gives_one_step_per_workshop_in_sequence_with_its_lines():
    steps = split_by_route(
        [
            RoutedLine(BRACKET, ("stamping-1",)),
            RoutedLine(HINGE, HINGE_ROUTE),
            RoutedLine(CLIP, ("stamping-1",)),
        ]
    )

    assert [(s.workshop, s.step, s.lines) for s in steps] == [
        ("stamping-1", 1, [BRACKET, HINGE, CLIP]),
        ("plating", 2, [HINGE]),
        ("assembly", 3, [HINGE]),
    ]


def test_a_route_that_comes_back_to_a_workshop_lists_the_line_there_once():
    steps = split_by_route([RoutedLine(HINGE, ("stamping-1", "plating", "stamping-1"))])
    assert [(s.workshop, s.step, len(s.lines)) for s in steps] == [("stamping-1", 1, 1), ("plating", 2, 1)]


@given(
    st.lists(
        st.tuples(
            st.integers(1, 1000),
            st.lists(st.sampled_from(["s1", "s2", "pl", "as"]), min_size=1, max_size=4),
        ),
        max_size=6,
    )
)
def test_every_line_is_in_exactly_the_workshops_of_its_route(rows):
    lines = [RoutedLine(WorkOrderLine(f"M{i}", q, line_no=i + 1), tuple(r)) for i, (q, r) in enumerate(rows)]
    steps = split_by_route(lines)
    assert len({s.workshop for s in steps}) == len(steps)
    for routed in lines:
        assert {s.workshop for s in steps if routed.line in s.lines} == set(routed.route)
    assert [s.step for s in steps] == sorted(s.step for s in steps)


def test_work_orders_are_numbered_in_route_order_with_step_due_date_spec_and_requirements():
    po = planned([RoutedLine(HINGE, HINGE_ROUTE), RoutedLine(BRACKET, ("stamping-1",))])

    assert [(w.work_order_no, w.workshop, w.step, w.revision) for w in po.work_orders] == [
        ("WO-HW-20261125-00042-01", "stamping-1", 1, 1),
        ("WO-HW-20261125-00042-02", "plating", 2, 1),
        ("WO-HW-20261125-00042-03", "assembly", 3, 1),
    ]
    assert po.work_orders[0].lines == [HINGE, BRACKET]
    assert {w.due_date for w in po.work_orders} == {date(2026, 12, 10)}
    created = po.work_orders[1].events
    assert created == [
        WorkOrderCreated(
            work_order_id="wo-2",
            work_order_no="WO-HW-20261125-00042-02",
            order_id="o-1",
            order_no="HW-20261125-00042",
            workshop="plating",
            due_date="2026-12-10",
            lines=[
                {
                    "product_model": "HB-2040 铰链 hinge",
                    "quantity": 500,
                    "colour": "银色 silver",
                    "surface_treatment": "电镀 plating",
                    "packaging": "纸箱 carton",
                    "line_no": 1,
                }
            ],
            step=2,
            revision=1,
            requirements=[{"material": SILVER, "unit": "L", "quantity": 1.0}],
        )
    ]


@pytest.mark.parametrize(
    ("index", "expected"),
    [(1, "WO-HW-20261125-00042-01"), (12, "WO-HW-20261125-00042-12")],
)
def test_work_order_number_is_the_order_number_and_a_two_digit_index(index, expected):
    assert work_order_number("HW-20261125-00042", index) == expected


# requirements per workshop


def test_requirements_are_the_materials_consumed_at_each_workshop_silver_vs_gold():
    gold = WorkOrderLine("HB-2040 铰链 hinge", 300, "金色 gold", line_no=4)
    po = planned(
        [RoutedLine(HINGE, HINGE_ROUTE), RoutedLine(gold, HINGE_ROUTE), RoutedLine(BRACKET, ("stamping-1",))]
    )
    stamping, plating, assembly = po.work_orders

    assert stamping.requirements == {(STEEL, "kg"): 800 * 0.12 + 200 * 0.35}
    assert plating.requirements == {(SILVER, "L"): 1.0, (GOLD, "L"): 0.6}
    assert assembly.requirements == {}


def test_a_bom_line_for_a_workshop_the_line_no_longer_passes_is_consumed_at_its_first():
    po = planned([RoutedLine(HINGE, ("stamping-1",))])  # a planner rerouted: no plating
    assert po.work_orders[0].requirements == {(STEEL, "kg"): 60.0, (SILVER, "L"): 1.0}


# stages


def test_stages_move_forward_one_step_and_a_report_at_the_same_stage_is_progress():
    for current, target in itertools.pairwise(ORDERED):
        assert check_move(current, target) is True
    assert check_move(Stage.IN_PROCESS, Stage.IN_PROCESS) is False


@pytest.mark.parametrize(
    ("current", "target", "why"),
    [
        (Stage.TO_SCHEDULE, Stage.QC_PASSED, "不能跳过工序"),
        (Stage.IN_PROCESS, Stage.SHIPPED, "不能跳过工序"),
        (Stage.QC_PASSED, Stage.IN_PROCESS, "不能倒退"),
        (Stage.SHIPPED, Stage.SHIPPED, "已发货"),
    ],
)
def test_illegal_moves_fail_naming_from_and_to(current, target, why):
    with pytest.raises(FailedPrecondition) as caught:
        check_move(current, target)
    assert why in str(caught.value)
    if current is not target:
        assert current.name in str(caught.value) and target.name in str(caught.value)


def test_a_stage_report_sums_pieces_and_announces_the_order_stage_with_a_sequence():
    po = planned([RoutedLine(HINGE, HINGE_ROUTE)])
    for wo in po.work_orders:
        wo.events.clear()
    stamping = po.work_orders[0]

    po.report_stage(
        stamping.work_order_id, Stage.IN_PROCESS, good=0, scrap=0, note="", reporter="王", now=NOW
    )
    po.report_stage(
        stamping.work_order_id, Stage.IN_PROCESS, good=100, scrap=2, note="首批", reporter="王", now=NOW
    )

    assert (stamping.stage, stamping.good_quantity, stamping.scrap_quantity) == (Stage.IN_PROCESS, 100, 2)
    assert [r.note for r in stamping.new_reports] == ["", "首批"]
    assert stamping.events == [  # the progress report moved nothing: one event
        WorkOrderStageChanged(
            "wo-1",
            "WO-HW-20261125-00042-01",
            "o-1",
            "HW-20261125-00042",
            "stamping-1",
            "STAGE_IN_PROCESS",
            "STAGE_TO_SCHEDULE",
            "STAGE_TO_SCHEDULE",  # plating and assembly have not started
            1,
            NOW.isoformat(),
        )
    ]
    assert po.stage_sequence == 1


def test_the_order_stage_is_the_least_advanced_open_work_order():
    assert least_advanced([Stage.QC_PASSED, Stage.IN_PROCESS, Stage.SHIPPED]) is Stage.IN_PROCESS
    assert least_advanced([]) is None


def test_a_frozen_work_order_refuses_stage_moves_and_a_rejected_change_unfreezes_it():
    po = planned([RoutedLine(HINGE, HINGE_ROUTE)])
    assert po.change_requested(3, "c-1")
    assert all(w.frozen for w in po.work_orders)

    with pytest.raises(FailedPrecondition) as caught:
        po.report_stage("wo-1", Stage.IN_PROCESS, good=0, scrap=0, note="", reporter="王", now=NOW)
    assert str(caught.value) == FROZEN

    assert po.change_rejected(4, "c-1")
    assert not any(w.frozen for w in po.work_orders)
    po.report_stage("wo-1", Stage.IN_PROCESS, good=0, scrap=0, note="", reporter="王", now=NOW)


def test_a_cancelled_work_order_refuses_reports_and_a_stale_revision_conflicts():
    po = planned([RoutedLine(HINGE, HINGE_ROUTE)])
    with pytest.raises(VersionConflict):
        po.report_stage(
            "wo-1", Stage.IN_PROCESS, good=0, scrap=0, note="", reporter="王", now=NOW, expected_revision=2
        )
    po.cancel(5, "客户取消")
    with pytest.raises(FailedPrecondition, match="已取消"):
        po.report_stage("wo-1", Stage.IN_PROCESS, good=0, scrap=0, note="", reporter="王", now=NOW)


# freeze and revise


def test_an_approved_change_revises_keeping_the_old_revision_stage_and_pieces():
    po = planned([RoutedLine(HINGE, HINGE_ROUTE)])
    po.report_stage("wo-1", Stage.IN_PROCESS, good=120, scrap=3, note="", reporter="王", now=NOW)
    po.change_requested(3, "c-1")
    for wo in po.work_orders:
        wo.events.clear()
    gold = WorkOrderLine("HB-2040 铰链 hinge", 600, "金色 gold", "电镀 plating", "纸箱 carton", 1)

    assert po.changed(
        content(
            [RoutedLine(gold, HINGE_ROUTE)], version=4, revision=2, change_id="c-1", due=date(2026, 12, 20)
        ),
        False,
        BOM,
        NOW,
        ids(),
    )

    stamping, plating, _assembly = po.work_orders
    assert [w.work_order_id for w in po.work_orders] == ["wo-1", "wo-2", "wo-3"]  # revised, not re-made
    assert (stamping.revision, stamping.stage, stamping.good_quantity, stamping.scrap_quantity) == (
        2,
        Stage.IN_PROCESS,
        120,
        3,
    )
    assert not stamping.frozen and not po.frozen
    old = stamping.superseded[0]
    assert (old.revision, old.lines, old.due_date, old.stage) == (
        1,
        [HINGE],
        date(2026, 12, 10),
        Stage.IN_PROCESS,
    )
    assert old.requirements == {(STEEL, "kg"): 60.0}
    assert plating.requirements == {(GOLD, "L"): 1.2}
    revised = plating.events[0]
    assert isinstance(revised, WorkOrderRevised)
    assert (revised.previous_revision, revised.revision, revised.change_id) == (1, 2, "c-1")
    assert revised.changes == [
        {
            "line_no": 1,
            "product_model": "HB-2040 铰链 hinge",
            "field": "quantity",
            "before": "500",
            "after": "600",
        },
        {
            "line_no": 1,
            "product_model": "HB-2040 铰链 hinge",
            "field": "colour",
            "before": "银色 silver",
            "after": "金色 gold",
        },
    ]
    [changed] = po.events
    assert changed == MaterialRequirementsChanged(
        "o-1",
        "HW-20261125-00042",
        2,
        1,
        "c-1",
        [
            {
                "work_order_id": "wo-1",
                "work_order_no": "WO-HW-20261125-00042-01",
                "workshop": "stamping-1",
                "revision": 2,
                "cancelled": False,
                "materials": [{"material": STEEL, "unit": "kg", "before": 60.0, "after": 72.0}],
            },
            {
                "work_order_id": "wo-2",
                "work_order_no": "WO-HW-20261125-00042-02",
                "workshop": "plating",
                "revision": 2,
                "cancelled": False,
                "materials": [
                    {"material": GOLD, "unit": "L", "before": 0.0, "after": 1.2},
                    {"material": SILVER, "unit": "L", "before": 1.0, "after": 0.0},
                ],
            },
            {
                "work_order_id": "wo-3",
                "work_order_no": "WO-HW-20261125-00042-03",
                "workshop": "assembly",
                "revision": 2,
                "cancelled": False,
                "materials": [],
            },
        ],
    )


def test_a_change_that_drops_a_workshop_cancels_its_work_order_and_adds_a_newly_needed_one():
    po = planned([RoutedLine(HINGE, HINGE_ROUTE)])
    for wo in po.work_orders:
        wo.events.clear()
    new = ids()
    for _ in range(3):
        new()

    po.changed(
        content([RoutedLine(HINGE, ("stamping-1", "welding"))], version=4, revision=2), False, BOM, NOW, new
    )

    by_shop = {w.workshop: w for w in po.work_orders}
    assert by_shop["plating"].cancelled and by_shop["assembly"].cancelled
    assert isinstance(by_shop["plating"].events[0], WorkOrderCancelled)
    assert (by_shop["welding"].work_order_no, by_shop["welding"].step) == ("WO-HW-20261125-00042-04", 2)
    # Its lines are the same, but the plating solution no workshop of the route consumes any
    # more falls to the route's first workshop: its requirements changed, so a new revision.
    stamping = by_shop["stamping-1"]
    assert not stamping.cancelled and stamping.revision == 2
    assert stamping.requirements == {(STEEL, "kg"): 60.0, (SILVER, "L"): 1.0}
    assert isinstance(stamping.events[0], WorkOrderRevised) and stamping.events[0].changes == []


def test_events_older_than_what_was_applied_change_nothing_and_cancellation_is_final():
    po = planned([RoutedLine(HINGE, HINGE_ROUTE)])
    assert po.change_requested(5, "c-2")
    assert not po.change_rejected(4, "c-1")  # older: still frozen
    assert po.frozen
    assert po.changed(content([RoutedLine(HINGE, HINGE_ROUTE)], version=6, revision=2), True, BOM, NOW, ids())
    assert all(w.cancelled for w in po.work_orders) and not po.frozen
    assert not po.cancel(6, "again")


def test_an_approval_arriving_after_the_change_request_still_plans_frozen_work_orders():
    po = ProductionOrder("o-1", "HW-20261125-00042")
    po.change_requested(5, "c-1")
    assert po.approved(content([RoutedLine(HINGE, HINGE_ROUTE)], version=2), BOM, NOW, ids())
    assert len(po.work_orders) == 3 and all(w.frozen for w in po.work_orders)


def test_announcing_a_work_order_records_work_order_created():
    wo = WorkOrder(
        work_order_id="wo-1",
        work_order_no="WO-HW-20261125-00042-01",
        order_id="o-1",
        order_no="HW-20261125-00042",
        workshop="welding",
        due_date=date(2026, 12, 10),
        lines=[BRACKET],
        created_at=NOW,
    )
    wo.announce()
    assert wo.stage is Stage.TO_SCHEDULE
    assert wo.events[0].lines == [  # type: ignore[attr-defined]
        {
            "product_model": "BK-310 支架 bracket",
            "quantity": 200,
            "colour": "",
            "surface_treatment": "",
            "packaging": "",
            "line_no": 2,
        }
    ]


def test_a_planners_reroute_is_followed_like_a_change_and_an_older_one_is_ignored():
    po = planned([RoutedLine(HINGE, HINGE_ROUTE), RoutedLine(BRACKET, ("stamping-1",))])
    for wo in po.work_orders:
        wo.events.clear()

    assert po.rerouted(3, 1, ("stamping-1", "assembly"), BOM, NOW, ids())

    stamping, plating, assembly = po.work_orders
    assert plating.cancelled and isinstance(plating.events[0], WorkOrderCancelled)
    assert (assembly.revision, assembly.events) == (1, [])  # nothing of it changed
    assert stamping.lines == [HINGE, BRACKET]
    assert stamping.requirements[(SILVER, "L")] == 1.0  # no plating workshop: consumed at the first
    assert not po.rerouted(3, 1, HINGE_ROUTE, BOM, NOW, ids())  # the same version again: stale
    assert not po.rerouted(4, 99, HINGE_ROUTE, BOM, NOW, ids())  # no such line
