"""The order aggregate: creation, approval (with the materials inventory reserved), option checks,
numbering."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.chassis.errors import FailedPrecondition, InvalidArgument, VersionConflict
from services.order.domain.changes import FieldChange
from services.order.domain.materials import ReservationResult, Shortage
from services.order.domain.model import (
    Channel,
    OptionLibrary,
    Order,
    OrderApproved,
    OrderCreated,
    OrderLine,
    OrderState,
    Priority,
    order_number,
)

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
HINGE = OrderLine("HB-2040 铰链", 500, "stamping-1", "银色 silver", "电镀 plating", 120)
BRACKET = OrderLine("SB-55 支架", 200, "stamping-2")
GOLD_SHORT = Shortage("镀金液 gold plating solution", "L", 12.5, 8.0)


def new_order(*, due: date = date(2026, 12, 10), lines: list[OrderLine] | None = None, **kw) -> Order:
    return Order.create(
        order_id=kw.get("order_id", "o-1"),
        order_no=kw.get("order_no", "HW-20261125-00001"),
        customer_id=kw.get("customer_id", "c-1"),
        channel=kw.get("channel", Channel.AGENT),
        priority=kw.get("priority", Priority.HIGH),
        due_date=due,
        lines=[HINGE, BRACKET] if lines is None else lines,
        created_by="wu.xiaoyan",
        now=NOW,
        request_id=kw.get("request_id", ""),
    )


class TestCreate:
    def test_a_new_order_waits_for_approval_at_version_1(self):
        order = new_order()

        assert order.state is OrderState.PENDING_APPROVAL
        assert order.version == 1
        assert order.created_at == NOW
        assert order.approved_by == "" and order.approved_at is None

    def test_records_order_created_with_wire_values(self):
        order = new_order(channel=Channel.MARKETPLACE, priority=Priority.NORMAL)

        assert order.events == [
            OrderCreated(
                order_id="o-1",
                order_no="HW-20261125-00001",
                customer_id="c-1",
                channel="CHANNEL_MARKETPLACE",
                priority="PRIORITY_NORMAL",
                due_date="2026-12-10",
            )
        ]

    def test_due_date_in_the_past_is_rejected_on_the_due_date_field(self):
        with pytest.raises(InvalidArgument) as caught:
            new_order(due=NOW.date() - timedelta(days=1))

        assert [v.field for v in caught.value.violations] == ["due_date"]

    def test_due_today_is_allowed(self):
        assert new_order(due=NOW.date()).due_date == NOW.date()

    def test_keeps_its_own_copy_of_the_lines(self):
        lines = [HINGE]
        order = new_order(lines=lines)
        lines.append(BRACKET)

        assert order.lines == [replace(HINGE, line_no=1, route=("stamping-1",))]

    def test_numbers_its_lines_from_one(self):
        assert [x.line_no for x in new_order().lines] == [1, 2]


class TestApprove:
    def test_approving_moves_state_records_approver_and_bumps_version(self):
        order = new_order()
        later = NOW + timedelta(hours=2)

        order.approve(approver="li.manager", expected_version=1, now=later)

        assert order.state is OrderState.APPROVED
        assert order.approved_by == "li.manager"
        assert order.approved_at == later
        assert order.version == 2

    def test_records_order_approved_with_every_line(self):
        order = new_order()
        order.events.clear()

        order.approve(approver="li.manager", expected_version=1, now=NOW)

        assert order.events == [
            OrderApproved(
                order_id="o-1",
                order_no="HW-20261125-00001",
                customer_id="c-1",
                priority="PRIORITY_HIGH",
                due_date="2026-12-10",
                version=2,
                lines=[
                    {
                        "product_model": "HB-2040 铰链",
                        "quantity": 500,
                        "colour": "银色 silver",
                        "surface_treatment": "电镀 plating",
                        "workshop": "stamping-1",
                        "unit_price_fen": 120,
                        "line_no": 1,
                        "packaging": "",
                        "route": ["stamping-1"],
                    },
                    {
                        "product_model": "SB-55 支架",
                        "quantity": 200,
                        "colour": "",
                        "surface_treatment": "",
                        "workshop": "stamping-2",
                        "unit_price_fen": 0,
                        "line_no": 2,
                        "packaging": "",
                        "route": ["stamping-2"],
                    },
                ],
                approved_by="li.manager",
            )
        ]

    def test_an_order_short_of_materials_is_not_approved_without_an_override(self):
        order = new_order()
        order.events.clear()
        short = ReservationResult(1, shortages=(GOLD_SHORT,))

        with pytest.raises(FailedPrecondition, match="材料不足 materials short for order HW-20261125-00001"):
            order.approve(approver="li.manager", expected_version=1, now=NOW, materials=short)

        assert (order.state, order.version, order.events, order.transitions[1:]) == (
            OrderState.PENDING_APPROVAL,
            1,
            [],
            [],
        )

    def test_an_overridden_shortage_is_the_steps_reason_and_changes_and_is_announced(self):
        order = new_order()
        order.events.clear()
        accepted = ReservationResult(
            1,
            locked=True,
            lock_rule="amount_over_50k",
            shortages=(GOLD_SHORT,),
            override_reason="镀金液周三到货 arrives Wednesday",
            overridden_by="sun.manager",
        )

        order.approve(approver="sun.manager", expected_version=1, now=NOW, materials=accepted)

        assert (order.materials_short, order.materials_locked, order.lock_rule) == (
            True,
            True,
            "amount_over_50k",
        )
        step = order.transitions[-1]
        assert (step.action.value, step.actor, step.reason) == (
            "approve",
            "sun.manager",
            "镀金液周三到货 arrives Wednesday",
        )
        assert step.changes == (
            FieldChange(
                "materials_short[镀金液 gold plating solution]",
                "缺料 material short: 镀金液 gold plating solution",
                "需要 needed 12.5 L",
                "缺 short 8 L",
            ),
            FieldChange("materials_locked", "原材料已锁定 materials locked", "", "amount_over_50k"),
        )
        [event] = order.events
        assert (
            event.revision,
            event.materials_short,
            event.override_reason,
            event.shortages,
            event.materials_locked,
            event.lock_rule,
        ) == (
            1,
            True,
            "镀金液周三到货 arrives Wednesday",
            [{"material": "镀金液 gold plating solution", "unit": "L", "needed": 12.5, "short": 8.0}],
            True,
            "amount_over_50k",
        )

    def test_a_plain_approval_records_no_reason_and_no_changes(self):
        order = new_order()

        order.approve(approver="li.manager", expected_version=1, now=NOW, materials=ReservationResult(1))

        step = order.transitions[-1]
        assert (step.reason, step.changes, order.materials_short, order.materials_locked) == (
            "",
            (),
            False,
            False,
        )

    def test_a_stale_version_is_a_conflict_and_changes_nothing(self):
        order = new_order()
        order.events.clear()

        with pytest.raises(VersionConflict):
            order.approve(approver="li.manager", expected_version=7, now=NOW)

        assert order.state is OrderState.PENDING_APPROVAL
        assert order.version == 1
        assert order.events == []

    def test_expected_version_zero_means_no_version_check(self):
        order = new_order()

        order.approve(approver="li.manager", expected_version=0, now=NOW)

        assert order.state is OrderState.APPROVED

    def test_approving_twice_is_a_failed_precondition(self):
        order = new_order()
        order.approve(approver="li.manager", expected_version=1, now=NOW)
        order.events.clear()

        with pytest.raises(FailedPrecondition):
            order.approve(approver="li.manager", expected_version=2, now=NOW)

        assert order.version == 2
        assert order.events == []

    def test_approving_twice_with_the_first_version_is_a_conflict(self):
        order = new_order()
        order.approve(approver="li.manager", expected_version=1, now=NOW)

        with pytest.raises(VersionConflict):
            order.approve(approver="li.manager", expected_version=1, now=NOW)


class TestOptionLibrary:
    LIBRARY = OptionLibrary(
        colours=("本色 natural", "黑色 black"),
        surface_treatments=("电镀 plating",),
        workshops=("stamping-1", "stamping-2"),
    )

    def test_allowed_values_pass(self):
        self.LIBRARY.check([OrderLine("X", 1, "stamping-1", "黑色 black", "电镀 plating")])

    def test_each_bad_value_is_named_by_its_line_index_and_field(self):
        lines = [
            OrderLine("X", 1, "stamping-1", "黑色 black"),
            OrderLine("Y", 1, "stamping-1", "purple"),
            OrderLine("Z", 1, "welding", "本色 natural", "anodising"),
        ]

        with pytest.raises(InvalidArgument) as caught:
            self.LIBRARY.check(lines)

        assert [v.field for v in caught.value.violations] == [
            "lines[1].colour",
            "lines[2].surface_treatment",
            "lines[2].workshop",
        ]
        assert "'purple'" in caught.value.violations[0].description

    def test_an_empty_value_is_not_checked(self):
        self.LIBRARY.check([OrderLine("X", 1, "stamping-2", colour="", surface_treatment="")])

    def test_an_empty_list_means_free_text(self):
        OptionLibrary().check([OrderLine("X", 1, "any workshop", "any colour", "any treatment")])


@pytest.mark.parametrize(
    ("prefix", "day", "seq", "expected"),
    [
        ("HW", date(2026, 11, 25), 42, "HW-20261125-00042"),
        ("AP", date(2027, 1, 3), 1, "AP-20270103-00001"),
        ("HW", date(2026, 11, 25), 99999, "HW-20261125-99999"),
    ],
)
def test_order_number_is_prefix_day_and_five_digit_sequence(prefix, day, seq, expected):
    assert order_number(prefix, day, seq) == expected


def test_a_page_token_is_checked_after_decoding_too():
    """A page token is base64 of the caller's choosing: decoded, it could carry a NUL byte that
    PostgreSQL refuses (INTERNAL). Only a token this service could have issued gets through."""
    import base64

    from services.order.adapters.repository import decode_cursor, encode_cursor

    order_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert decode_cursor(encode_cursor(date(2026, 12, 1), order_id)) == (date(2026, 12, 1), order_id)
    for forged in ("2026-12-01|\x00' OR 1=1", "2026-12-01|x", "2026-13-01|" + order_id, "no-bar"):
        with pytest.raises(InvalidArgument) as caught:
            decode_cursor(base64.urlsafe_b64encode(forged.encode()).decode())
        assert caught.value.violations[0].field == "page_token"
