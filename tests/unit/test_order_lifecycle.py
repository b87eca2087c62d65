"""The order lifecycle as a state machine: hypothesis drives random sequences of steps (legal,
illegal and stale) and checks that no sequence reaches a state the table does not allow, loses a
version, or leaves a step unrecorded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from services.chassis.errors import FailedPrecondition, VersionConflict
from services.order.domain.changes import ChangeRequest, ChangeState, diff
from services.order.domain.lifecycle import (
    BACK,
    CHANGEABLE,
    LABELS,
    PRODUCTION_STATES,
    ROLES,
    TERMINAL,
    TRANSITIONS,
    Action,
    OrderState,
    next_state,
)
from services.order.domain.model import (
    Channel,
    Order,
    OrderCreated,
    OrderLine,
    Priority,
)
from services.permissions import PERMISSIONS

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def new_order(draft: bool) -> Order:
    return Order.create(
        order_id="o-1",
        order_no="HW-20261125-00001",
        customer_id="c-midea",
        channel=Channel.DIRECT,
        priority=Priority.NORMAL,
        due_date=date(2026, 12, 10),
        lines=[OrderLine("HB-2040", 300, "stamping-1", "银色 silver")],
        created_by="陈丽",
        now=T0,
        draft=draft,
    )


def agreed(content):
    """Content without the shop floor's routing (workshop, route)."""
    return replace(content, lines=tuple(replace(x, workshop="", route=()) for x in content.lines))


