"""Batch merging use cases: record an approval and merge what the tenant's rule says to merge;
follow an approved change of an order; take a cancelled order out of its group or batch; list
batches; dry-run a candidate rule."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import Counter

from services.chassis import identity
from services.chassis.paging import page_size
from services.chassis.rules import CompiledRule, RuleFailed, active_rule, rule_to_try
from services.chassis.tenant_config import TenantConfig
from services.chassis.uow import UowFactory
from services.production.domain.batching import (
    BatchTask,
    Candidate,
    LineDemand,
    Replay,
    batch_number,
    candidates_of,
    group_for,
    made_batches,
    replay,
    revise,
    should_merge,
    window_of,
)
from services.production.service_layer.unit_of_work import ProductionUnitOfWork

log = logging.getLogger(__name__)

RULE_FAILURES = Counter(
    "oms_batch_merge_rule_failures_total",
    "batch_merge rules that failed on real orders (no merge was made)",
    ["tenant", "rule"],
)
BATCHES_MERGED = Counter("oms_batch_tasks_created_total", "Batch production tasks merged", ["tenant"])


@dataclass(frozen=True)
class MergePolicy:
    """What merging needs of a tenant: its batch_merge rule (None = merging is off), the prefix and
    calendar of its batch numbers."""

    rule: CompiledRule | None
    number_prefix: str
    zone: ZoneInfo


PolicyOf = Callable[[str], MergePolicy]  # tenant id -> its policy


def policy_of(tenant: TenantConfig) -> MergePolicy:
    return MergePolicy(active_rule(tenant, "batch_merge"), tenant.line.number_prefix, tenant.line.tz)


@dataclass(frozen=True)
class ApprovalForBatching:
    order_id: str
    order_no: str
    customer_id: str
    priority: str
    approved_at: datetime
    due_date: date
    lines: Sequence[LineDemand]


def record_approval(
    approval: ApprovalForBatching, policy: MergePolicy, uow: ProductionUnitOfWork, now: datetime | None = None
) -> list[BatchTask]:
    """Record the order's configurations; for each, merge its open group when the rule says so.
    Runs in the consumer's unit of work (a redelivery is claimed and changes nothing)."""
    now = now or datetime.now(UTC)
    candidates = candidates_of(
        order_id=approval.order_id,
        order_no=approval.order_no,
        customer_id=approval.customer_id,
        priority=approval.priority,
        approved_at=approval.approved_at,
        due_date=approval.due_date,
        lines=approval.lines,
    )
    uow.batches.lock_configurations(c.configuration for c in candidates)
    added = uow.batches.record(candidates)
    return _merge(added, policy, uow, now)


def _merge(
    added: Sequence[Candidate], policy: MergePolicy, uow: ProductionUnitOfWork, now: datetime
) -> list[BatchTask]:
    """For each newly recorded candidate, merge its open group when the rule says so."""
    rule = policy.rule
    if rule is None:
        return []
    window = window_of(rule)
    made = []
    for trigger in added:
        group = group_for(
            trigger,
            uow.batches.open_group(
                trigger.configuration, trigger.approved_at - window, trigger.approved_at + window
            ),
            window,
        )
        try:
            merge = should_merge(rule, group)
        except RuleFailed as exc:
            # The rule passed its probe but fails on these orders: no merge (the orders are made
            # one by one, as without the rule), counted for the alert, never a stuck consumer.
            tenant = identity.current().tenant_id
            RULE_FAILURES.labels(tenant, rule.name).inc()
            log.warning(
                "batch merge skipped for %s (%s): %s", trigger.order_no, trigger.configuration.label(), exc
            )
            continue
        if merge:
            day = now.astimezone(policy.zone).date()
            number = batch_number(policy.number_prefix, day, uow.batches.next_batch_no(day))
            task = BatchTask.merge(str(uuid.uuid4()), number, group, rule.name, now)
            uow.batches.add(task)
            BATCHES_MERGED.labels(identity.current().tenant_id).inc()
            made.append(task)
    return made


