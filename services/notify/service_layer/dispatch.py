"""Notices out on the channels: route each new notice to its recipient's channels (quiet hours
held), then try every delivery that is due, each channel in its own thread, and log every try.

Runs as the chassis job "notify_dispatch" (every OMS_NOTIFY_DISPATCH_S seconds, per tenant; nameko's
timer ticks the same job in the worker). Why it is once: a notice is recorded in the same
transaction as the event's inbox mark (one notice per event); routing adds one delivery per
(notice, channel) under a unique key; a delivery is claimed (a lease) before it is tried, so two
dispatchers never try one delivery at once; and once a channel has said "sent" the delivery is
final. The one gap no dispatcher can close: a process killed after a platform accepted a message
but before the "sent" was stored tries it again when the lease ends (the generic webhook carries
an idempotency key for that; the chat robots have none — README "Notifications").
"""

from __future__ import annotations

import logging
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
    "Notices that no channel could carry (no channel for the person, or the channel not configured)",
    ["tenant", "reason"],
)
SEND_SECONDS = Histogram(
    "oms_notify_delivery_seconds",
    "How long one try on a channel took",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

ROUTE_BATCH = 500  # notices routed per run
SEND_BATCH = 50  # deliveries tried per run: at a 5 s timeout each, well inside the lease
LEASE_S = 300.0
SLOW_S = 1.0  # a failed try that took this long: the channel is struggling, try its others later


@dataclass
class DispatchReport:
    routed: int = 0
    tried: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def dispatch(
    tenant: Tenant,
    uow: UowFactory,
    channels: TenantChannels,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DispatchReport:
    report = DispatchReport()
    report.routed = route_new(tenant, uow, channels, clock())
    now = clock()
    with uow() as tx:
        due = tx.deliveries.claim_due(now, LEASE_S, SEND_BATCH)
        tx.commit()
    if not due:
        return report
    results = _try_all(tenant, due, channels, clock)
    backoff = backoff_of(tenant)
    tried = {item.delivery_id for item, _, _ in results}
    with uow() as tx:
        for item, row, result in results:
            state, next_at = _after(row.outcome, row.attempt, result, backoff, row.at)
            tx.deliveries.record(item.delivery_id, row, state, next_at)
        tx.deliveries.release([item.delivery_id for item in due if item.delivery_id not in tried])
        tx.commit()
    for item, row, _ in results:
        ATTEMPTS.labels(tenant.tenant_id, item.channel, row.outcome).inc()
        report.outcomes[row.outcome] = report.outcomes.get(row.outcome, 0) + 1
    report.tried = len(results)
    return report


def route_new(tenant: Tenant, uow: UowFactory, channels: TenantChannels, now: datetime) -> int:
    """Each new notice becomes one delivery per channel of its recipient (or one undeliverable
    row saying why, so the log shows a notice nobody could be sent)."""
    with uow() as tx:
        notices = tx.deliveries.unrouted(ROUTE_BATCH)
        for notice in notices:
            _route_one(tenant, tx, channels, notice, now)
        tx.commit()
    return len(notices)


def _route_one(
    tenant: Tenant, tx: NotifyUnitOfWork, channels: TenantChannels, notice: Unrouted, now: datetime
) -> None:
    person = tenant.people.get(notice.recipient)
    own = person.channels if person is not None else ()
    quiet = person.quiet_hours if person is not None else ""
    plan = routing.route(own, tenant.notify.default_channels, quiet, notice.urgent, now, tenant.tz)
    if not plan.channels:
        reason = f"{notice.recipient} has no channel ([people] channels, [notify] default_channels)"
        UNDELIVERABLE.labels(tenant.tenant_id, "no_channel").inc()
        tx.deliveries.route(notice, {"-": ("undeliverable", reason)}, now, "", now)
        return
    states = {}
    for name in plan.channels:
        missing = channels.unavailable.get(name)
        if missing is not None:
            UNDELIVERABLE.labels(tenant.tenant_id, "channel_not_configured").inc()
            states[name] = ("undeliverable", f"channel {name} is not configured: {missing}")
        else:
            states[name] = ("pending", "")
    tx.deliveries.route(notice, states, plan.not_before, plan.held_reason, now)


def _try_all(
    tenant: Tenant, due: list[Due], channels: TenantChannels, clock: Callable[[], datetime]
) -> list[tuple[Due, AttemptRow, DeliveryResult]]:
    """Each channel works through its due deliveries in its own thread, so a channel that waits
    out its timeout holds up only its own messages, and stops at a failed try that got no answer
    or took long (a round then takes one timeout at most, not one per message)."""
    by_channel: dict[str, list[Due]] = {}
    for item in due:
        by_channel.setdefault(item.channel, []).append(item)
    caller = identity.current()

    def run(name: str, items: list[Due]) -> list[tuple[Due, AttemptRow, DeliveryResult]]:
        with identity.acting_as(caller):
            channel: Channel | None = channels.channels.get(name)
            out = []
            for item in items:
                number = item.attempts + 1
                if channel is None:  # taken out of the tenant file since it was routed
                    result = DeliveryResult("rejected", f"channel {name} is no longer configured")
                    at = clock()
                    out.append(
                        (item, AttemptRow(number, "rejected", result.detail, None, None, at, 0), result)
                    )
                    continue
                row, result = attempt(channel, _message(tenant, item), number, clock)
                SEND_SECONDS.labels(name).observe(row.duration_s)
                tried = AttemptRow(
                    number, row.outcome, row.detail, row.status, row.code, row.at, int(row.duration_s * 1000)
                )
                out.append((item, tried, result))
                if result.outcome == "failed" and (row.status is None or row.duration_s >= SLOW_S):
                    # The channel is unreachable or slow: its other messages wait for the next
                    # round (released, not tried) instead of each waiting out a timeout in this
                    # one. A quick refusal (503, a robot's "busy") costs little: the rest go on.
                    break
            return out

    if len(by_channel) == 1:
        [(name, items)] = by_channel.items()
        return run(name, items)
    with ThreadPoolExecutor(max_workers=len(by_channel), thread_name_prefix="notify-send") as pool:
        futures = [pool.submit(run, name, items) for name, items in by_channel.items()]
        return [x for future in futures for x in future.result()]


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


def _after(
    outcome: str, number: int, result: DeliveryResult, backoff: routing.Backoff, tried_at: datetime
) -> tuple[str, datetime | None]:
    if outcome in ("sent", "rejected"):
        return outcome, None
    wait = backoff.after_failure(number, result.retry_after_s)
    if wait is None:
        return "failed", None  # given up after the last try
    return "pending", tried_at + timedelta(seconds=wait)
