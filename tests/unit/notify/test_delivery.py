"""deliver(): retries with backoff, one attempt record per try, and channels that never hold up or
stop each other. No test sleeps for a backoff: the sleep is a recorder."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from services.notify.channels import (
    Attempt,
    BackoffPolicy,
    DeliveryResult,
    Message,
    WebhookChannel,
    WebhookConfig,
    deliver,
)
from tests.unit.notify.support import DUE, FakeSleep, Receiver, Reply


@dataclass
class Scripted:
    """A channel answering from a script (then the last answer again); it may also raise."""

    name: str
    script: list[DeliveryResult | Exception]
    before: Callable[[], None] = lambda: None
    after: Callable[[], None] = lambda: None
    sent: list[str] = field(default_factory=list)

    def send(self, message: Message) -> DeliveryResult:
        self.before()
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        if answer.outcome == "sent":
            self.sent.append(message.message_id)
        self.after()
        return answer


OK = DeliveryResult("sent", "ok", status=200)
DOWN = DeliveryResult("failed", "HTTP 503: down", status=503)
NO = DeliveryResult("rejected", "HTTP 401: bad signature", status=401)


def test_an_endpoint_that_fails_twice_then_recovers_gets_the_message_exactly_once(
    receiver: Receiver, fake_sleep: FakeSleep
) -> None:
    receiver.answer(Reply(status=503, body="down"), Reply(status=502, body="bad gateway"))
    receiver.default = Reply(status=200, body="stored")
    channel = WebhookChannel("plant_sms", WebhookConfig(url=f"{receiver.url}/notify", secret="s"))
    logged: list[Attempt] = []

    delivery = deliver(
        [channel],
        DUE,
        BackoffPolicy(attempts=5, base_delay_s=1.0),
        sleep=fake_sleep,
        on_attempt=logged.append,
    )

    assert [(a.attempt, a.outcome, a.status) for a in delivery.attempts] == [
        (1, "failed", 503),
        (2, "failed", 502),
        (3, "sent", 200),
    ]
    assert logged == list(delivery.attempts)
    assert delivery.outcomes == {"plant_sms": "sent"}
    assert fake_sleep.waits == [1.0, 2.0]
    # Three requests, one accepted, none after it: the endpoint has the message once.
    assert receiver.answered == [503, 502, 200]
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {DUE.message_id}


def test_a_lost_answer_is_retried_with_the_same_idempotency_key(
    receiver: Receiver, fake_sleep: FakeSleep
) -> None:
    # The endpoint accepts the first request but answers after our timeout: to us it failed. The
    # retry carries the same key, so a receiver that dedupes keeps one copy. (A chat robot has no
    # such key and would show the message twice; see docs/notify-channels.md.)
    receiver.answer(Reply(status=200, body="stored", delay_s=1.0))
    receiver.default = Reply(status=200, body="duplicate, already stored")
    config = WebhookConfig(url=f"{receiver.url}/notify", secret="s", timeout_s=0.2)

    delivery = deliver([WebhookChannel("plant_sms", config)], DUE, sleep=fake_sleep)

    assert [a.outcome for a in delivery.attempts] == ["failed", "sent"]
    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    assert keys == [DUE.message_id, DUE.message_id]
    assert len(set(keys)) == 1  # what a deduping receiver stores


def test_a_channel_that_raises_does_not_stop_the_others(fake_sleep: FakeSleep) -> None:
    broken = Scripted("broken", [RuntimeError("template missing")])
    good = Scripted("good", [OK])

    delivery = deliver([broken, good], DUE, BackoffPolicy(attempts=3), sleep=fake_sleep)

    assert delivery.outcomes == {"broken": "failed", "good": "sent"}
    assert good.sent == [DUE.message_id]
    assert [a.outcome for a in delivery.of("broken")] == ["failed"] * 3
    assert delivery.of("broken")[0].detail == "RuntimeError: template missing"
    assert [a.outcome for a in delivery.of("good")] == ["sent"]


def test_a_channel_waiting_out_its_timeout_does_not_hold_up_the_others(fake_sleep: FakeSleep) -> None:
    good_done = threading.Event()
    seen_while_waiting: list[bool] = []

    def hang() -> None:  # stands for a request waiting for its timeout
        seen_while_waiting.append(good_done.wait(timeout=5))

    slow = Scripted("slow", [DeliveryResult("failed", "timeout (ReadTimeout)")], before=hang)
    good = Scripted("good", [OK], after=good_done.set)

    delivery = deliver([slow, good], DUE, BackoffPolicy(attempts=1), sleep=fake_sleep)

    assert seen_while_waiting == [True]  # "good" finished while "slow" was still waiting
    assert delivery.outcomes == {"slow": "failed", "good": "sent"}


def test_backoff_delays_follow_the_policy(fake_sleep: FakeSleep) -> None:
    policy = BackoffPolicy(attempts=5, base_delay_s=0.5, factor=3.0, max_delay_s=5.0)

    delivery = deliver([Scripted("down", [DOWN])], DUE, policy, sleep=fake_sleep)

    assert fake_sleep.waits == [0.5, 1.5, 4.5, 5.0]  # capped at max_delay_s
    assert [a.attempt for a in delivery.attempts] == [1, 2, 3, 4, 5]
    assert delivery.outcomes == {"down": "failed"}


def test_a_rejection_is_not_retried(fake_sleep: FakeSleep) -> None:
    delivery = deliver([Scripted("bad_key", [NO, OK])], DUE, sleep=fake_sleep)

    assert [(a.outcome, a.status) for a in delivery.attempts] == [("rejected", 401)]
    assert fake_sleep.waits == []


def test_a_rate_limit_hint_longer_than_the_backoff_is_honoured(fake_sleep: FakeSleep) -> None:
    limited = DeliveryResult("failed", "rate limited", code=130101, retry_after_s=60.0)

    deliver([Scripted("ding", [limited, OK])], DUE, BackoffPolicy(base_delay_s=2.0), sleep=fake_sleep)

    assert fake_sleep.waits == [60.0]


def test_attempts_carry_the_time_they_started_and_a_failing_log_does_not_stop_sending(
    fake_sleep: FakeSleep,
) -> None:
    at = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)

    def broken_log(attempt: Attempt) -> None:
        raise OSError("delivery log unavailable")

    delivery = deliver(
        [Scripted("c", [DOWN, OK])], DUE, sleep=fake_sleep, clock=lambda: at, on_attempt=broken_log
    )

    assert [(a.outcome, a.at, a.message_id, a.channel) for a in delivery.attempts] == [
        ("failed", at, DUE.message_id, "c"),
        ("sent", at, DUE.message_id, "c"),
    ]
    assert all(a.duration_s >= 0 for a in delivery.attempts)


def test_channel_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        deliver([Scripted("a", [OK]), Scripted("a", [OK])], DUE)


def test_a_policy_needs_one_attempt_at_least() -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(attempts=0)
