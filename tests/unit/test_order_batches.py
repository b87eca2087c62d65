"""Delivery batches: every line's quantity spread exactly over the live batches, new batches
numbered, every problem named at once; the diff of a rescheduled or cancelled batch."""

from __future__ import annotations

from datetime import date

import pytest

from services.chassis.errors import InvalidArgument
from services.order.domain.batches import DeliveryBatch, batch_diff, batch_label, check_batches
from services.order.domain.changes import OrderLine

TODAY = date(2026, 11, 25)
LINES = [OrderLine("HB-2040", 5000, "stamping-1", line_no=1), OrderLine("BK-310", 100, "assembly", line_no=2)]


def test_batches_are_numbered_and_sorted_by_line():
    found = check_batches(
        [
            DeliveryBatch(0, date(2026, 12, 1), ((2, 100), (1, 3000))),
            DeliveryBatch(0, date(2026, 12, 15), ((1, 2000),)),
        ],
        LINES,
        TODAY,
    )
    assert [(b.batch_no, b.quantities) for b in found] == [(1, ((1, 3000), (2, 100))), (2, ((1, 2000),))]
    assert batch_label("HW-20261125-00001", 2) == "HW-20261125-00001/2"


def test_no_batches_is_one_delivery():
    assert check_batches([], LINES, TODAY) == ()


def test_every_problem_is_named_at_once():
    with pytest.raises(InvalidArgument) as exc:
        check_batches(
            [
                DeliveryBatch(1, date(2026, 11, 24), ((1, 3000), (1, 1), (9, 5))),
                DeliveryBatch(1, date(2026, 12, 1), ((2, 100),)),
                DeliveryBatch(
                    3, date(2026, 12, 2), ((1, 2000),), cancelled=True
                ),  # cancelled: counts nothing
            ],
            LINES,
            TODAY,
            prefix="proposed.",
        )
    assert [(v.field, v.description) for v in exc.value.violations] == [
        ("proposed.batches[0].due_date", "2026-11-24 is before today 2026-11-25"),
        ("proposed.batches[0].lines[1].line_no", "line 1 is named twice in one batch"),
        ("proposed.batches[0].lines[2].line_no", "the order has no line 9"),
        ("proposed.batches[1].batch_no", "batch 1 is named twice"),
        ("proposed.batches", "line 1 (HB-2040) orders 5000, its batches deliver 3001"),
    ]


def test_the_diff_names_a_moved_quantity_a_new_date_and_a_cancelled_batch():
    before = (
        DeliveryBatch(1, date(2026, 12, 1), ((1, 3000),)),
        DeliveryBatch(2, date(2026, 12, 15), ((1, 2000),)),
    )
    after = (
        DeliveryBatch(1, date(2026, 12, 3), ((1, 5000),)),
        DeliveryBatch(2, date(2026, 12, 15), ((1, 2000),), cancelled=True),
    )
    assert [(c.path, c.before, c.after) for c in batch_diff(before, after)] == [
        ("batches[1].due_date", "2026-12-01", "2026-12-03"),
        ("batches[1].lines[1].quantity", "3000", "5000"),
        ("batches[2].cancelled", "False", "True"),
    ]