def cancel_order(order_id: str, reason: str, uow: ProductionUnitOfWork, now: datetime | None = None) -> None:
    """The order leaves every open group, and each batch it is in drops its share (the link is
    kept, marked). A second cancellation changes nothing."""
    now = now or datetime.now(UTC)
    candidates = uow.batches.for_order(order_id)
    if not candidates:
        return
    uow.batches.lock_configurations(c.configuration for c in candidates)
    batches = uow.batches.of_order(order_id)  # read before the links are marked
    uow.batches.cancel_order(order_id, now)
    for task in batches:
        if task.drop_order(order_id, now, reason):
            uow.batches.save(task)


def revise_order(
    revised: ApprovalForBatching, policy: MergePolicy, uow: ProductionUnitOfWork, reason: str
) -> None:
    """An approved change of the order (not a cancellation): open candidates follow its new
    content; a configuration it no longer has leaves its group or batch; a configuration it has
    now is recorded as approved when the order was, and may merge. An order batching never
    recorded is left alone."""
    now = datetime.now(UTC)
    existing = uow.batches.for_order(revised.order_id)
    if not existing:
        return
    approved_at = min(c.approved_at for c in existing)
    new = candidates_of(
        order_id=revised.order_id,
        order_no=revised.order_no,
        customer_id=existing[0].customer_id,
        priority=revised.priority,
        approved_at=approved_at,
        due_date=revised.due_date,
        lines=revised.lines,
    )
    uow.batches.lock_configurations([*(c.configuration for c in existing), *(c.configuration for c in new)])
    change = revise(existing, new)
    uow.batches.update_open(change.updated)
    if change.left:
        left_batched = {c.batch_id for c in change.left if c.batch_id}
        batches = [t for t in uow.batches.of_order(revised.order_id) if t.batch_id in left_batched]
        uow.batches.leave(revised.order_id, [c.configuration for c in change.left], now)
        for task in batches:
            if task.drop_order(revised.order_id, now, reason):
                uow.batches.save(task)
    if change.added:
        _merge(uow.batches.record(change.added), policy, uow, now)


# --- reads ---


def list_batch_tasks(
    state: str, size: int, token: str, uow: UowFactory[ProductionUnitOfWork]
) -> tuple[list[BatchTask], str]:
    with uow(read_only=True) as tx:
        return tx.batches.list(state=state, page_size=page_size(size, default=100), page_token=token)


def get_batch_task(batch_id: str, uow: UowFactory[ProductionUnitOfWork]) -> BatchTask:
    with uow(read_only=True) as tx:
        return tx.batches.get(batch_id)


# --- dry-run ---

DEFAULT_DAYS = 30
MAX_DIFFERENCES = 500


@dataclass(frozen=True)
class DryRunMerge:
    name: str = ""
    expression: str = ""
    params_json: str = ""
    days: int = 0  # 0 = 30


@dataclass(frozen=True)
class DryRunResult:
    rule: CompiledRule
    days: int
    replay: Replay  # its lists cut to MAX_DIFFERENCES each
    would_merge: int  # orders (× configuration) the candidate merges, counted before the cut
    did_merge: int


def candidate_rule(query: DryRunMerge, tenant: TenantConfig) -> CompiledRule:
    """The merge rule to replay (services/chassis/rules.py `rule_to_try`: one rule for both
    services' dry-runs)."""
    return rule_to_try(tenant, "batch_merge", query.name, query.expression, query.params_json)


def dry_run(
    query: DryRunMerge,
    tenant: TenantConfig,
    uow: UowFactory[ProductionUnitOfWork],
    now: datetime | None = None,
) -> DryRunResult:
    rule = candidate_rule(query, tenant)
    days = query.days or DEFAULT_DAYS
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    with uow(read_only=True) as tx:
        history = tx.batches.history(since)
        made = made_batches(tx.batches.made_since(since))
    result = replay(rule, history, made)
    would_merge = sum(len(b.order_nos) for b in result.would)
    did_merge = sum(len(b.order_nos) for b in result.did)
    # Every list of the answer bounded (the counts stay whole): a month of a busy plant fits.
    result = Replay(
        result.replayed,
        result.would[:MAX_DIFFERENCES],
        result.did[:MAX_DIFFERENCES],
        result.differences[:MAX_DIFFERENCES],
        result.rule_failures,
    )
    return DryRunResult(rule, days, result, would_merge, did_merge)
