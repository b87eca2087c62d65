"""合并批量生产 batch merging: orders of one configuration (model, treatment, colour, packaging)
approved close together are made as one batch production task when the tenant's batch_merge rule
says so (default: three of them, "三笔相同配置订单合并"). Pure Python: the rule comes in compiled
(services/chassis/rules.py), the candidates come in as loaded.

The group a new approval forms: the not-yet-batched, not-cancelled candidates of its configuration
approved within `window_hours` of each other, oldest first, itself included (`group_for`). The
same functions replay history for the dry-run.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from services.chassis.events import DomainEvent
from services.chassis.rules import CompiledRule, RuleFailed

DEFAULT_WINDOW_HOURS = 72.0
# A window longer than a year merges nothing a year would not (those orders are long made), and
# a datetime minus ~18 million hours is before year 1 (OverflowError): a planner's 2147483648 is a year.
MAX_WINDOW_HOURS = 366 * 24.0


@dataclass(frozen=True, order=True)
class Configuration:
    """相同配置: what makes two orders' parts one production run."""

    product_model: str
    surface_treatment: str = ""
    colour: str = ""
    packaging: str = ""

    def as_cel(self) -> dict[str, str]:
        return {
            "product_model": self.product_model,
            "surface_treatment": self.surface_treatment,
            "colour": self.colour,
            "packaging": self.packaging,
        }

    def label(self) -> str:
        return " / ".join(
            x for x in (self.product_model, self.surface_treatment, self.colour, self.packaging) if x
        )


@dataclass(frozen=True)
class LineDemand:
    """One order line as batching reads it."""

    configuration: Configuration
    quantity: int
    unit_price_fen: int = 0


@dataclass(frozen=True)
class Candidate:
    """One approved order's demand for one configuration: what may be merged. `batch_id` once it
    is in a batch, `cancelled_at` once its order is cancelled (it leaves any open group)."""

    order_id: str
    order_no: str
    customer_id: str
    priority: str  # the order contract's enum name, e.g. "PRIORITY_HIGH" (what rules compare with)
    configuration: Configuration
    quantity: int
    amount_fen: int
    approved_at: datetime  # UTC
    due_date: date
    batch_id: str | None = None
    cancelled_at: datetime | None = None

    def is_open(self, at: datetime | None = None) -> bool:
        """Still mergeable (at `at`, for a replay: a cancellation after it does not count yet)."""
        cancelled = self.cancelled_at is not None and (at is None or self.cancelled_at <= at)
        return self.batch_id is None and not cancelled

    def as_cel(self) -> dict[str, Any]:
        return {
            "order_no": self.order_no,
            "customer_id": self.customer_id,
            "priority": self.priority,
            "quantity": self.quantity,
            "due_date": self.due_date.isoformat(),
            "approved_at": self.approved_at.isoformat(),
            "amount_cny": self.amount_fen / 100,
        }


def candidates_of(
    *,
    order_id: str,
    order_no: str,
    customer_id: str,
    priority: str,
    approved_at: datetime,
    due_date: date,
    lines: Iterable[LineDemand],
) -> list[Candidate]:
    """An approved order as candidates, one per configuration it orders (lines of one configuration
    add up: quantity and amount), in first-seen order."""
    totals: dict[Configuration, list[int]] = {}
    for line in lines:
        qty_amount = totals.setdefault(line.configuration, [0, 0])
        qty_amount[0] += line.quantity
        qty_amount[1] += line.quantity * line.unit_price_fen
    return [
        Candidate(order_id, order_no, customer_id, priority, config, qty, amount, approved_at, due_date)
        for config, (qty, amount) in totals.items()
    ]


@dataclass(frozen=True)
class Revision:
    """What an approved change of an order does to its candidates."""

    updated: list[Candidate]  # still open, same configuration: new quantity, amount, due date, priority
    left: list[Candidate]  # configurations the order no longer has: they leave groups (and batches)
    added: list[Candidate]  # configurations it has now and had not: new candidates


def revise(existing: Sequence[Candidate], revised: Sequence[Candidate]) -> Revision:
    """Match an order's recorded candidates with its revised content by configuration. A candidate
    already in a batch keeps the quantity it was merged with (the batch was planned with it); one
    whose configuration is gone leaves."""
    now_by_config = {c.configuration: c for c in revised}
    live = [c for c in existing if c.cancelled_at is None]
    known = {c.configuration for c in existing}
    updated = [
        replace(
            c,
            quantity=new.quantity,
            amount_fen=new.amount_fen,
            due_date=new.due_date,
            priority=new.priority,
        )
        for c in live
        if c.batch_id is None and (new := now_by_config.get(c.configuration)) is not None
    ]
    left = [c for c in live if c.configuration not in now_by_config]
    added = [c for c in revised if c.configuration not in known]
    return Revision(updated, left, added)


