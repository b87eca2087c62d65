"""Event consumers: each event id is handled once per consumer, in the consumer's own unit of
work, whatever transport delivered it (RabbitMQ, the in-process bus, or nameko)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from services.chassis.events import MalformedEvent, ReceivedEvent
from services.chassis.identity import Identity, acting_as
from services.chassis.metrics import EVENTS_CONSUMED
from services.chassis.telemetry import context_from_headers, tracer
from services.chassis.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[ReceivedEvent, Any], None]  # (event, unit of work); must not commit


VersionOf = Callable[[ReceivedEvent], tuple[str, int]]  # event -> (aggregate id, aggregate version)


@dataclass(frozen=True)
class Subscription:
    source: str  # service whose exchange carries the event
    event_type: str
    handler: Handler
    # Stable name of this subscription: its inbox key and metrics label. Renaming a handler
    # function changes nothing; renaming this resets deduplication, so it is written out.
    name: str
    # For events that carry an aggregate's state at a version: apply each aggregate's newest
    # version once; an older or equal one arriving later (a retry, a parallel relay) is stale.
    version_of: VersionOf | None = None

    @property
    def exchange(self) -> str:
        return f"{self.source}.events"


@dataclass(frozen=True)
class Prepared:
    """A delivery routed and checked, ready to be handled."""

    subscription: Subscription
    name: str  # the subscription's inbox key and metrics label
    event: ReceivedEvent
    headers: Mapping[str, Any]


class EventConsumer:
    """Dispatches one delivered message to its subscription. Raises MalformedEvent for a message
    no retry can fix; any other exception means "retry later"."""

    def __init__(
        self,
        service: str,
        subscriptions: Sequence[Subscription],
        uow_factory: Callable[[], UnitOfWork],
        tenants: Sequence[str],
    ):
        self.service = service
        self.subscriptions = list(subscriptions)
        self._routes = {(s.exchange, s.event_type): s for s in subscriptions}
        self._uow_factory = uow_factory
        self._tenants = set(tenants)

    def handle(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | Mapping[str, Any],
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str:
        """Handle one delivered message in its own unit of work; returns the outcome."""
        return self.handle_batch([self.prepare(exchange, routing_key, body, headers, message_id)])[0]

    def prepare(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | Mapping[str, Any],
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Prepared:
        """Route and check a delivery before any database work; MalformedEvent if it cannot be."""
        sub = self._routes.get((exchange, routing_key))
        if sub is None:
            raise MalformedEvent(f"{self.service} has no handler for {exchange}/{routing_key}")
        event = ReceivedEvent.parse(body)
        if message_id is not None and message_id != event.event_id:
            # nameko's own events carry no message_id; one that does must name this event
            raise MalformedEvent("property message_id does not match the envelope's event_id")
        if event.event_type != routing_key:
            raise MalformedEvent(f"envelope says {event.event_type!r}, routing key says {routing_key!r}")
        if event.tenant_id not in self._tenants:
            # Each release has its own vhost: another business line's event here is misrouted.
            raise MalformedEvent(f"tenant {event.tenant_id!r} is not served by this release")
        return Prepared(sub, f"{self.service}.{sub.name}", event, headers or {})

    def handle_batch(self, batch: Sequence[Prepared]) -> list[str]:
        """Handle prepared events of one tenant in ONE unit of work: one commit for all of them
        (what a consumer under load saves most), each still claimed in the inbox, so every event
        takes effect exactly once. Any exception rolls all of them back: the caller then handles
        them one by one to find the one that fails. Handlers therefore only write through the
        unit of work (they already must: a retry runs them again)."""
        tenants = {p.event.tenant_id for p in batch}
        if len(tenants) != 1:
            raise ValueError("a batch is one tenant's events (the outbox rows it writes carry it)")
        caller = Identity(tenant_id=tenants.pop(), user=f"svc:{self.service}", roles=frozenset({"service"}))
        with acting_as(caller), self._uow_factory() as uow:
            outcomes = [self._apply(uow, p) for p in batch]
            if any(outcome != "duplicate" for outcome in outcomes):  # duplicates wrote nothing
                uow.commit()
        for p, outcome in zip(batch, outcomes, strict=True):
            EVENTS_CONSUMED.labels(p.name, p.event.event_type, outcome).inc()
        return outcomes

    def _apply(self, uow: UnitOfWork, p: Prepared) -> str:
        event = p.event
        ctx = context_from_headers({k: str(v) for k, v in p.headers.items()})
        span_name = f"consume {event.source}.{event.event_type}"
        with tracer().start_as_current_span(span_name, context=ctx, kind=trace.SpanKind.CONSUMER) as span:
            span.set_attribute("messaging.message.id", event.event_id)
            span.set_attribute("oms.tenant", event.tenant_id)
            if not uow.claim(p.name, event.event_id):
                return "duplicate"
            versioned = p.subscription.version_of(event) if p.subscription.version_of else None
            if versioned and not uow.apply_version(p.name, *versioned):
                # The same or a newer version of this aggregate was applied already (retries and
                # parallel relays reorder events): nothing to do; the claim is kept, so a
                # redelivery is a plain duplicate.
                log.info(
                    "%s: %s %s is older than the version applied", p.name, event.event_type, event.event_id
                )
                return "stale"
            p.subscription.handler(event, uow)
            uow.capture_trace()  # what it recorded carries this event's trace (one commit, many events)
        return "ok"

    def record_retry(self, exchange: str, routing_key: str) -> None:
        EVENTS_CONSUMED.labels(self._name_for(exchange, routing_key), routing_key, "retry").inc()

    def record_dead_letter(self, exchange: str, routing_key: str) -> None:
        EVENTS_CONSUMED.labels(self._name_for(exchange, routing_key), routing_key, "dead_letter").inc()

    def _name_for(self, exchange: str, routing_key: str) -> str:
        sub = self._routes.get((exchange, routing_key))
        return f"{self.service}.{sub.name}" if sub else f"{self.service}.unrouted"
