"""The embedded bus: routes by exchange and routing key, retries with backoff, dead-letters."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest

from services.chassis.consumer import EventConsumer, Subscription
from services.chassis.events import Message
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.retry import RetryPolicy
from tests.unit.fakes import UowFactory

FAST = RetryPolicy(max_attempts=3, first_delay_s=0.001, factor=2.0)
WAIT_S = 5.0


def message(event_id: str = "e-1", body: bytes | None = None, routing_key: str = "order_approved") -> Message:
    if body is None:
        body = json.dumps(
            {
                "event_id": event_id,
                "event_type": routing_key,
                "tenant_id": "hardware",
                "source": "order",
                "occurred_at": "2026-11-25T09:30:00+00:00",
                "data": {"order_id": "o-1"},
            }
        ).encode()
    return Message("order.events", routing_key, body, event_id, "hardware")


class FlakyHandler:
    """Fails its first `failures` calls, then succeeds."""

    __name__ = "create_work_orders"

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0
        self.succeeded = threading.Event()

    def __call__(self, event, uow):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"attempt {self.calls} failed")
        self.succeeded.set()


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return False


@pytest.fixture
def bus():
    bus = InProcessBus(FAST)
    yield bus
    bus.stop()


def subscribe(bus: InProcessBus, handler, uow: UowFactory) -> None:
    bus.subscribe(
        EventConsumer(
            "production",
            [Subscription("order", "order_approved", handler, "create_work_orders")],
            uow,
            ["hardware"],
        )
    )


def test_a_handler_that_fails_twice_then_succeeds_is_retried_until_it_does(bus):
    uow = UowFactory()
    handler = FlakyHandler(failures=2)
    subscribe(bus, handler, uow)

    bus.publish_batch([message()])

    assert handler.succeeded.wait(WAIT_S)
    assert handler.calls == 3
    assert eventually(lambda: ("production.create_work_orders", "e-1") in uow.db.inbox)
    assert bus.dead_letters == []


def test_a_message_that_always_fails_is_dead_lettered_after_the_last_attempt(bus):
    uow = UowFactory()
    handler = FlakyHandler(failures=10**6)
    subscribe(bus, handler, uow)

    bus.publish_batch([message("e-doomed")])

    assert eventually(lambda: len(bus.dead_letters) == 1)
    [dead] = bus.dead_letters
    assert dead.consumer == "production"
    assert dead.message.message_id == "e-doomed"
    assert "ConnectionError" in dead.reason
    assert handler.calls == FAST.max_attempts
    assert uow.db.inbox == set()


def test_a_poison_message_goes_straight_to_the_dead_letters(bus):
    handler = FlakyHandler(failures=0)
    subscribe(bus, handler, UowFactory())

    bus.publish_batch([message("e-poison", body=b"\x00\x01 not json")])

    assert eventually(lambda: len(bus.dead_letters) == 1)
    assert bus.dead_letters[0].message.message_id == "e-poison"
    assert "not an OMS event" in bus.dead_letters[0].reason
    assert handler.calls == 0


def test_every_subscribed_consumer_gets_its_own_copy(bus):
    production, notify = FlakyHandler(0), FlakyHandler(0)
    subscribe(bus, production, UowFactory())
    subscribe(bus, notify, UowFactory())

    bus.publish_batch([message()])

    assert production.succeeded.wait(WAIT_S)
    assert notify.succeeded.wait(WAIT_S)


def test_a_message_nobody_subscribed_to_goes_nowhere(bus):
    handler = FlakyHandler(0)
    subscribe(bus, handler, UowFactory())

    bus.publish_batch([message(routing_key="order_created")])
    bus.publish_batch([message("e-2")])

    assert handler.succeeded.wait(WAIT_S)
    assert handler.calls == 1
    assert bus.dead_letters == []
