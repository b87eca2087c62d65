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
    VersionConflict,
)
from services.chassis.events import EventCodec
from services.chassis.identity import Identity, acting_as
from services.order.app import definition as order_service
from services.order.domain.model import Channel, OptionLibrary, OrderLine, OrderState, Priority
from services.order.service_layer import handlers
from services.order.service_layer.handlers import ApproveOrder, CreateOrder
from tests.unit.fakes import FakeCustomers, FakeOrderUnitOfWork, FakeStock, UowFactory

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
CUSTOMER = "c-midea"
OTHER_CUSTOMER = "c-gree"
SALES = Identity("hardware", "wu.xiaoyan", frozenset({"sales"}))
APPROVER = Identity("hardware", "li.manager", frozenset({"approver"}))
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


def approve(uow, order, stock, *, expected_version=None):
    version = order.version if expected_version is None else expected_version
    return handlers.approve_order(ApproveOrder(order.order_id, version), uow, stock, clock=lambda: NOW)


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

    def test_approves_with_enough_stock_for_the_summed_lines(self, uow, order):
        stock = FakeStock({"HB-2040": 500, "SB-55": 100})

        with acting_as(APPROVER):
            approved = approve(uow, order, stock)

        assert approved.state is OrderState.APPROVED
        assert approved.version == 2
        assert approved.approved_by == "li.manager"
        assert stock.asked == [{"HB-2040": 500, "SB-55": 100}]
        [stored] = uow.opened[-1].committed_orders()
        assert (stored.state, stored.version) == (OrderState.APPROVED, 2)

    def test_publishes_order_approved_with_its_lines(self, uow, order):
        with acting_as(APPROVER):
            approve(uow, order, FakeStock({"HB-2040": 500, "SB-55": 100}))

        key, data = outbox(uow)[-1]
        assert key == "order_approved"
        assert data["order_id"] == order.order_id
        assert data["version"] == 2
        assert data["approved_by"] == "li.manager"
        assert [(x["product_model"], x["quantity"], x["workshop"]) for x in data["lines"]] == [
            ("HB-2040", 300, "stamping-1"),
            ("SB-55", 100, "stamping-2"),
            ("HB-2040", 200, "stamping-1"),
        ]

    def test_a_shortfall_refuses_approval_and_commits_nothing(self, uow, order):
        commits_before, events_before = uow.db.commits, len(uow.db.outbox)
        stock = FakeStock({"HB-2040": 499, "SB-55": 100})  # 300 + 200 needed

        with acting_as(APPROVER), pytest.raises(FailedPrecondition, match="HB-2040 needs 500, 499 available"):
            approve(uow, order, stock)

        assert uow.db.commits == commits_before
        assert len(uow.db.outbox) == events_before
        [stored] = uow.opened[-1].committed_orders()
        assert (stored.state, stored.version) == (OrderState.PENDING_APPROVAL, 1)

    def test_approving_twice_is_a_failed_precondition(self, uow, order):
        stock = FakeStock({"HB-2040": 500, "SB-55": 100})
        with acting_as(APPROVER):
            approve(uow, order, stock)

            with pytest.raises(FailedPrecondition):
                approve(uow, order, stock, expected_version=2)

        assert [key for key, _ in outbox(uow)] == ["order_created", "order_approved"]

    def test_a_stale_expected_version_is_a_conflict(self, uow, order):
        with acting_as(APPROVER), pytest.raises(VersionConflict):
            approve(uow, order, FakeStock({"HB-2040": 500, "SB-55": 100}), expected_version=3)

    def test_an_order_of_another_tenant_is_not_found(self, uow, order):
        stranger = Identity("autoparts", "zhao.approver", frozenset({"approver"}))

        with acting_as(stranger), pytest.raises(NotFound):
            approve(uow, order, FakeStock({"HB-2040": 500, "SB-55": 100}))


def test_order_numbers_follow_the_plants_calendar_not_utc(uow):
    # 20:30 UTC on 25 Nov is 04:30 on 26 Nov in the plant (Asia/Shanghai): the order belongs to the 26th.
    late_evening_utc = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)
    cmd = CreateOrder(CUSTOMER, Channel.DIRECT, Priority.NORMAL, date(2026, 12, 10), LINES)
    with acting_as(SALES):
        order = handlers.create_order(
            cmd, uow, FakeCustomers(CUSTOMER), OPTIONS, "HW", uow.numbers, clock=lambda: late_evening_utc
        )
    assert order.order_no == "HW-20261126-00001"


def test_a_stale_version_is_a_conflict_even_when_stock_is_short(uow):
    with acting_as(SALES):
        order = create(uow)
    with acting_as(APPROVER), pytest.raises(VersionConflict):
        approve(uow, order, FakeStock({}), expected_version=order.version + 5)


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
            approve(uow, order, FakeStock({"HB-2040": 500, "SB-55": 100}), expected_version=2)
        assert uow.db.commits == commits
