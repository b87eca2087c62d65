"""拆单: an approved order becomes one work order per workshop."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.production.domain.model import (
    ApprovedOrder,
    Stage,
    WorkOrder,
    WorkOrderCreated,
    WorkOrderLine,
    split_by_workshop,
    work_order_number,
)

HINGE = WorkOrderLine("HB-2040", 500, "银色 silver", "电镀 plating")
BRACKET = WorkOrderLine("SB-55", 200)
SEAT_RAIL = WorkOrderLine("SR-10", 80, "黑色 black")
CLIP = WorkOrderLine("CL-3", 1000)


def approved(lines: list[tuple[str, WorkOrderLine]]) -> ApprovedOrder:
    return ApprovedOrder("o-1", "HW-20261125-00042", date(2026, 12, 10), lines)


def test_lines_are_grouped_by_workshop_in_first_seen_order_keeping_line_order():
    order = approved(
        [
            ("welding", HINGE),
            ("stamping-1", BRACKET),
            ("welding", SEAT_RAIL),
            ("stamping-1", CLIP),
        ]
    )

    groups = split_by_workshop(order)

    assert list(groups) == ["welding", "stamping-1"]
    assert groups["welding"] == [HINGE, SEAT_RAIL]
    assert groups["stamping-1"] == [BRACKET, CLIP]


def test_one_workshop_gives_one_group_with_every_line():
    assert split_by_workshop(approved([("stamping-1", HINGE), ("stamping-1", CLIP)])) == {
        "stamping-1": [HINGE, CLIP]
    }


def test_an_order_without_lines_gives_no_work_orders():
    assert split_by_workshop(approved([])) == {}


@pytest.mark.parametrize(
    ("index", "expected"),
    [(1, "WO-HW-20261125-00042-01"), (12, "WO-HW-20261125-00042-12")],
)
def test_work_order_number_is_the_order_number_and_a_two_digit_index(index, expected):
    assert work_order_number("HW-20261125-00042", index) == expected


def test_announcing_a_work_order_records_work_order_created():
    wo = WorkOrder(
        work_order_id="wo-1",
        work_order_no="WO-HW-20261125-00042-01",
        order_id="o-1",
        order_no="HW-20261125-00042",
        workshop="welding",
        due_date=date(2026, 12, 10),
        lines=[HINGE, BRACKET],
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
    )

    wo.announce()

    assert wo.stage is Stage.TO_SCHEDULE
    assert wo.events == [
        WorkOrderCreated(
            work_order_id="wo-1",
            work_order_no="WO-HW-20261125-00042-01",
            order_id="o-1",
            order_no="HW-20261125-00042",
            workshop="welding",
            due_date="2026-12-10",
            lines=[
                {
                    "product_model": "HB-2040",
                    "quantity": 500,
                    "colour": "银色 silver",
                    "surface_treatment": "电镀 plating",
                },
                {"product_model": "SB-55", "quantity": 200, "colour": "", "surface_treatment": ""},
            ],
        )
    ]