class Lifecycle(RuleBasedStateMachine):
    """Every command against one order, legal or not, stale or not; the model below is what the
    test expects, kept apart from the aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.order: Order | None = None
        self.steps = 0  # successful steps after create
        self.events = 1  # events the order should have recorded (OrderCreated)
        self.clock = T0
        self.history: list = []
        self.pending: ChangeRequest | None = None  # the change the order waits on
        self.before_change: OrderState | None = None
        self.reported: OrderState | None = None  # what production last said
        self.contents: list = []  # every revision's content, in order

    @initialize(draft=st.booleans())
    def create(self, draft: bool) -> None:
        self.order = new_order(draft)
        self.history = list(self.order.transitions)
        self.contents = [self.order.content()]

    def _expected(self, action: Action, state: OrderState, cancels: bool) -> OrderState | None:
        """Where the step should take the order, None if it is illegal."""
        if (state, action) not in TRANSITIONS:
            return None
        if action in (Action.APPROVE_CHANGE, Action.REJECT_CHANGE):
            if action is Action.APPROVE_CHANGE and cancels:
                return OrderState.CANCELLED
            back = self.before_change
            if back in PRODUCTION_STATES and self.reported in PRODUCTION_STATES:
                return self.reported
            return back
        return TRANSITIONS[(state, action)]

    def _change(self, cancel: bool) -> ChangeRequest:
        order = self.order
        assert order is not None
        current = order.content()
        line = current.lines[0]
        proposed = replace(current, lines=(replace(line, quantity=line.quantity + 1, colour="金色 gold"),))
        return ChangeRequest(
            change_id=f"c-{self.steps}",
            order_id=order.order_id,
            base_revision=order.revision,
            proposed=None if cancel else proposed,
            reason="客户改色",
            requested_by="陈丽",
            requested_at=self.clock,
            diff=[] if cancel else diff(current, proposed),
        )

    @rule(
        action=st.sampled_from([a for a in Action if a not in (Action.CREATE, *PRODUCTION_STATES.values())]),
        stale=st.sampled_from([False, False, False, True]),  # mostly current: reach the deep states
        cancel=st.sampled_from([False, False, False, True]),
    )
    def step(self, action: Action, stale: bool, cancel: bool) -> None:
        if self.order is None:
            return
        order = self.order
        before = (order.state, order.version, len(order.events), order.revision)
        self.clock += timedelta(minutes=5)
        version = order.version - 1 if stale else order.version
        change = self.pending or self._change(cancel)
        cancels = change.cancels_order
        expected = self._expected(action, order.state, cancels)
        kw = {"expected_version": version, "now": self.clock}
        try:
            if action is Action.SUBMIT:
                order.submit(actor="陈丽", **kw)
            elif action is Action.APPROVE:
                order.approve(approver="李经理", **kw)
            elif action is Action.CANCEL:
                order.cancel(actor="陈丽", reason="客户取消", **kw)
            elif action is Action.SHIP:
                order.ship(actor="仓库老张", **kw)
            elif action is Action.CLOSE:
                order.close(actor="财务小刘", **kw)
            elif action is Action.REQUEST_CHANGE:
                change = self._change(cancel)
                cancels = change.cancels_order
                order.request_change(change, expected_version=version)
            elif action is Action.APPROVE_CHANGE:
                order.approve_change(change, actor="李经理", **kw)
            elif action is Action.REJECT_CHANGE:
                order.reject_change(change, actor="李经理", note="不同意", **kw)
            elif action is Action.REROUTE:
                route = ("plating",) if order.lines[0].route != ("plating",) else ("stamping-1", "plating")
                order.reroute(1, route, actor="王计划", reason="电镀线空闲", **kw)
        except VersionConflict:
            assert stale and version != 0
            assert (order.state, order.version, len(order.events), order.revision) == before
            return
        except FailedPrecondition as exc:
            assert expected is None, exc
            assert LABELS[before[0]] in str(exc)  # names the state the order is in
            assert (order.state, order.version, len(order.events), order.revision) == before
            return
        assert expected is not None and not (stale and version != 0)
        self.steps += 1
        self.events += 2 if action is Action.APPROVE_CHANGE and cancels else 1
        assert order.state is expected
        assert order.version == before[1] + 1
        step = order.transitions[-1]
        assert (step.action, step.from_state, step.to_state, step.at) == (
            action,
            before[0],
            expected,
            self.clock,
        )
        self.history.append(step)
        if action is Action.REROUTE:  # the current revision's lines, rerouted in place
            self.contents[-1] = replace(self.contents[-1], lines=tuple(order.lines))
            assert list(order.lines[0].route) == step.changes[0].after.split(" → ")
        if action is Action.REQUEST_CHANGE:
            self.pending, self.before_change = change, before[0]
            assert order.pending_change_id == change.change_id
        elif action in (Action.APPROVE_CHANGE, Action.REJECT_CHANGE):
            assert change.state is (
                ChangeState.APPROVED if action is Action.APPROVE_CHANGE else ChangeState.REJECTED
            )
            if action is Action.APPROVE_CHANGE and not cancels:
                assert change.proposed is not None
                self.contents.append(change.proposed)
                assert step.changes == tuple(change.diff)
            self.pending = self.before_change = None

    @rule(reached=st.sampled_from(list(PRODUCTION_STATES)))
    def production_reports(self, reached: OrderState) -> None:
        if self.order is None:
            return
        order = self.order
        before = (order.state, order.version)
        self.clock += timedelta(minutes=5)
        order.report_production(reached, actor="svc:production", now=self.clock)
        self.reported = reached
        if before[0] in PRODUCTION_STATES and before[0] is not reached:
            self.steps += 1
            self.events += 1
            assert (order.state, order.version) == (reached, before[1] + 1)
            self.history.append(order.transitions[-1])
        else:  # before approval, frozen by a change, or already there: remembered, not moved
            assert (order.state, order.version) == before

    @invariant()
    def versions_are_counted_steps(self) -> None:
        if self.order is None:
            return
        assert self.order.version == 1 + self.steps  # no step lost a version, none made two
        assert [t.version for t in self.order.transitions] == list(range(1, self.order.version + 1))
        assert self.order.transitions == self.history
        assert len(self.order.events) == self.events
        assert isinstance(self.order.events[0], OrderCreated)

    @invariant()
    def no_revision_is_lost(self) -> None:
        if self.order is None:
            return
        order = self.order
        assert order.revision == len(self.contents)
        assert order.content() == self.contents[-1]
        kept = order.new_revisions
        if order.revision > 1:  # the first change kept revision 1 too
            # as agreed with the customer: a planner's later reroute is not a new revision
            assert [(r.revision, agreed(r.content)) for r in kept] == [
                (n, agreed(c)) for n, c in enumerate(self.contents, start=1)
            ]
        else:
            assert kept == []

    @invariant()
    def a_pending_change_is_named_exactly_while_pending(self) -> None:
        if self.order is None:
            return
        assert (self.order.state is OrderState.PENDING_CHANGE) == bool(self.order.pending_change_id)


Lifecycle.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestLifecycle = Lifecycle.TestCase


def test_terminal_states_allow_nothing_and_every_other_state_is_reachable():
    assert not [a for (s, a) in TRANSITIONS if s in TERMINAL]
    reachable, frontier = {OrderState.DRAFT, OrderState.PENDING_APPROVAL}, [OrderState.DRAFT]
    frontier.append(OrderState.PENDING_APPROVAL)
    while frontier:
        state = frontier.pop()
        for (s, _), target in TRANSITIONS.items():
            if s is state and target is not BACK and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(OrderState)
    # a decided change goes back where the order came from: only to states a change leaves
    assert {s for (s, a) in TRANSITIONS if a is Action.REQUEST_CHANGE} == CHANGEABLE


def test_an_illegal_step_names_the_state_and_what_it_allows():
    with pytest.raises(FailedPrecondition, match=r"已审批 Approved.*start_production"):
        next_state(OrderState.APPROVED, Action.CANCEL)
    with pytest.raises(FailedPrecondition, match="no action changes it"):
        next_state(OrderState.CANCELLED, Action.SUBMIT)


def test_the_rpc_table_gives_each_lifecycle_rpc_the_roles_of_the_state_machine():
    rpcs = PERMISSIONS["oms.order.v1.OrderService"]
    for rpc, action in {
        "CreateOrder": Action.CREATE,
        "SubmitOrder": Action.SUBMIT,
        "ApproveOrder": Action.APPROVE,
        "CancelOrder": Action.CANCEL,
        "RequestOrderChange": Action.REQUEST_CHANGE,
        "ApproveOrderChange": Action.APPROVE_CHANGE,
        "RejectOrderChange": Action.REJECT_CHANGE,
        "ShipOrder": Action.SHIP,
        "CloseOrder": Action.CLOSE,
    }.items():
        assert rpcs[rpc].roles == ROLES[action], rpc
