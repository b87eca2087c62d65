"""omsctl's planning commands as the planner reads them: the board as a workshop × stage table
with its lists, a dry-run side by side, and which service replays which kind of rule."""

from __future__ import annotations

import argparse

import pytest
from google.type.date_pb2 import Date

from oms.production.v1 import production_pb2 as p
from omsctl.__main__ import build_parser
from omsctl.planning import board_lines, merge_lines, rule_kind


def test_the_board_reads_as_a_table_with_totals_and_its_lists():
    reply = p.GetBoardResponse(
        cells=[
            p.BoardCell(workshop="stamping-1", stage=p.STAGE_TO_SCHEDULE, count=7),
            p.BoardCell(workshop="stamping-1", stage=p.STAGE_IN_PROCESS, count=2),
            p.BoardCell(workshop="plating", stage=p.STAGE_QC_PASSED, count=1),
        ],
        overdue=[
            p.BoardWorkOrder(
                work_order_no="WO-HW-20261120-00001-01",
                order_no="HW-20261120-00001",
                workshop="stamping-1",
                stage=p.STAGE_IN_PROCESS,
                due_date=Date(year=2026, month=11, day=23),
            )
        ],
        overdue_total=3,
        at_risk_hours=48,
        today=Date(year=2026, month=11, day=25),
    )
    lines = board_lines(reply, {"stamping-1": "冲压一车间 Stamping 1", "plating": "电镀车间 Plating"}.get)
    text = "\n".join(lines)
    assert lines[0] == "生产看板 Board — 2026-11-25"
    assert lines[1].startswith("车间 Workshop")
    assert lines[2].split() == ["电镀车间", "Plating", "0", "0", "1", "0", "1"]
    assert lines[3].split() == ["冲压一车间", "Stamping", "1", "7", "2", "0", "0", "9"]
    assert lines[4].split() == ["合计", "Total", "7", "2", "1", "0", "10"]
    assert "逾期 Overdue (3)" in text and "WO-HW-20261120-00001-01" in text
    assert "… 另有 2 条 and 2 more (--limit)" in text
    assert "临期 At risk, due within 48 h (0)" in text


def test_a_dry_run_shows_both_sides_and_the_differences():
    silver = p.Configuration(product_model="HB-2040 铰链 hinge", colour="银色 silver")
    reply = p.DryRunRuleResponse(
        rule="candidate",
        expression="orders.size() >= params.min_orders",
        params_json='{"min_orders": 2}',
        days=30,
        replayed=3,
        would_have_made=[p.DryRunBatch(configuration=silver, order_nos=["HW-1", "HW-2"], quantity=3000)],
        made=[],
        would_merge=2,
        differences=[p.DryRunMergeDifference(order_no="HW-1", configuration=silver, would_batch=1)],
    )
    text = "\n".join(merge_lines(reply))
    assert "#1          HB-2040 铰链 hinge / 银色 silver  HW-1, HW-2      3,000" in text
    assert "HW-1          HB-2040 铰链 hinge / 银色 silver  #1          未合并 alone" in text
    assert "实际合并 Actually made:\n(无 none)" in text


@pytest.mark.parametrize(
    ("kind", "expression", "expected"),
    [
        (None, "orders.size() >= 2", "batch_merge"),
        (None, "order.amount_cny > params.amount_cny", "material_lock"),
        ("material_lock", "", "material_lock"),
        (None, "", ""),  # a name only: production is asked first, inventory if it has no such merge rule
    ],
)
def test_the_kind_decides_which_service_replays_the_rule(kind, expression, expected):
    assert rule_kind(argparse.Namespace(kind=kind, expression=expression)) == expected


def test_the_commands_parse_as_documented():
    a = build_parser().parse_args(
        [
            "rule-dry-run",
            "merge_same_configuration",
            "--expression",
            "orders.size() >= 2",
            "--params",
            '{"min_orders":2}',
            "--days",
            "30",
        ]
    )
    assert (a.name, a.params, a.days) == ("merge_same_configuration", '{"min_orders":2}', 30)
    assert build_parser().parse_args(["board", "--workshop", "plating"]).workshop == "plating"
    assert build_parser().parse_args(["batches", "--state", "planned"]).state == "planned"
