"""The order lifecycle as a state machine: hypothesis drives random sequences of steps (legal,
illegal and stale) and checks that no sequence reaches a state the table does not allow, loses a
version, or leaves a step unrecorded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.chassis.errors import FailedPrecondition, VersionConflict
from services.order.domain.lifecycle import (
    LABELS,
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
    OrderApproved,
    OrderCancelled,
    OrderCreated,
    OrderLine,
    OrderSubmitted,
    Priority,
)
from services.permissions import PERMISSIONS

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
STEPS = {
    Action.SUBMIT: lambda o, v, t: o.submit(actor="陈丽", expected_version=v, now=t),
    Action.APPROVE: lambda o, v, t: o.approve(approver="李经理", expected_version=v, now=t),
    Action.CANCEL: lambda o, v, t: o.cancel(actor="陈丽", expected_version=v, now=t, reason="客户取消"),
}


def new_order(draft: bool) -> Order:
    return Order.create(
        order_id="o-1",
        order_no="HW-20261125-00001",
        customer_id="c-midea",
        channel=Channel.DIRECT,
        priority=Priority.NORMAL,
        due_date=date(2026, 12, 10),
        lines=[OrderLine("HB-2040", 300, "stamping-1")],
        created_by="陈丽",
        now=T0,
        draft=draft,
    )


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.order: Order | None = None
        self.steps = 0  # successful steps after create
        self.clock = T0
        self.history: list = []

    @rule(draft=st.booleans())
    def create(self, draft: bool) -> None:
        if self.order is None:
            self.order = new_order(draft)
            self.history = list(self.order.transitions)

    @rule(action=st.sampled_from(list(STEPS)), stale=st.booleans())
    def step(self, action: Action, stale: bool) -> None:
        if self.order is None:
            return
        order = self.order
        before = (order.state, order.version, len(order.events))
        self.clock += timedelta(minutes=5)
        version = order.version - 1 if stale else order.version
        legal = (order.state, action) in TRANSITIONS
        try:
            STEPS[action](order, version, self.clock)
        except VersionConflict:
            assert stale and version != 0
            assert (order.state, order.version, len(order.events)) == before  # nothing changed
            return
        except FailedPrecondition as exc:
            assert not legal
            assert LABELS[before[0]] in str(exc)  # names the state the order is in
            assert (order.state, order.version, len(order.events)) == before
            return
        assert legal and not (stale and version != 0)
        self.steps += 1
        assert order.state is TRANSITIONS[(before[0], action)]
        assert order.version == before[1] + 1
        assert len(order.events) == before[2] + 1
        step = order.transitions[-1]
        assert (step.action, step.from_state, step.to_state, step.at) == (
            action,
            before[0],
            order.state,
            self.clock,
        )
        self.history.append(step)

    @invariant()
    def versions_are_counted_steps(self) -> None:
        if self.order is None:
            return
        assert self.order.version == 1 + self.steps  # no step lost a version, none made two
        assert [t.version for t in self.order.transitions] == list(range(1, self.order.version + 1))
        assert self.order.transitions == self.history
        assert self.order.state in OrderState

    @invariant()
    def events_match_steps(self) -> None:
        if self.order is None:
            return
        kinds = {OrderSubmitted: Action.SUBMIT, OrderApproved: Action.APPROVE, OrderCancelled: Action.CANCEL}
        assert isinstance(self.order.events[0], OrderCreated)
        assert [kinds[type(e)] for e in self.order.events[1:]] == [
            t.action for t in self.order.transitions[1:]
        ]


Lifecycle.TestCase.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
TestLifecycle = Lifecycle.TestCase


def test_terminal_states_allow_nothing_and_every_other_state_is_reachable():
    assert not [a for (s, a) in TRANSITIONS if s in TERMINAL]
    reachable, frontier = {OrderState.DRAFT, OrderState.PENDING_APPROVAL}, [OrderState.DRAFT]
    frontier.append(OrderState.PENDING_APPROVAL)
    while frontier:
        state = frontier.pop()
        for (s, _), target in TRANSITIONS.items():
            if s is state and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(OrderState)


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
    }.items():
        assert rpcs[rpc].roles == ROLES[action], rpc
