"""Notices out on the channels: route each new notice to its recipient's channels (quiet hours
held), then try every delivery that is due, each channel in its own thread, and log every try.

Runs as the chassis job "notify_dispatch" (every OMS_NOTIFY_DISPATCH_S seconds, per tenant; nameko's
timer ticks the same job in the worker). Why it is once: a notice is recorded in the same
transaction as the event's inbox mark (one notice per event); routing adds one delivery per
(notice, channel) under a unique key; a round claims its deliveries under a claim id (a lease)
before trying them, so two dispatchers never try one delivery at once; every try is stored in its
own short transaction as soon as it ends, only while the round still holds the delivery; a round
stops starting tries well inside its lease; and once a channel has said "sent" the delivery is
final. The one gap no dispatcher can close: a process killed after a platform accepted a message
but before the "sent" was stored tries it again when the lease ends (the generic webhook carries
an idempotency key for that; the chat robots have none — README "Notifications").
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Histogram

from services.chassis import identity
from services.chassis.tenants import Tenant
from services.notify.adapters.delivery_store import AttemptRow, Due, Unrouted
from services.notify.channels.base import Channel, DeliveryResult, Message, Recipient
from services.notify.channels.delivery import attempt
from services.notify.channels.directory import TenantChannels
from services.notify.domain import routing
from services.notify.service_layer.handlers import UowFactory
from services.notify.service_layer.unit_of_work import NotifyUnitOfWork

log = logging.getLogger(__name__)

ATTEMPTS = Counter(
    "oms_notify_delivery_attempts_total",
    "Tries to deliver a notice, by tenant, channel and outcome (sent, rejected, failed)",
    ["tenant", "channel", "outcome"],
)
UNDELIVERABLE = Counter(
    "oms_notify_undeliverable_total",
    "Notices no channel could carry (the person has none, and the tenant names no default)",
    ["tenant", "reason"],
)
SEND_SECONDS = Histogram(
    "oms_notify_delivery_seconds",
    "How long one try on a channel took",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

ROUTE_BATCH = 500  # notices routed per run
SEND_BATCH = 50  # deliveries claimed per run
PER_CHANNEL = 20  # of them at most from one channel: a channel that is down never crowds out the rest
LEASE_S = 300.0
# A round starts no try after this long: with a channel's timeout at most 60 s, every try it
# started has ended, and been stored, well before its claim lapses and another round may take it.
ROUND_BUDGET_S = 100.0
SLOW_S = 1.0  # a failed try that took this long: the channel is struggling, try its others later


@dataclass
class DispatchReport:
    routed: int = 0
    tried: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Round:
    tenant: Tenant
    uow: UowFactory
    channels: TenantChannels
    clock: Callable[[], datetime]
    claim_id: str
    backoff: routing.Backoff
    deadline: float  # time.monotonic() after which no try starts


def dispatch(
    tenant: Tenant,
    uow: UowFactory,
    channels: TenantChannels,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DispatchReport:
    report = DispatchReport()
    report.routed = route_new(tenant, uow, channels, clock())
    now = clock()
    claim_id = str(uuid.uuid4())
    with uow() as tx:
        due = tx.deliveries.claim_due(now, LEASE_S, claim_id, SEND_BATCH, PER_CHANNEL)
        tx.commit()
    if not due:
        return report
    due = _hold_quiet(tenant, uow, due, claim_id, now)
    rnd = Round(tenant, uow, channels, clock, claim_id, backoff_of(tenant), time.monotonic() + ROUND_BUDGET_S)
    for outcome in _try_all(rnd, due):
        report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
        report.tried += 1
    return report


def route_new(tenant: Tenant, uow: UowFactory, channels: TenantChannels, now: datetime) -> int:
    """Each new notice becomes one delivery per channel of its recipient (or one undeliverable
    row saying why, so the log shows a notice nobody could be sent)."""
    with uow() as tx:
        notices = tx.deliveries.unrouted(ROUTE_BATCH)
        for notice in notices:
            _route_one(tenant, tx, notice, now)
        tx.commit()
    return len(notices)


def _route_one(tenant: Tenant, tx: NotifyUnitOfWork, notice: Unrouted, now: datetime) -> None:
    person = tenant.people.get(notice.recipient)
    own = person.channels if person is not None else ()
    quiet = person.quiet_hours if person is not None else ""
    plan = routing.route(own, tenant.notify.default_channels, quiet, notice.urgent, now, tenant.tz)
    if not plan.channels:
        reason = f"{notice.recipient} has no channel ([people] channels, [notify] default_channels)"
        UNDELIVERABLE.labels(tenant.tenant_id, "no_channel").inc()
        tx.deliveries.route(notice, {"-": ("undeliverable", reason)}, now, "", now)
        return
    # A channel whose settings are missing still gets its delivery: it is tried (and fails, saying
    # which variable to set) on the usual schedule, and goes out once the operator has set it.
    states = dict.fromkeys(plan.channels, ("pending", ""))
    tx.deliveries.route(notice, states, plan.not_before, plan.held_reason, now)


def _quiet_end(tenant: Tenant, item: Due, at: datetime) -> datetime | None:
    if item.urgent:
        return None
    person = tenant.people.get(item.recipient)
    return routing.quiet_until(person.quiet_hours if person else "", at, tenant.tz)


def _hold_quiet(tenant: Tenant, uow: UowFactory, due: list[Due], claim_id: str, now: datetime) -> list[Due]:
    """What became due during its recipient's quiet hours (a retry, a backlog) waits for them to
    end, unless urgent."""
    held: dict[datetime, list[str]] = {}
    ready = []
    for item in due:
        end = _quiet_end(tenant, item, now)
        if end is None:
            ready.append(item)
        else:
            held.setdefault(end, []).append(item.delivery_id)
    if held:
        with uow() as tx:
            for end, ids in held.items():
                tx.deliveries.release(ids, claim_id, end, "quiet_hours")
            tx.commit()
    return ready


def _try_all(rnd: Round, due: list[Due]) -> list[str]:
    """Each channel works through its deliveries in its own thread, so a channel that waits out
    its timeout holds up only its own messages; it stops at a failed try that got no answer or
    took long, and its others wait for that try's next time (a round then takes one timeout at
    most per channel, not one per message)."""
    by_channel: dict[str, list[Due]] = {}
    for item in due:
        by_channel.setdefault(item.channel, []).append(item)
    caller = identity.current()

    def run(name: str, items: list[Due]) -> list[str]:
        with identity.acting_as(caller):
            return _try_channel(rnd, name, items)

    if len(by_channel) == 1:
        [(name, items)] = by_channel.items()
        return run(name, items)
    with ThreadPoolExecutor(max_workers=len(by_channel), thread_name_prefix="notify-send") as pool:
        futures = [pool.submit(run, name, items) for name, items in by_channel.items()]
        return [x for future in futures for x in future.result()]


def _try_channel(rnd: Round, name: str, items: list[Due]) -> list[str]:
    channel: Channel | None = rnd.channels.channels.get(name)
    outcomes: list[str] = []
    stopped_until: datetime | None = None
    for index, item in enumerate(items):
        if time.monotonic() > rnd.deadline:
            _release(rnd, items[index:], None)
            break
        number = item.attempts + 1
        if channel is None:  # not configured (its variables unset), or gone from the tenant file
            why = rnd.channels.unavailable.get(name, "not in the tenant file")
            result = DeliveryResult("failed", f"channel {name} is not configured: {why}")
            row = AttemptRow(number, "failed", result.detail, None, None, rnd.clock(), 0)
        else:
            tried, result = attempt(channel, _message(rnd.tenant, item), number, rnd.clock)
            SEND_SECONDS.labels(name).observe(tried.duration_s)
            row = AttemptRow(
                number,
                tried.outcome,
                tried.detail,
                tried.status,
                tried.code,
                tried.at,
                int(tried.duration_s * 1000),
            )
        state, next_at = _after(row, result, rnd.backoff)
        held = ""
        if state == "pending" and next_at is not None:
            end = _quiet_end(rnd.tenant, item, next_at)
            if end is not None:
                next_at, held = end, "quiet_hours"
        with rnd.uow() as tx:
            kept = tx.deliveries.record(item.delivery_id, rnd.claim_id, row, state, next_at, held)
            tx.commit()
        if not kept:
            log.warning("notify: delivery %s was claimed by another round while tried", item.delivery_id)
        ATTEMPTS.labels(rnd.tenant.tenant_id, name, row.outcome).inc()
        outcomes.append(row.outcome)
        if row.outcome == "failed" and (row.status is None or row.duration_ms >= SLOW_S * 1000):
            # Unreachable or struggling: its other messages wait for this try's next time rather
            # than each waiting out a timeout now (and stay behind the other channels' messages).
            stopped_until = next_at
            _release(rnd, items[index + 1 :], stopped_until)
            break
    return outcomes


def _release(rnd: Round, items: list[Due], until: datetime | None) -> None:
    if items:
        with rnd.uow() as tx:
            tx.deliveries.release([i.delivery_id for i in items], rnd.claim_id, until)
            tx.commit()


def _message(tenant: Tenant, item: Due) -> Message:
    person = tenant.people.get(item.recipient)
    recipient = Recipient(
        name=item.recipient,
        mobile=(person.mobile or None) if person else None,
        email=(person.email or None) if person else None,
        feishu_open_id=(person.feishu_open_id or None) if person else None,
    )
    # The notice's id: the same on every try and every channel (the webhook's idempotency key,
    # e-mail's Message-ID).
    return Message(
        message_id=item.notification_id,
        kind=item.kind,
        recipient=recipient,
        subject=item.subject,
        body=item.body,
        reference=item.reference,
        urgent=item.urgent,
    )


def backoff_of(tenant: Tenant) -> routing.Backoff:
    r = tenant.notify.retry
    return routing.Backoff(r.attempts, r.base_delay_s, r.factor, r.max_delay_s)


def _after(row: AttemptRow, result: DeliveryResult, backoff: routing.Backoff) -> tuple[str, datetime | None]:
    if row.outcome in ("sent", "rejected"):
        return row.outcome, None
    wait = backoff.after_failure(row.attempt, result.retry_after_s)
    if wait is None:
        return "failed", None  # given up after the last try
    return "pending", row.at + timedelta(seconds=wait)
