"""Event consumers handle each event id once, for served tenants only, in their own transaction."""

from __future__ import annotations

import json

import pytest

from services.chassis.consumer import EventConsumer, Subscription
from services.chassis.events import MalformedEvent
from services.chassis.identity import current
from services.chassis.retry import RetryPolicy
from tests.unit.fakes import UowFactory


def envelope(event_id="e-1", tenant="hardware", event_type="order_approved", data=None) -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "event_type": event_type,
            "tenant_id": tenant,
            "source": "order",
            "occurred_at": "2026-11-25T09:30:00+00:00",
            "data": data or {"order_id": "o-1"},
        }
    ).encode()


class Recorder:
    """A handler that notes what it saw and writes a row through the unit of work."""

    def __init__(self, fail_with: Exception | None = None):
        self.seen: list[tuple[str, str, str]] = []
        self.fail_with = fail_with
        self.__name__ = "create_work_orders"

    def __call__(self, event, uow):
        caller = current()
        self.seen.append((event.event_id, caller.tenant_id, caller.user))
        uow._write("work_orders", event.event_id, event.data)
        if self.fail_with:
            raise self.fail_with


@pytest.fixture
def uow() -> UowFactory:
    return UowFactory()


def consumer_for(handler, uow) -> EventConsumer:
    return EventConsumer(
        "production",
        [Subscription("order", "order_approved", handler, "create_work_orders")],
        uow,
        tenants=["hardware", "autoparts"],
    )


def test_an_event_is_handled_as_the_service_for_its_tenant_and_committed(uow):
    handler = Recorder()
    consumer = consumer_for(handler, uow)

    outcome = consumer.handle("order.events", "order_approved", envelope())

    assert outcome == "ok"
    assert handler.seen == [("e-1", "hardware", "svc:production")]
    assert uow.db.table("work_orders") == {"e-1": {"order_id": "o-1"}}
    assert ("production.create_work_orders", "e-1") in uow.db.inbox


def test_a_second_delivery_of_the_same_event_is_a_duplicate_and_changes_nothing(uow):
    handler = Recorder()
    consumer = consumer_for(handler, uow)
    consumer.handle("order.events", "order_approved", envelope())
    commits = uow.db.commits

    outcome = consumer.handle("order.events", "order_approved", envelope())

    assert outcome == "duplicate"
    assert len(handler.seen) == 1
    assert uow.db.commits == commits


def test_a_different_event_id_is_handled_again(uow):
    handler = Recorder()
    consumer = consumer_for(handler, uow)

    consumer.handle("order.events", "order_approved", envelope("e-1"))
    consumer.handle("order.events", "order_approved", envelope("e-2"))

    assert [seen[0] for seen in handler.seen] == ["e-1", "e-2"]


def test_an_event_of_a_tenant_this_release_does_not_serve_is_dead_lettered_not_dropped(uow):
    """Each release has its own vhost: another tenant's event here is misrouted, and a person
    should see it (dead letter with the reason), not a counter of silently dropped events."""
    handler = Recorder()
    consumer = consumer_for(handler, uow)

    with pytest.raises(MalformedEvent, match="'furniture' is not served"):
        consumer.handle("order.events", "order_approved", envelope(tenant="furniture"))

    assert handler.seen == []
    assert uow.opened == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe not utf-8", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"just text"', "not a JSON object"),
        (envelope(event_id=None), "event_id is missing"),
        (envelope(event_id=42), "event_id is missing or not text"),
        (envelope(event_id="e" * 37), "longer than 36"),
        (envelope(event_id="e-\x1b[31m"), "control characters"),
        (envelope(tenant=["hardware"]), "tenant_id is missing or not text"),
        (envelope(data=["not", "an", "object"]), "data is not a JSON object"),
        (envelope(event_type="order_created"), "routing key says 'order_approved'"),
    ],
)
def test_every_part_of_an_envelope_is_checked_before_any_handler_runs(uow, body, reason):
    handler = Recorder()
    consumer = consumer_for(handler, uow)

    with pytest.raises(MalformedEvent, match=reason.replace("[", "\\[")):
        consumer.handle("order.events", "order_approved", body)

    assert handler.seen == [] and uow.opened == []


def test_a_route_without_a_subscription_is_malformed(uow):
    handler = Recorder()
    consumer = consumer_for(handler, uow)

    with pytest.raises(MalformedEvent, match="order_cancelled"):
        consumer.handle("order.events", "order_cancelled", envelope(event_type="order_cancelled"))

    assert handler.seen == []


