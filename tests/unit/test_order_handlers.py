"""Order use cases, run against hand-written fakes of the unit of work and the peer services."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.chassis.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
    VersionConflict,
)
from services.chassis.events import EventCodec
from services.chassis.identity import Identity, acting_as
from services.order.app import definition as order_service
from services.order.domain.changes import ChangeRequest, FieldChange
from services.order.domain.materials import ReservationResult, Shortage
from services.order.domain.model import Channel, OptionLibrary, OrderLine, OrderState, Priority
from services.order.service_layer import handlers
from services.order.service_layer.handlers import ApproveOrder, CreateOrder
from services.order.service_layer.ports import ShortageOverride
from tests.unit.fakes import FakeCustomers, FakeOrderUnitOfWork, FakeReservations, UowFactory

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
CUSTOMER = "c-midea"
OTHER_CUSTOMER = "c-gree"
SALES = Identity("hardware", "wu.xiaoyan", frozenset({"sales"}))
APPROVER = Identity("hardware", "li.manager", frozenset({"approver"}))
MANAGER = Identity("hardware", "sun.manager", frozenset({"manager"}))
GOLD_SHORT = Shortage("镀金液 gold plating solution", "L", 12.5, 8.0)
OPTIONS = OptionLibrary(colours=("银色 silver", "黑色 black"), workshops=("stamping-1", "stamping-2"))
LINES = [
    OrderLine("HB-2040", 300, "stamping-1", "银色 silver"),
    OrderLine("SB-55", 100, "stamping-2"),
    OrderLine("HB-2040", 200, "stamping-1", "黑色 black"),
]


@pytest.fixture
def uow() -> UowFactory:
    return UowFactory(FakeOrderUnitOfWork, EventCodec("order", order_service.contracts))


def create(uow, *, customers=None, request_id="", customer_id=CUSTOMER, lines=LINES, options=OPTIONS):
    cmd = CreateOrder(
        customer_id=customer_id,
        channel=Channel.DIRECT,
        priority=Priority.HIGH,
        due_date=date(2026, 12, 10),
        lines=lines,
        request_id=request_id,
    )
    customers = customers or FakeCustomers(CUSTOMER, OTHER_CUSTOMER)
    return handlers.create_order(cmd, uow, customers, options, "HW", uow.numbers, clock=lambda: NOW)


def approve(uow, order, materials, *, expected_version=None, override_reason=None):
    version = order.version if expected_version is None else expected_version
    cmd = ApproveOrder(order.order_id, version, override_reason is not None, override_reason or "")
    return handlers.approve_order(cmd, uow, materials, clock=lambda: NOW)


def outbox(uow) -> list[tuple[str, dict]]:
    return [(m.routing_key, json.loads(m.body)["data"]) for m in uow.db.outbox]


class TestCreateOrder:
    def test_creates_a_pending_order_numbered_by_tenant_prefix_and_day(self, uow):
        with acting_as(SALES):
            order = create(uow)

        assert order.order_no == "HW-20261125-00001"
        assert order.state is OrderState.PENDING_APPROVAL
        assert order.created_by == "wu.xiaoyan"
        [stored] = uow.opened[-1].committed_orders()
        assert stored.order_id == order.order_id
        assert stored.lines == [
            replace(x, line_no=n, route=(x.workshop,)) for n, x in enumerate(LINES, start=1)
        ]

    def test_numbers_count_up_within_a_day(self, uow):
        with acting_as(SALES):
            numbers = [create(uow).order_no for _ in range(3)]

        assert numbers == ["HW-20261125-00001", "HW-20261125-00002", "HW-20261125-00003"]

    def test_publishes_order_created_through_the_outbox(self, uow):
        with acting_as(SALES):
            order = create(uow)

        assert outbox(uow) == [
            (
                "order_created",
                {
                    "order_id": order.order_id,
                    "order_no": "HW-20261125-00001",
                    "customer_id": CUSTOMER,
                    "channel": "CHANNEL_DIRECT",
                    "priority": "PRIORITY_HIGH",
                    "due_date": "2026-12-10",
                },
            )
        ]
        assert uow.db.outbox[0].tenant_id == "hardware"

    def test_the_same_request_id_twice_returns_the_first_order(self, uow):
        with acting_as(SALES):
            first = create(uow, request_id="phone-7f3a")
            again = create(uow, request_id="phone-7f3a")

        assert again.order_id == first.order_id
        assert again.order_no == first.order_no
        assert len(uow.opened[-1].committed_orders()) == 1
        assert [key for key, _ in outbox(uow)] == ["order_created"]

    def test_a_request_id_reused_for_other_content_is_refused_not_answered(self, uow):
        with acting_as(SALES):
            first = create(uow, request_id="phone-7f3a")
            with pytest.raises(AlreadyExists, match=first.order_no):
                create(uow, request_id="phone-7f3a", customer_id=OTHER_CUSTOMER)
            with pytest.raises(AlreadyExists):
                create(uow, request_id="phone-7f3a", lines=LINES[:1])
        assert len(uow.opened[-1].committed_orders()) == 1

    def test_a_resubmission_costs_no_order_number_and_no_look_up_first(self, uow):
        with acting_as(SALES):
            first = create(uow, request_id="phone-7f3a")
            create(uow, request_id="phone-7f3a")
            create(uow, request_id="phone-7f3a")
            nxt = create(uow, request_id="phone-9b21")
        assert [first.order_no, nxt.order_no] == ["HW-20261125-00001", "HW-20261125-00002"]
        # a new order is one write transaction: no read of request_id before it
        assert not uow.opened[0].read_only and len(uow.opened) == 1 + 2 * 2 + 1

    def test_different_request_ids_make_different_orders(self, uow):
        with acting_as(SALES):
            a = create(uow, request_id="r-1")
            b = create(uow, request_id="r-2")

        assert a.order_id != b.order_id

    def test_a_concurrent_commit_of_the_same_request_id_returns_the_winner(self, uow):
        """The lookup misses, then another request with the same id commits before our insert."""
        winner = {}

        class RacingCustomers(FakeCustomers):
            def look_up(self, customer_id):
                if not winner:
                    winner["order"] = create(uow, request_id="phone-7f3a")
                return super().look_up(customer_id)

        with acting_as(SALES):
            result = create(uow, request_id="phone-7f3a", customers=RacingCustomers(CUSTOMER))

        assert result.order_id == winner["order"].order_id
        assert len(uow.opened[-1].committed_orders()) == 1

    def test_a_deactivated_customer_takes_no_new_order(self, uow):
        with acting_as(SALES), pytest.raises(FailedPrecondition, match="已停用"):
            create(uow, customers=FakeCustomers(CUSTOMER, inactive=(CUSTOMER,)))
        assert uow.db.commits == 0

    def test_an_unknown_customer_is_an_invalid_customer_id(self, uow):
        with acting_as(SALES), pytest.raises(InvalidArgument) as caught:
            create(uow, customer_id="c-nobody")

        assert [v.field for v in caught.value.violations] == ["customer_id"]
        assert uow.db.commits == 0

    def test_lines_outside_the_option_library_are_refused_before_asking_anyone(self, uow):
        customers = FakeCustomers(CUSTOMER)
        bad = [*LINES, OrderLine("HB-2040", 1, "stamping-9")]

        with acting_as(SALES), pytest.raises(InvalidArgument) as caught:
            create(uow, customers=customers, lines=bad)

        assert [v.field for v in caught.value.violations] == ["lines[3].workshop"]
        assert customers.asked == []
        assert uow.db.commits == 0

    def test_a_portal_account_orders_for_its_own_customer(self, uow):
        portal = Identity("hardware", "midea.buyer", frozenset({"customer"}), customer_id=CUSTOMER)

        with acting_as(portal):
            order = create(uow, customer_id=CUSTOMER)

        assert order.customer_id == CUSTOMER

    def test_a_portal_account_cannot_order_for_another_customer(self, uow):
        portal = Identity("hardware", "midea.buyer", frozenset({"customer"}), customer_id=CUSTOMER)

        with acting_as(portal), pytest.raises(InvalidArgument) as caught:
            create(uow, customer_id=OTHER_CUSTOMER)

        assert [v.field for v in caught.value.violations] == ["customer_id"]
        assert uow.db.commits == 0


class TestApproveOrder:
    @pytest.fixture
    def order(self, uow):
        with acting_as(SALES):
            return create(uow)

    def test_approves_after_inventory_reserved_the_orders_materials(self, uow, order):
        materials = FakeReservations()

        with acting_as(APPROVER):
            approved = approve(uow, order, materials)

        assert approved.state is OrderState.APPROVED
        assert approved.version == 2
        assert approved.approved_by == "li.manager"
        assert materials.asked == [(order.order_id, 1, None)]  # the order's content revision 1
        [stored] = uow.opened[-1].committed_orders()
        assert (stored.state, stored.version, stored.materials_short, stored.materials_locked) == (
            OrderState.APPROVED,
            2,
            False,
            False,
        )

    def test_publishes_order_approved_with_its_lines_and_revision(self, uow, order):
        with acting_as(APPROVER):
            approve(uow, order, FakeReservations())

        key, data = outbox(uow)[-1]
        assert key == "order_approved"
        lines = data.pop("lines")
        assert data == {
            "order_id": order.order_id,
            "order_no": "HW-20261125-00001",
            "customer_id": CUSTOMER,
            "priority": "PRIORITY_HIGH",
            "due_date": "2026-12-10",
            "version": 2,
            "approved_by": "li.manager",
            "revision": 1,
        }
        assert [(x["product_model"], x["quantity"], x["workshop"]) for x in lines] == [
            ("HB-2040", 300, "stamping-1"),
            ("SB-55", 100, "stamping-2"),
            ("HB-2040", 200, "stamping-1"),
        ]

    def test_materials_locked_by_a_tenant_rule_show_on_the_order_and_in_the_event(self, uow, order):
        with acting_as(APPROVER):
            approved = approve(uow, order, FakeReservations(lock_rule="amount_over_50k"))

        assert (approved.materials_locked, approved.lock_rule, approved.materials_short) == (
            True,
            "amount_over_50k",
            False,
        )
        _, data = outbox(uow)[-1]
        assert (data["materials_locked"], data["lock_rule"], "materials_short" in data) == (
            True,
            "amount_over_50k",
            False,
        )

    def test_a_shortfall_refuses_approval_with_inventorys_message_and_commits_nothing(self, uow, order):
        commits_before, events_before = uow.db.commits, len(uow.db.outbox)

        with acting_as(APPROVER), pytest.raises(FailedPrecondition) as refused:
            approve(uow, order, FakeReservations(short=(GOLD_SHORT,)))

        assert str(refused.value) == (
            "inventory service (ReserveMaterials): 材料不足 materials short: "
            "镀金液 gold plating solution needs 12.5 L, short 8"
        )
        assert uow.db.commits == commits_before
        assert len(uow.db.outbox) == events_before
        [stored] = uow.opened[-1].committed_orders()
        assert (stored.state, stored.version) == (OrderState.PENDING_APPROVAL, 1)

    def test_a_manager_accepts_a_shortage_with_a_reason_audited_in_history_and_event(self, uow, order):
        materials = FakeReservations(short=(GOLD_SHORT,))

        with acting_as(MANAGER):
            approved = approve(uow, order, materials, override_reason="  镀金液周三到货 arrives Wednesday ")
            history = handlers.order_history(order.order_id, uow)

        assert materials.asked == [(order.order_id, 1, ShortageOverride("镀金液周三到货 arrives Wednesday"))]
        assert (approved.state, approved.materials_short) == (OrderState.APPROVED, True)
        step = history[-1]
        assert (step.action.value, step.actor, step.reason, step.changes) == (
            "approve",
            "sun.manager",
            "镀金液周三到货 arrives Wednesday",
            (
                FieldChange(
                    "materials_short[镀金液 gold plating solution]",
                    "缺料 material short: 镀金液 gold plating solution",
                    "需要 needed 12.5 L",
                    "缺 short 8 L",
                ),
            ),
        )
        _, data = outbox(uow)[-1]
        assert {k: data[k] for k in ("approved_by", "materials_short", "override_reason", "shortages")} == {
            "approved_by": "sun.manager",
            "materials_short": True,
            "override_reason": "镀金液周三到货 arrives Wednesday",
            "shortages": [
                {"material": "镀金液 gold plating solution", "unit": "L", "needed": 12.5, "short": 8.0}
            ],
        }

    def test_an_override_without_a_shortage_records_no_reason(self, uow, order):
        with acting_as(MANAGER):
            approved = approve(uow, order, FakeReservations(), override_reason="以防万一 just in case")
            history = handlers.order_history(order.order_id, uow)

        assert approved.materials_short is False
        assert (history[-1].reason, history[-1].changes) == ("", ())
        assert "override_reason" not in outbox(uow)[-1][1]

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_an_override_needs_a_reason_before_anything_is_asked(self, uow, order, reason):
        materials = FakeReservations(short=(GOLD_SHORT,))

        with acting_as(MANAGER), pytest.raises(InvalidArgument) as refused:
            approve(uow, order, materials, override_reason=reason)

        assert [(v.field, v.description) for v in refused.value.violations] == [
            ("override_reason", "required with override_shortage")
        ]
        assert materials.asked == []

    def test_a_reason_without_an_override_is_refused_not_ignored(self, uow, order):
        cmd = ApproveOrder(order.order_id, 1, override_shortage=False, override_reason="客户急单 rush")

        with acting_as(MANAGER), pytest.raises(InvalidArgument) as refused:
            handlers.approve_order(cmd, uow, FakeReservations())

        assert [v.field for v in refused.value.violations] == ["override_reason"]

    @pytest.mark.parametrize(
        ("roles", "allowed"),
        [({"approver"}, False), ({"approver", "sales"}, False), ({"manager"}, True), ({"admin"}, True)],
    )
    def test_only_a_manager_overrides_a_shortage(self, uow, order, roles, allowed):
        materials = FakeReservations(short=(GOLD_SHORT,))
        caller = Identity("hardware", "someone", frozenset(roles))

        with acting_as(caller):
            if allowed:
                assert approve(uow, order, materials, override_reason="急单 rush").materials_short
            else:
                with pytest.raises(PermissionDenied, match="缺料接单需经理批准"):
                    approve(uow, order, materials, override_reason="急单 rush")
                assert materials.asked == []

    def test_a_held_reservation_short_without_override_is_accepted_by_this_callers_override(self, uow, order):
        """Inventory answers the reservation it holds for the revision (idempotent) even when it
        came up short later without an override: the approver's override is what accepts it."""
        materials = FakeReservations()
        with acting_as(MANAGER):
            key = ("hardware", order.order_id, 1)
            materials.held[key] = ReservationResult(1, shortages=(GOLD_SHORT,))
            with pytest.raises(FailedPrecondition, match="a manager may accept it with override_shortage"):
                approve(uow, order, materials)
            approved = approve(uow, order, materials, override_reason="客户同意延期 customer agreed")
            step = handlers.order_history(order.order_id, uow)[-1]

        assert approved.materials_short is True
        assert (step.actor, step.reason) == ("sun.manager", "客户同意延期 customer agreed")

    def test_an_unavailable_wms_leaves_the_order_pending_and_unchanged(self, uow, order):
        commits_before = uow.db.commits

        with acting_as(APPROVER), pytest.raises(Unavailable, match=r"WMS 不可用 .* retry the approval"):
            approve(uow, order, FakeReservations(down=True))

        assert uow.db.commits == commits_before
        [stored] = uow.opened[-1].committed_orders()
        assert (stored.state, stored.version, stored.approved_by) == (OrderState.PENDING_APPROVAL, 1, "")
        with acting_as(APPROVER):
            assert [t.action.value for t in handlers.order_history(order.order_id, uow)] == ["create"]

    def test_a_retry_after_a_version_conflict_gets_the_same_reservation(self, uow, order):
        """Reserve, then someone changes the order before the approval is written: the write
        fails (ABORTED), the reservation stays for the revision, and the retry is answered it."""
        materials = FakeReservations(lock_rule="amount_over_50k")
        reserve = materials.reserve

        def reserve_while_a_change_comes_and_goes(o, override):
            result = reserve(o, override)
            if len(materials.asked) == 1:
                with uow() as tx:  # a change asked for and rejected meanwhile: version 3, revision 1
                    current = tx.orders.get(o.order_id)
                    change = ChangeRequest(
                        "ch-1", o.order_id, 1, None, "取消? cancel?", "wu.xiaoyan", NOW, []
                    )
                    current.request_change(change, expected_version=1)
                    current.reject_change(
                        change, actor="li.manager", expected_version=2, now=NOW, note="不取消"
                    )
                    tx.orders.save(current)
                    tx.commit()
            return result

        materials.reserve = reserve_while_a_change_comes_and_goes  # type: ignore[method-assign]
        with acting_as(APPROVER):
            with pytest.raises(VersionConflict):
                approve(uow, order, materials)
            approved = approve(uow, order, materials, expected_version=3)

        assert materials.asked == [(order.order_id, 1, None), (order.order_id, 1, None)]
        assert len(materials.held) == 1  # one reservation, answered twice
        assert (approved.state, approved.version, approved.lock_rule) == (
            OrderState.APPROVED,
            4,
            "amount_over_50k",
        )
        assert [key for key, _ in outbox(uow)].count("order_approved") == 1

    def test_two_approvers_racing_make_one_reservation_and_one_approval(self, uow, order):
        materials = FakeReservations()
        reserve = materials.reserve

        def reserve_while_another_approves(o, override):
            result = reserve(o, override)
            if len(materials.asked) == 1:
                with acting_as(MANAGER):
                    approve(uow, order, materials)  # the other approver wins the write
            return result

        materials.reserve = reserve_while_another_approves  # type: ignore[method-assign]
        with acting_as(APPROVER), pytest.raises(VersionConflict):
            approve(uow, order, materials)

        assert len(materials.held) == 1
        [stored] = uow.opened[-1].committed_orders()
        assert (stored.state, stored.approved_by) == (OrderState.APPROVED, "sun.manager")
        assert [key for key, _ in outbox(uow)].count("order_approved") == 1

    def test_approving_twice_is_a_failed_precondition_and_reserves_nothing_again(self, uow, order):
        materials = FakeReservations()
        with acting_as(APPROVER):
            approve(uow, order, materials)

            with pytest.raises(FailedPrecondition):
                approve(uow, order, materials, expected_version=2)

        assert len(materials.asked) == 1
        assert [key for key, _ in outbox(uow)] == ["order_created", "order_approved"]

    def test_a_draft_is_not_reserved_for(self, uow):
        cmd = CreateOrder(CUSTOMER, Channel.AGENT, Priority.NORMAL, date(2026, 12, 10), LINES, draft=True)
        materials = FakeReservations()
        with acting_as(SALES):
            draft = handlers.create_order(cmd, uow, FakeCustomers(CUSTOMER), OPTIONS, "HW", uow.numbers)

        with acting_as(APPROVER), pytest.raises(FailedPrecondition, match="草稿 Draft"):
            approve(uow, draft, materials)

        assert materials.asked == []

    def test_a_stale_expected_version_is_a_conflict_before_anything_is_reserved(self, uow, order):
        materials = FakeReservations(short=(GOLD_SHORT,))
        with acting_as(APPROVER), pytest.raises(VersionConflict):
            approve(uow, order, materials, expected_version=3)
        assert materials.asked == []

    def test_an_order_of_another_tenant_is_not_found(self, uow, order):
        stranger = Identity("autoparts", "zhao.approver", frozenset({"approver"}))

        with acting_as(stranger), pytest.raises(NotFound):
            approve(uow, order, FakeReservations())


