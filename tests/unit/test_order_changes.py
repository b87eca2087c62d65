"""Change control in the domain: the diff, line numbering of a proposal, what a change touches and
scraps, the impact when a peer is down, the events a change emits (field by field), production's
stage reports, and prices withheld from diffs."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.production.v1 import production_pb2
from services.chassis.errors import FailedPrecondition, InvalidArgument, VersionConflict
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.chassis.identity import Identity, acting_as
from services.order.api_changes import field_change_to_proto, impact_to_proto
from services.order.consumers import follow_production
from services.order.domain.changes import (
    ChangeRequest,
    FieldChange,
    Impact,
    ImpactedMaterial,
    ImpactedWorkOrder,
    OrderContent,
    diff,
    number_new_lines,
    scrap_value,
    touched_models,
)
from services.order.domain.model import (
    Channel,
    Order,
    OrderChanged,
    OrderChangeRejected,
    OrderChangeRequested,
    OrderLine,
    OrderState,
    OrderStateChanged,
    Priority,
)
from services.order.service_layer.impact import assess_impact
from tests.unit.fakes import FakeOrderUnitOfWork, FakeShopFloor

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HINGE = OrderLine(
    "HB-2040 铰链 hinge",
    5000,
    "stamping-1",
    "银色 silver",
    "电镀 plating",
    85,
    line_no=1,
    route=("stamping-1",),
)
BRACKET = OrderLine(
    "BK-310 支架 bracket",
    2000,
    "stamping-1",
    "本色 natural",
    "无 none",
    120,
    line_no=2,
    route=("stamping-1",),
)
BEFORE = OrderContent(date(2026, 12, 10), "PRIORITY_NORMAL", (HINGE, BRACKET))
GOLD = replace(BEFORE, lines=(replace(HINGE, colour="金色 gold"), BRACKET))


class TestDiff:
    def test_a_colour_change_is_one_field_of_one_line(self):
        assert diff(BEFORE, GOLD) == [
            FieldChange("lines[1].colour", "第1行 line 1 颜色 colour", "银色 silver", "金色 gold")
        ]

    def test_due_date_priority_added_and_removed_lines_in_a_stable_order(self):
        added = OrderLine("SP-08 弹片 spring clip", 100, "stamping-1", unit_price_fen=9, line_no=3)
        after = OrderContent(date(2026, 12, 20), "PRIORITY_HIGH", (HINGE, added))
        assert [(c.path, c.before, c.after) for c in diff(BEFORE, after)] == [
            ("due_date", "2026-12-10", "2026-12-20"),
            ("priority", "PRIORITY_NORMAL", "PRIORITY_HIGH"),
            ("lines[2]", "BK-310 支架 bracket ×2000 本色 natural 无 none stamping-1 @120", ""),
            ("lines[3]", "", "SP-08 弹片 spring clip ×100 stamping-1 @9"),
        ]

    def test_the_same_content_has_no_diff(self):
        assert diff(BEFORE, BEFORE) == []


class TestNumbering:
    def test_new_lines_take_the_next_numbers_and_kept_lines_keep_theirs(self):
        new = OrderLine("SP-08 弹片 spring clip", 100, "stamping-1")
        numbered = number_new_lines(BEFORE, [BRACKET, new, new])
        assert [x.line_no for x in numbered] == [2, 3, 4]

    def test_a_line_the_order_lacks_and_a_line_named_twice_are_reported_at_once(self):
        with pytest.raises(InvalidArgument) as exc:
            number_new_lines(BEFORE, [replace(HINGE, line_no=9), HINGE, HINGE])
        assert [v.field for v in exc.value.violations] == [
            "proposed.lines[0].line_no",
            "proposed.lines[2].line_no",
        ]


class TestWhatAChangeTouches:
    def test_a_colour_change_touches_its_model_a_bigger_quantity_does_not(self):
        more = replace(BEFORE, lines=(HINGE, replace(BRACKET, quantity=2500)))
        assert touched_models(BEFORE, GOLD) == {"HB-2040 铰链 hinge"}
        assert touched_models(BEFORE, more) == set()
        assert touched_models(BEFORE, None) == {"HB-2040 铰链 hinge", "BK-310 支架 bracket"}

    def test_scrap_counts_work_done_on_touched_lines_only(self):
        def wo(stage: str, model: str) -> ImpactedWorkOrder:
            return ImpactedWorkOrder("WO-1", "stamping-1", stage, (model,), 5000, False)

        assert scrap_value(BEFORE, GOLD, [wo("STAGE_TO_SCHEDULE", "HB-2040 铰链 hinge")]) == 0
        assert scrap_value(BEFORE, GOLD, [wo("STAGE_IN_PROCESS", "HB-2040 铰链 hinge")]) == 5000 * 85
        assert scrap_value(BEFORE, GOLD, [wo("STAGE_IN_PROCESS", "BK-310 支架 bracket")]) == 0

    def test_scrap_counts_the_good_pieces_production_reported(self):
        reported = ImpactedWorkOrder(
            "WO-1", "stamping-1", "STAGE_IN_PROCESS", ("HB-2040 铰链 hinge",), 5000, True, 1200, 30
        )
        assert scrap_value(BEFORE, GOLD, [reported]) == 1200 * 85

    def test_a_piece_made_in_two_workshops_is_one_piece(self):
        stamped = ImpactedWorkOrder(
            "WO-1", "stamping-1", "STAGE_QC_PASSED", ("HB-2040 铰链 hinge",), 5000, True, 5000, 0, step=1
        )
        plated = ImpactedWorkOrder(
            "WO-2", "plating", "STAGE_IN_PROCESS", ("HB-2040 铰链 hinge",), 5000, True, 2000, 0, step=2
        )
        assert scrap_value(BEFORE, GOLD, [stamped, plated]) == 5000 * 85

    def test_pieces_a_smaller_quantity_still_takes_are_not_scrap(self):
        fewer = replace(BEFORE, lines=(replace(HINGE, quantity=3000), BRACKET))
        made = ImpactedWorkOrder(
            "WO-1", "stamping-1", "STAGE_IN_PROCESS", ("HB-2040 铰链 hinge",), 5000, True, 4000, 0
        )
        assert scrap_value(BEFORE, fewer, [made]) == (4000 - 3000) * 85
        assert scrap_value(BEFORE, None, [made]) == 4000 * 85  # cancelling the order scraps it all

    @given(
        good=st.lists(st.integers(0, 20_000), min_size=1, max_size=4),
        stage=st.sampled_from(["STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS", "STAGE_QC_PASSED"]),
        after=st.sampled_from([GOLD, None, BEFORE]),
    )
    def test_scrap_is_never_more_than_the_touched_lines_are_worth(self, good, stage, after):
        work = [
            ImpactedWorkOrder(
                f"WO-{i}", "stamping-1", stage, (HINGE.product_model, BRACKET.product_model), 7000, True, g
            )
            for i, g in enumerate(good)
        ]
        touched = touched_models(BEFORE, after)
        worth = sum(x.quantity * x.unit_price_fen for x in BEFORE.lines if x.product_model in touched)
        assert 0 <= scrap_value(BEFORE, after, work) <= worth


class TestImpact:
    def test_stored_impacts_read_back_with_the_new_figures_and_old_ones_with_defaults(self):
        impact = Impact(
            work_orders=(
                ImpactedWorkOrder("WO-1", "plating", "STAGE_IN_PROCESS", ("HB",), 10, True, 4, 1, 2, True, 2),
            ),
            materials=(
                ImpactedMaterial("镀金液 gold plating solution", "L", 0.0, 12.5, 0.0, 0.0, 4.5, True),
            ),
        )
        assert Impact.from_dict(impact.as_dict()) == impact
        old = {
            "work_orders": [
                {
                    "work_order_no": "WO-1",
                    "workshop": "plating",
                    "stage": "STAGE_IN_PROCESS",
                    "product_models": ["HB"],
                    "quantity": 10,
                    "touched": True,
                }
            ],
            "materials": [
                {
                    "material": "镀银液",
                    "unit": "L",
                    "needed_before": 1.0,
                    "needed_after": 0.0,
                    "reserved": 1.0,
                    "issued": 0.0,
                }
            ],
        }
        read = Impact.from_dict(old)
        assert (read.work_orders[0].good_quantity, read.materials[0].at_risk) == (0, False)

    def test_the_proto_carries_every_figure(self):
        impact = Impact(
            work_orders=(
                ImpactedWorkOrder("WO-1", "plating", "STAGE_IN_PROCESS", ("HB",), 10, True, 4, 1, 2, True, 2),
            ),
            materials=(
                ImpactedMaterial("镀金液 gold plating solution", "L", 0.0, 12.5, 0.0, 0.0, 4.5, True),
            ),
            scrap_value_fen=340,
        )
        out = impact_to_proto(impact, withhold=False)
        w, m = out.work_orders[0], out.materials[0]
        assert (w.good_quantity, w.scrap_quantity, w.revision, w.frozen, w.step) == (4, 1, 2, True, 2)
        assert (m.available, m.at_risk, out.scrap_value_fen) == (4.5, True, 340)
        assert impact_to_proto(impact, withhold=True).scrap_value_fen == 0

    WORK = ImpactedWorkOrder(
        "WO-HW-1", "stamping-1", "STAGE_IN_PROCESS", ("HB-2040 铰链 hinge",), 5000, False
    )
    PLATING = ImpactedMaterial("镀银液 silver plating solution", "L", 10.0, 0.0, 0.0, 0.0)

    def test_lists_work_orders_marked_touched_and_materials(self):
        impact = assess_impact("o-1", BEFORE, GOLD, FakeShopFloor([self.WORK], [self.PLATING]))
        assert impact.work_orders == (replace(self.WORK, touched=True),)
        assert impact.materials == (self.PLATING,)
        assert (impact.scrap_value_fen, impact.unavailable, impact.notes) == (5000 * 85, (), ())

    def test_production_down_leaves_its_part_out_and_says_so(self):
        impact = assess_impact(
            "o-1", BEFORE, GOLD, FakeShopFloor([self.WORK], [self.PLATING], down=("production",))
        )
        assert (impact.work_orders, impact.materials, impact.unavailable) == (
            (),
            (self.PLATING,),
            ("production",),
        )
        assert "production did not answer: Unavailable" in impact.notes[0]

    def test_both_down_still_gives_an_impact(self):
        impact = assess_impact("o-1", BEFORE, None, FakeShopFloor(down=("production", "inventory")))
        assert impact.unavailable == ("production", "inventory") and len(impact.notes) == 2
        assert "DeadlineExceeded" in impact.notes[1]


def approved_order() -> Order:
    order = Order.create(
        order_id="o-1",
        order_no="HW-20261125-00001",
        customer_id="c-1",
        channel=Channel.DIRECT,
        priority=Priority.NORMAL,
        due_date=date(2026, 12, 10),
        lines=[replace(HINGE, line_no=0), replace(BRACKET, line_no=0)],
        created_by="陈丽",
        now=NOW,
    )
    order.approve(approver="李经理", expected_version=1, now=NOW)
    order.events.clear()
    return order


def change_of(order: Order, proposed: OrderContent | None = GOLD) -> ChangeRequest:
    return ChangeRequest(
        change_id="ch-1",
        order_id=order.order_id,
        base_revision=order.revision,
        proposed=proposed,
        reason="客户改色",
        requested_by="陈丽",
        requested_at=NOW,
        diff=diff(order.content(), proposed) if proposed else [],
    )


class TestChangeEvents:
    def test_a_request_freezes_with_the_diff(self):
        order = approved_order()
        order.request_change(change_of(order), expected_version=2)
        assert order.events == [
            OrderChangeRequested(
                order_id="o-1",
                order_no="HW-20261125-00001",
                customer_id="c-1",
                version=3,
                change_id="ch-1",
                revision=1,
                requested_by="陈丽",
                reason="客户改色",
                cancels_order=False,
                diff=[
                    {
                        "path": "lines[1].colour",
                        "label": "第1行 line 1 颜色 colour",
                        "before": "银色 silver",
                        "after": "金色 gold",
                    }
                ],
            )
        ]

    def test_approval_makes_revision_two_with_the_whole_content(self):
        order = approved_order()
        change = change_of(order)
        order.request_change(change, expected_version=2)
        order.events.clear()
        order.approve_change(change, actor="李经理", expected_version=3, now=NOW)
        [event] = order.events
        assert event == OrderChanged(
            order_id="o-1",
            order_no="HW-20261125-00001",
            customer_id="c-1",
            version=4,
            change_id="ch-1",
            revision=2,
            previous_revision=1,
            approved_by="李经理",
            reason="客户改色",
            cancels_order=False,
            due_date="2026-12-10",
            priority="PRIORITY_NORMAL",
            lines=[
                {
                    "product_model": "HB-2040 铰链 hinge",
                    "quantity": 5000,
                    "colour": "金色 gold",
                    "surface_treatment": "电镀 plating",
                    "workshop": "stamping-1",
                    "unit_price_fen": 85,
                    "line_no": 1,
                    "packaging": "",
                    "route": ["stamping-1"],
                },
                {
                    "product_model": "BK-310 支架 bracket",
                    "quantity": 2000,
                    "colour": "本色 natural",
                    "surface_treatment": "无 none",
                    "workshop": "stamping-1",
                    "unit_price_fen": 120,
                    "line_no": 2,
                    "packaging": "",
                    "route": ["stamping-1"],
                },
            ],
            diff=[c.as_dict() for c in change.diff],
        )
        assert (order.state, order.revision, [r.revision for r in order.new_revisions]) == (
            OrderState.APPROVED,
            2,
            [1, 2],
        )
        assert order.new_revisions[0].content == BEFORE

    def test_a_cancelling_change_cancels_the_order(self):
        order = approved_order()
        change = change_of(order, proposed=None)
        order.request_change(change, expected_version=2)
        order.approve_change(change, actor="李经理", expected_version=3, now=NOW)
        assert order.state is OrderState.CANCELLED and order.revision == 1
        assert [e.event_type for e in order.events] == [
            "order_change_requested",
            "order_changed",
            "order_cancelled",
        ]

    def test_rejection_returns_the_order_and_unfreezes(self):
        order = approved_order()
        order.report_production(OrderState.IN_PRODUCTION, actor="svc:production", now=NOW)
        change = change_of(order)
        order.request_change(change, expected_version=3)
        order.events.clear()
        order.reject_change(change, actor="李经理", expected_version=4, now=NOW, note="已电镀 already plated")
        assert order.events == [
            OrderChangeRejected(
                "o-1", "HW-20261125-00001", "c-1", 5, "ch-1", "李经理", "已电镀 already plated"
            )
        ]
        assert (order.state, order.revision, order.pending_change_id) == (OrderState.IN_PRODUCTION, 1, "")

    def test_another_change_than_the_pending_one_is_refused(self):
        order = approved_order()
        order.request_change(change_of(order), expected_version=2)
        stranger = replace(change_of(order), change_id="ch-other")
        with pytest.raises(FailedPrecondition, match="ch-other"):
            order.approve_change(stranger, actor="李经理", expected_version=3, now=NOW)
        with pytest.raises(VersionConflict):  # a stale screen is told so first
            order.approve_change(stranger, actor="李经理", expected_version=2, now=NOW)

    def test_a_change_against_an_older_revision_is_a_conflict(self):
        order = approved_order()
        with pytest.raises(VersionConflict, match="revision 0"):
            order.request_change(replace(change_of(order), base_revision=0), expected_version=2)


class TestPricesInDiffs:
    def test_a_price_change_is_blank_and_a_whole_line_loses_its_price(self):
        price = FieldChange("lines[1].unit_price_fen", "单价", "85", "90")
        line = FieldChange("lines[3]", "第3行", "", "SP-08 ×100 stamping-1 @9")
        colour = FieldChange("lines[1].colour", "颜色", "银色 silver", "金色 gold")
        assert [
            (f.before, f.after) for f in map(lambda c: field_change_to_proto(c, True), [price, line, colour])
        ] == [
            ("", ""),
            ("", "SP-08 ×100 stamping-1"),
            ("银色 silver", "金色 gold"),
        ]
        assert field_change_to_proto(price, False).after == "90"


# --- production's stage reports ----------------------------------------------------------------

SERVICE = Identity("hardware", "svc:order", frozenset({"service"}))


def stage_event(order_id: str, stage: str, sequence: int = 1, **over) -> ReceivedEvent:
    data = {
        "work_order_id": str(uuid.uuid4()),
        "work_order_no": "WO-1",
        "order_id": order_id,
        "order_no": "HW-20261125-00001",
        "workshop": "stamping-1",
        "stage": stage,
        "previous_stage": "STAGE_TO_SCHEDULE",
        "order_stage": stage,
        "sequence": sequence,
        "changed_at": "2026-11-25T10:00:00+00:00",
    } | over
    return ReceivedEvent(
        str(uuid.uuid4()), "work_order_stage_changed", "hardware", "production", NOW.isoformat(), data
    )


@pytest.fixture
def stored():
    """An approved order in a fake database, and a unit of work on it."""
    uow = FakeOrderUnitOfWork()
    with acting_as(SERVICE), uow:
        order = approved_order()
        order.transitions.clear()
        uow.orders.add(order)
        uow.commit()
    return uow


def test_production_moves_the_order_with_an_event(stored):
    with acting_as(SERVICE), stored:
        follow_production(stage_event("o-1", "STAGE_IN_PROCESS"), stored)
        stored.commit()
        order = stored.orders.get("o-1")
    assert (order.state, order.production_state) == (OrderState.IN_PRODUCTION, OrderState.IN_PRODUCTION)
    [event] = [e for e in stored.db.events if isinstance(e, OrderStateChanged)]
    assert (event.from_state, event.to_state, event.at, event.version) == (
        "ORDER_STATE_APPROVED",
        "ORDER_STATE_IN_PRODUCTION",
        "2026-11-25T10:00:00+00:00",
        3,
    )


def test_a_report_while_a_change_is_pending_is_only_remembered(stored):
    with acting_as(SERVICE), stored:
        order = stored.orders.get("o-1")
        order.request_change(change_of(order), expected_version=order.version)
        stored.orders.save(order)
        stored.commit()
    with acting_as(SERVICE), stored:
        follow_production(stage_event("o-1", "STAGE_QC_PASSED"), stored)
        stored.commit()
        order = stored.orders.get("o-1")
    assert (order.state, order.production_state) == (OrderState.PENDING_CHANGE, OrderState.QC_PASSED)
    assert not [e for e in stored.db.events if isinstance(e, OrderStateChanged)]


def test_each_work_orders_newest_report_is_kept_whatever_order_they_arrive_in(stored):
    """`sequence` counts the order's reports: one arriving after a newer report of another work
    order is stale for the order but news for its own work order."""
    stamping, plating = str(uuid.uuid4()), str(uuid.uuid4())
    with acting_as(SERVICE), stored:
        follow_production(stage_event("o-1", "STAGE_QC_PASSED", 2, work_order_id=plating), stored)
        follow_production(stage_event("o-1", "STAGE_IN_PROCESS", 1, work_order_id=stamping), stored)
        follow_production(stage_event("o-1", "STAGE_TO_SCHEDULE", 1, work_order_id=plating), stored)  # older
        stored.commit()
        assert stored.progress.stage_of(stamping) == "STAGE_IN_PROCESS"
        assert stored.progress.stage_of(plating) == "STAGE_QC_PASSED"
        assert stored.orders.get("o-1").production_state == OrderState.QC_PASSED  # the order's newest


@pytest.mark.parametrize(
    ("order_id", "over", "why"),
    [
        ("o-1", {"sequence": 0}, "sequence"),
        ("o-1", {"work_order_no": "WO-" + "9" * 80}, "no system wrote"),
        ("o-1", {"work_order_id": ""}, "no work order"),
        ("o-1", {"order_stage": "STAGE_UNSPECIFIED"}, "order_stage"),
        ("o-1", {"changed_at": "yesterday"}, "changed_at"),
        ("o-404", {}, "no order"),
    ],
)
def test_a_report_no_retry_can_apply_is_malformed(stored, order_id, over, why):
    with acting_as(SERVICE), stored, pytest.raises(MalformedEvent, match=why):
        follow_production(stage_event(order_id, "STAGE_IN_PROCESS", **over), stored)


def test_a_report_of_no_stage_is_malformed(stored):
    with acting_as(SERVICE), stored, pytest.raises(MalformedEvent, match="has stage"):
        follow_production(stage_event("o-1", "STAGE_UNSPECIFIED"), stored)


def test_the_event_contract_is_production_s_proto():
    names = set(production_pb2.WorkOrderStageChanged.DESCRIPTOR.fields_by_name)
    assert set(stage_event("o-1", "STAGE_IN_PROCESS").data) == names
    assert OrderStateChanged.event_type == "order_state_changed"


def test_a_material_at_risk_is_flagged_and_said_in_words():
    gold = ImpactedMaterial("镀金液 gold plating solution", "L", 0.0, 12.5, 0.0, 0.0, 4.5, True)
    silver = ImpactedMaterial("镀银液 silver plating solution", "L", 10.0, 0.0, 10.0, 0.0, 30.0, False)

    impact = assess_impact("o-1", BEFORE, GOLD, FakeShopFloor([], [silver, gold]))

    assert impact.materials == (silver, gold) and impact.unavailable == ()
    assert impact.notes == (
        "缺料风险 镀金液 gold plating solution at risk: needs 12.5 L, holds 0, 4.5 more available",
    )
