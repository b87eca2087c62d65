"""An order's lifecycle as one explicit state machine: which action moves an order from which
state to which, and which roles may take it. Pure Python: the aggregate (model.py) asks it, the
gRPC permission table (services/permissions.py) reads the roles from it, so a rule lives here once.

    draft ──submit──► pending approval ──approve──► approved ──start_production──► in production
      │                     │                                                       │ pass_qc
      └──────cancel─────────┴──► cancelled                    qc passed ◄───────────┘
                                                                 │ make_ready
                     closed ◄──close── shipped ◄──ship── ready to ship ◄┘

    any of pending approval … ready to ship ──request_change──► pending change
    pending change ──approve_change / reject_change──► back where it was (cancelled when the
                                                        approved change cancels the order)

Production-side moves (start_production, pass_qc, make_ready, replan) follow the work orders'
stages, reported by production's events (an order is as far as its least advanced work order; a
change that re-plans work takes it back). An approved order is cancelled or changed only through
a change request: its work orders and materials must be frozen first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.chassis.errors import FailedPrecondition


class OrderState(StrEnum):
    DRAFT = "ORDER_STATE_DRAFT"
    PENDING_APPROVAL = "ORDER_STATE_PENDING_APPROVAL"
    APPROVED = "ORDER_STATE_APPROVED"
    IN_PRODUCTION = "ORDER_STATE_IN_PRODUCTION"
    QC_PASSED = "ORDER_STATE_QC_PASSED"
    READY_TO_SHIP = "ORDER_STATE_READY_TO_SHIP"
    SHIPPED = "ORDER_STATE_SHIPPED"
    CLOSED = "ORDER_STATE_CLOSED"
    CANCELLED = "ORDER_STATE_CANCELLED"
    PENDING_CHANGE = "ORDER_STATE_PENDING_CHANGE"


class Action(StrEnum):
    CREATE = "create"  # the first entry of every history: nothing -> draft or pending approval
    SUBMIT = "submit"
    APPROVE = "approve"
    CANCEL = "cancel"
    START_PRODUCTION = "start_production"
    PASS_QC = "pass_qc"
    MAKE_READY = "make_ready"
    SHIP = "ship"
    CLOSE = "close"
    REPLAN = "replan"  # production reports the order's work back at 待排产 (after a change)
    REQUEST_CHANGE = "request_change"
    APPROVE_CHANGE = "approve_change"
    REJECT_CHANGE = "reject_change"
    REROUTE = "reroute"  # a planner changes a line's workshops on the approved order (no state change)


S = OrderState
# The states production reports, and the action that reaches each one (from any other of them:
# an order is as far as its least advanced work order, which a re-planning change can set back).
PRODUCTION_STATES: dict[OrderState, Action] = {
    S.APPROVED: Action.REPLAN,
    S.IN_PRODUCTION: Action.START_PRODUCTION,
    S.QC_PASSED: Action.PASS_QC,
    S.READY_TO_SHIP: Action.MAKE_READY,
}
# Where a change may be asked for: after entry, before the goods leave.
CHANGEABLE = frozenset({S.PENDING_APPROVAL, *PRODUCTION_STATES})
# A decided change takes the order back to the state it was in when the change was asked for.
BACK = None

TRANSITIONS: dict[tuple[OrderState, Action], OrderState | None] = {
    (S.DRAFT, Action.SUBMIT): S.PENDING_APPROVAL,
    (S.DRAFT, Action.CANCEL): S.CANCELLED,
    (S.PENDING_APPROVAL, Action.APPROVE): S.APPROVED,
    (S.PENDING_APPROVAL, Action.CANCEL): S.CANCELLED,
    **{
        (source, action): target
        for target, action in PRODUCTION_STATES.items()
        for source in PRODUCTION_STATES
        if source is not target
    },
    (S.READY_TO_SHIP, Action.SHIP): S.SHIPPED,
    (S.SHIPPED, Action.CLOSE): S.CLOSED,
    **{(source, Action.REQUEST_CHANGE): S.PENDING_CHANGE for source in CHANGEABLE},
    (S.PENDING_CHANGE, Action.APPROVE_CHANGE): BACK,
    (S.PENDING_CHANGE, Action.REJECT_CHANGE): BACK,
    (S.APPROVED, Action.REROUTE): S.APPROVED,
}

# Who may take each action: services/permissions.py gives each lifecycle RPC exactly these roles.
# "service" is another service acting on an event (production reporting its work orders'
# stages); a portal customer takes none of them.
ROLES: dict[Action, frozenset[str]] = {
    Action.CREATE: frozenset({"sales", "service"}),
    Action.SUBMIT: frozenset({"sales"}),
    # a manager approves too: an order whose typed prices are off the contract needs one
    Action.APPROVE: frozenset({"approver", "manager"}),
    # service: ingest cancels an order whose marketplace order the platform cancelled or refunded
    Action.CANCEL: frozenset({"sales", "approver", "manager", "service"}),
    Action.START_PRODUCTION: frozenset({"service"}),
    Action.PASS_QC: frozenset({"service"}),
    Action.MAKE_READY: frozenset({"service"}),
    Action.REPLAN: frozenset({"service"}),
    Action.SHIP: frozenset({"warehouse"}),
    Action.CLOSE: frozenset({"manager", "finance"}),
    # service: ingest asks for a cancelling change where production has started (see CANCEL)
    Action.REQUEST_CHANGE: frozenset({"sales", "planner", "manager", "service"}),
    Action.APPROVE_CHANGE: frozenset({"approver", "manager"}),
    Action.REJECT_CHANGE: frozenset({"approver", "manager"}),
    Action.REROUTE: frozenset({"planner"}),
}

# Who may accept an order short of materials: services/permissions.py SHORTAGE_OVERRIDE_ROLES.

TERMINAL = frozenset({S.CLOSED, S.CANCELLED})

# For people: 待审批 Pending approval, as the plant says it (omsctl and error messages).
LABELS: dict[OrderState, str] = {
    S.DRAFT: "草稿 Draft",
    S.PENDING_APPROVAL: "待审批 Pending approval",
    S.APPROVED: "已审批 Approved",
    S.IN_PRODUCTION: "生产中 In production",
    S.QC_PASSED: "质检完成 QC passed",
    S.READY_TO_SHIP: "待发货 Ready to ship",
    S.SHIPPED: "已发货 Shipped",
    S.CLOSED: "已关闭 Closed",
    S.CANCELLED: "已取消 Cancelled",
    S.PENDING_CHANGE: "变更待审 Pending change",
}


@dataclass(frozen=True)
class Transition:
    """One step of an order's history: who moved it from which state to which, when and why.
    The delivery-cycle KPI reads these timestamps."""

    action: Action
    from_state: OrderState | None  # None for CREATE
    to_state: OrderState
    actor: str
    at: datetime
    reason: str = ""
    version: int = 1  # the order's version after this step
    # What the step changed, field by field (a change's diff, a planner's override); shown in
    # the audit trail. Empty for a plain move from one state to another.
    changes: tuple = ()


def next_state(state: OrderState, action: Action, back_to: OrderState | None = None) -> OrderState:
    """Where `action` takes an order in `state` (`back_to`: where a decided change returns it);
    FailedPrecondition naming the current state and what it allows instead."""
    try:
        target = TRANSITIONS[(state, action)]
    except KeyError:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s is state)
        options = f"it allows: {', '.join(allowed)}" if allowed else "no action changes it any more"
        raise FailedPrecondition(
            f"cannot {action.value} an order that is {LABELS[state]} ({state.name}); {options}"
        ) from None
    if target is BACK:
        if back_to is None:
            raise ValueError(f"{action.value} needs the state to return to")
        return back_to
    return target