def test_order_numbers_follow_the_plants_calendar_not_utc(uow):
    # 20:30 UTC on 25 Nov is 04:30 on 26 Nov in the plant (Asia/Shanghai): the order belongs to the 26th.
    late_evening_utc = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)
    cmd = CreateOrder(CUSTOMER, Channel.DIRECT, Priority.NORMAL, date(2026, 12, 10), LINES)
    with acting_as(SALES):
        order = handlers.create_order(
            cmd, uow, FakeCustomers(CUSTOMER), OPTIONS, "HW", uow.numbers, clock=lambda: late_evening_utc
        )
    assert order.order_no == "HW-20261126-00001"


class TestLifecycleSteps:
    def test_a_draft_is_submitted_and_an_order_cancelled_each_announced_by_its_event(self, uow):
        cmd = CreateOrder(CUSTOMER, Channel.AGENT, Priority.NORMAL, date(2026, 12, 10), LINES, draft=True)
        with acting_as(SALES):
            draft = handlers.create_order(
                cmd, uow, FakeCustomers(CUSTOMER), OPTIONS, "HW", uow.numbers, clock=lambda: NOW
            )
            submitted = handlers.submit_order(handlers.SubmitOrder(draft.order_id, 1), uow, clock=lambda: NOW)
            cancelled = handlers.cancel_order(
                handlers.CancelOrder(draft.order_id, 2, "客户取消 customer withdrew"), uow, clock=lambda: NOW
            )
        assert (draft.state, submitted.state, cancelled.state) == (
            OrderState.DRAFT,
            OrderState.PENDING_APPROVAL,
            OrderState.CANCELLED,
        )
        assert outbox(uow)[1:] == [
            (
                "order_submitted",
                {
                    "order_id": draft.order_id,
                    "order_no": "HW-20261125-00001",
                    "customer_id": CUSTOMER,
                    "version": 2,
                    "submitted_by": "wu.xiaoyan",
                },
            ),
            (
                "order_cancelled",
                {
                    "order_id": draft.order_id,
                    "order_no": "HW-20261125-00001",
                    "customer_id": CUSTOMER,
                    "version": 3,
                    "cancelled_by": "wu.xiaoyan",
                    "reason": "客户取消 customer withdrew",
                },
            ),
        ]
        with acting_as(SALES):
            history = handlers.order_history(draft.order_id, uow)
        assert [(t.action.value, t.version, t.actor, t.at) for t in history] == [
            ("create", 1, "wu.xiaoyan", NOW),
            ("submit", 2, "wu.xiaoyan", NOW),
            ("cancel", 3, "wu.xiaoyan", NOW),
        ]

    def test_a_cancelled_order_takes_no_further_step_and_nothing_is_written(self, uow):
        with acting_as(SALES):
            order = create(uow)
            handlers.cancel_order(handlers.CancelOrder(order.order_id, 1, "重复下单 duplicate"), uow)
            commits = uow.db.commits
            with pytest.raises(FailedPrecondition, match="已取消 Cancelled"):
                handlers.submit_order(handlers.SubmitOrder(order.order_id, 0), uow)
        with acting_as(APPROVER), pytest.raises(FailedPrecondition, match="已取消 Cancelled"):
            approve(uow, order, FakeReservations(), expected_version=2)
        assert uow.db.commits == commits