def test_a_body_that_is_not_an_event_is_malformed(uow):
    consumer = consumer_for(Recorder(), uow)

    with pytest.raises(MalformedEvent):
        consumer.handle("order.events", "order_approved", b"<html>502 Bad Gateway</html>")


def test_a_failing_handler_leaves_no_trace_so_a_retry_handles_it_again(uow):
    failing = Recorder(fail_with=RuntimeError("database went away"))
    consumer = consumer_for(failing, uow)

    with pytest.raises(RuntimeError):
        consumer.handle("order.events", "order_approved", envelope())

    assert uow.db.commits == 0
    assert uow.db.table("work_orders") == {}
    assert uow.db.inbox == set()

    failing.fail_with = None
    assert consumer.handle("order.events", "order_approved", envelope()) == "ok"
    assert len(failing.seen) == 2


def test_a_failed_handler_releases_its_claim_so_the_redelivery_runs_again(uow):
    """The inbox mark is claimed first, in the handler's transaction: a failure rolls it back."""
    handler = Recorder(fail_with=ConnectionError("WMS did not answer"))
    consumer = consumer_for(handler, uow)
    with pytest.raises(ConnectionError):
        consumer.handle("order.events", "order_approved", envelope())
    handler.fail_with = None

    assert consumer.handle("order.events", "order_approved", envelope()) == "ok"
    assert len(handler.seen) == 2


@pytest.mark.parametrize(("attempt", "delay"), [(1, 0.2), (2, 0.8), (3, 3.2)])
def test_the_default_retry_delay_grows_fourfold(attempt, delay):
    assert RetryPolicy().delay_s(attempt) == pytest.approx(delay)


def versioned_consumer(handler, uow) -> EventConsumer:
    def version_of(event):
        return event.data["order_id"], int(event.data["version"])

    return EventConsumer(
        "production",
        [Subscription("order", "order_approved", handler, "create_work_orders", version_of=version_of)],
        uow,
        tenants=["hardware"],
    )


def test_each_aggregates_newest_version_is_applied_once_and_an_older_one_is_stale(uow):
    """A second order_approved (version 3, after an approved change) is applied; version 2
    arriving late (a retry, a parallel relay) changes nothing and is marked processed."""
    handler = Recorder()
    consumer = versioned_consumer(handler, uow)

    def approved(event_id: str, version: int) -> bytes:
        return envelope(event_id, data={"order_id": "o-1", "version": version})

    assert consumer.handle("order.events", "order_approved", approved("e-2", 2)) == "ok"
    assert consumer.handle("order.events", "order_approved", approved("e-3", 3)) == "ok"
    assert consumer.handle("order.events", "order_approved", approved("e-2b", 2)) == "stale"
    assert consumer.handle("order.events", "order_approved", approved("e-3b", 3)) == "stale"
    assert consumer.handle("order.events", "order_approved", approved("e-2b", 2)) == "duplicate"
    assert [seen[0] for seen in handler.seen] == ["e-2", "e-3"]
    assert ("production.create_work_orders", "e-2b") in uow.db.inbox


def test_the_inbox_key_is_the_subscriptions_name_not_its_functions(uow):
    """Renaming a handler function must not reset deduplication: the key is written out."""
    first, renamed = Recorder(), Recorder()
    renamed.__name__ = "make_work_orders_v2"
    consumer_for(first, uow).handle("order.events", "order_approved", envelope("e-1"))

    assert consumer_for(renamed, uow).handle("order.events", "order_approved", envelope("e-1")) == "duplicate"
    assert renamed.seen == []


def test_no_service_layer_or_domain_imports_sqlalchemy():
    """Storage errors become domain errors (Duplicate, Conflict) in the adapters."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "services"
    offenders = []
    for path in [*root.glob("*/service_layer/*.py"), *root.glob("*/domain/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] == "sqlalchemy"]
    assert offenders == []


def test_a_message_id_naming_another_event_is_malformed_and_none_is_fine(uow):
    """nameko's own events carry no message_id property; one that does must name the event."""
    handler = Recorder()
    consumer = consumer_for(handler, uow)

    with pytest.raises(MalformedEvent, match="message_id does not match"):
        consumer.handle("order.events", "order_approved", envelope("e-1"), message_id="e-2")
    assert consumer.handle("order.events", "order_approved", envelope("e-1"), message_id="e-1") == "ok"
    assert consumer.handle("order.events", "order_approved", envelope("e-3")) == "ok"