def window_of(rule: CompiledRule) -> timedelta:
    hours = rule.param("window_hours", DEFAULT_WINDOW_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:  # NaN too
        hours = DEFAULT_WINDOW_HOURS  # a rule's params are the planner's: an odd one gets the default
    return timedelta(hours=min(float(hours), MAX_WINDOW_HOURS))


# Orders one rule evaluation is given at most: a batch of more is no batch a workshop plans, and it
# bounds the cost of each evaluation (a candidate rule with min_orders 10^6 keeps every order
# waiting: without it, a dry-run's cost grew with the square of a month's approvals).
MAX_GROUP = 50


def group_for(trigger: Candidate, candidates: Iterable[Candidate], window: timedelta) -> list[Candidate]:
    """The group a new approval forms: open candidates of its configuration, all approved within
    `window` of each other, the trigger among them; oldest first (then by order number, so equal
    times sort the same everywhere).

    Approvals are usually handled in the order they happened, and then this is simply every open
    candidate of the window ending at the trigger. Replicas and retries reorder them, though, so an
    approval may be handled after a later one: of the spans `window` long that hold the trigger,
    the one with the most candidates is taken (the earliest of equals), so the orders that arrive
    late still merge as they would have in order."""
    found = {
        c.order_id: c
        for c in candidates
        if c.configuration == trigger.configuration
        and abs(c.approved_at - trigger.approved_at) <= window
        and c.is_open(trigger.approved_at)
    }
    found[trigger.order_id] = trigger
    ordered = sorted(found.values(), key=lambda c: (c.approved_at, c.order_no))
    times = [c.approved_at for c in ordered]
    at = next(i for i, c in enumerate(ordered) if c.order_id == trigger.order_id)
    best: list[Candidate] = [trigger]
    for i, start in enumerate(times):
        if start > trigger.approved_at:
            break
        if start + window < trigger.approved_at:
            continue
        end = bisect.bisect_right(times, start + window)
        if end - i > len(best) and i <= at < end:  # the span holds the trigger
            best = ordered[i:end]
    if len(best) > MAX_GROUP:  # the newest MAX_GROUP up to the trigger
        lo = max(0, best.index(trigger) + 1 - MAX_GROUP)
        best = best[lo : lo + MAX_GROUP]
    return best


def should_merge(rule: CompiledRule, group: Sequence[Candidate]) -> bool:
    """The rule's verdict on a group (RuleFailed propagates: the caller decides what a failed rule
    means). A single order is never a batch, whatever the rule says."""
    if len(group) < 2:
        return False
    return rule.matches({"orders": [c.as_cel() for c in group], "config": group[0].configuration.as_cel()})


def batch_number(prefix: str, day: date, n: int) -> str:
    """BT-<tenant prefix>-<yyyymmdd>-<nn>: readable on the floor, unique per tenant and day."""
    return f"BT-{prefix}-{day:%Y%m%d}-{n:02d}"


class BatchState:
    PLANNED = "BATCH_STATE_PLANNED"  # 已合并待排产
    CANCELLED = "BATCH_STATE_CANCELLED"  # every order it served was cancelled


@dataclass(frozen=True)
class BatchOrder:
    """One order a batch serves, and how much of the batch is its."""

    order_id: str
    order_no: str
    customer_id: str
    quantity: int
    due_date: date
    approved_at: datetime
    cancelled_at: datetime | None = None

    def as_event(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "order_no": self.order_no,
            "customer_id": self.customer_id,
            "quantity": self.quantity,
            "due_date": self.due_date.isoformat(),
            "cancelled": self.cancelled_at is not None,
        }


@dataclass(frozen=True)
class BatchTaskCreated(DomainEvent):
    event_type = "batch_task_created"
    batch_id: str
    batch_no: str
    product_model: str
    surface_treatment: str
    colour: str
    packaging: str
    quantity: int
    due_date: str
    rule: str
    orders: list[dict]
    created_at: str


@dataclass(frozen=True)
class BatchTaskChanged(DomainEvent):
    event_type = "batch_task_changed"
    batch_id: str
    batch_no: str
    state: str
    quantity: int
    order_count: int
    due_date: str
    removed_order_id: str
    removed_order_no: str
    reason: str
    version: int


@dataclass
class BatchTask:
    """合并生产批次: one production run of one configuration serving several orders."""

    batch_id: str
    batch_no: str
    configuration: Configuration
    orders: list[BatchOrder]
    rule: str
    created_at: datetime
    state: str = BatchState.PLANNED
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    @property
    def live_orders(self) -> list[BatchOrder]:
        return [o for o in self.orders if o.cancelled_at is None]

    @property
    def quantity(self) -> int:
        return sum(o.quantity for o in self.live_orders)

    @property
    def due_date(self) -> date:
        """The earliest due date of the orders it still serves (all of them once cancelled)."""
        return min(o.due_date for o in (self.live_orders or self.orders))

    @classmethod
    def merge(
        cls, batch_id: str, batch_no: str, group: Sequence[Candidate], rule: str, now: datetime
    ) -> BatchTask:
        task = cls(
            batch_id,
            batch_no,
            group[0].configuration,
            [
                BatchOrder(c.order_id, c.order_no, c.customer_id, c.quantity, c.due_date, c.approved_at)
                for c in group
            ],
            rule,
            now,
        )
        c = task.configuration
        task.events.append(
            BatchTaskCreated(
                batch_id,
                batch_no,
                c.product_model,
                c.surface_treatment,
                c.colour,
                c.packaging,
                task.quantity,
                task.due_date.isoformat(),
                rule,
                [o.as_event() for o in task.orders],
                now.isoformat(),
            )
        )
        return task

    def drop_order(self, order_id: str, now: datetime, reason: str) -> bool:
        """An order it serves was cancelled: its share leaves the batch (the link is kept, marked);
        the batch is cancelled with its last order. False when there was nothing to drop."""
        target = next((o for o in self.orders if o.order_id == order_id and o.cancelled_at is None), None)
        if target is None:
            return False
        self.orders = [replace(o, cancelled_at=now) if o is target else o for o in self.orders]
        if not self.live_orders:
            self.state = BatchState.CANCELLED
        self.version += 1
        self.events.append(
            BatchTaskChanged(
                self.batch_id,
                self.batch_no,
                self.state,
                self.quantity,
                len(self.live_orders),
                self.due_date.isoformat(),
                target.order_id,
                target.order_no,
                reason,
                self.version,
            )
        )
        return True


# --- dry-run: replay a rule over recorded approvals ---


@dataclass(frozen=True)
class ReplayedBatch:
    """A batch as a replay (or history) shows it: its configuration and the orders in it."""

    configuration: Configuration
    order_nos: tuple[str, ...]
    quantity: int
    formed_at: datetime
    batch_no: str = ""  # only for batches actually made


@dataclass(frozen=True)
class Difference:
    order_no: str
    configuration: Configuration
    would_batch: int  # index+1 into the replay's batches, 0 = not merged
    did_batch_no: str  # "" = not merged


@dataclass(frozen=True)
class Replay:
    replayed: int  # candidates (order × configuration) replayed
    would: list[ReplayedBatch]
    did: list[ReplayedBatch]
    differences: list[Difference]
    rule_failures: int  # groups on which the rule failed (treated as "no merge")


def replay(rule: CompiledRule, history: Sequence[Candidate], made: Sequence[ReplayedBatch]) -> Replay:
    """What `rule` would have merged had it been in force over `history` (the candidates approved in
    the period, their recorded cancellations honoured as of each approval), in approval order,
    against the batches `made` in the period. Each candidate starts unbatched."""
    window = window_of(rule)
    ordered = sorted(history, key=lambda c: (c.approved_at, c.order_no))
    # Open candidates per configuration, oldest first; merged ones and ones older than the window
    # (approvals come in time order, so they can join no later group) are dropped as we go.
    pending: dict[Configuration, list[Candidate]] = {}
    would: list[ReplayedBatch] = []
    failures = 0
    for c in ordered:
        trigger = replace(c, batch_id=None)
        if not trigger.is_open(trigger.approved_at):  # cancelled before it was approved: skip
            continue
        start = trigger.approved_at - window
        mine = [s for s in pending.get(trigger.configuration, []) if s.approved_at >= start]
        mine.append(trigger)
        group = group_for(trigger, mine, window)
        try:
            merge = should_merge(rule, group)
        except RuleFailed:  # as the consumer does: no merge, counted
            failures += 1
            merge = False
        if merge:
            members = {g.order_id for g in group}
            mine = [s for s in mine if s.order_id not in members]
            would.append(
                ReplayedBatch(
                    trigger.configuration,
                    tuple(g.order_no for g in group),
                    sum(g.quantity for g in group),
                    trigger.approved_at,
                )
            )
        pending[trigger.configuration] = mine[-MAX_GROUP:]  # a later group takes no older ones
    return Replay(len(ordered), would, list(made), differences(ordered, would, made), failures)


def differences(
    history: Sequence[Candidate], would: Sequence[ReplayedBatch], did: Sequence[ReplayedBatch]
) -> list[Difference]:
    """The candidates whose fate differs: merged in one and not the other, or with other orders."""
    would_of: dict[tuple[str, Configuration], tuple[int, frozenset[str]]] = {}
    for i, b in enumerate(would, 1):
        for no in b.order_nos:
            would_of[(no, b.configuration)] = (i, frozenset(b.order_nos))
    did_of: dict[tuple[str, Configuration], tuple[str, frozenset[str]]] = {}
    for b in did:
        for no in b.order_nos:
            did_of[(no, b.configuration)] = (b.batch_no, frozenset(b.order_nos))
    out = []
    seen: set[tuple[str, Configuration]] = set()
    for c in history:
        key = (c.order_no, c.configuration)
        if key in seen:
            continue
        seen.add(key)
        w, d = would_of.get(key), did_of.get(key)
        if (w[1] if w else None) != (d[1] if d else None):
            out.append(Difference(c.order_no, c.configuration, w[0] if w else 0, d[0] if d else ""))
    return out


def made_batches(tasks: Iterable[BatchTask]) -> list[ReplayedBatch]:
    return [
        ReplayedBatch(
            t.configuration,
            tuple(o.order_no for o in t.orders),
            sum(o.quantity for o in t.orders),
            t.created_at,
            t.batch_no,
        )
        for t in tasks
    ]
