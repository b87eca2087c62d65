"""The dispatcher through notify's own database (SQLite) and real HTTP to a local receiver, on a
controllable clock (no test sleeps for a backoff): a notice goes once to each of its recipient's
channels; an endpoint that fails then recovers gets it exactly once; a rejection is not retried;
quiet hours hold what is not urgent; a hanging channel holds up only itself; two dispatchers at
once send nothing twice; every try is in the delivery log."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.chassis.db import make_engine
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenant_config import Notify, NotifyRetry, Person
from services.chassis.tenants import load_tenants
from services.notify.adapters.delivery_store import AttemptRow
from services.notify.app import definition
from services.notify.channels import DeliveryResult, Message, WebhookChannel, WebhookConfig
from services.notify.channels.directory import TenantChannels
from services.notify.domain.model import Notification
from services.notify.service_layer.dispatch import dispatch, route_new
from tests.unit.notify.support import Receiver, Reply

BASE = load_tenants(("hardware",))["hardware"]
SUPERVISOR = "周建华"
# 2026-12-08 10:00 in Beijing: a working morning, outside quiet hours.
MORNING = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
NIGHT = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)  # 23:00 in Beijing


def tenant_with(**people: Person):
    notify = Notify(
        channels={},  # the channels themselves are built by the test (TenantChannels)
        default_channels=(),
        retry=NotifyRetry(attempts=4, base_delay_s=5.0, factor=2.0, max_delay_s=60.0),
    )
    return BASE.model_copy(update={"notify": notify, "people": {**BASE.people, **people}})


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def notify(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'notify.db'}")
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    with acting_as(Identity("hardware", "job:notify_dispatch", frozenset({"service"}))):
        yield uow
    engine.dispose()


def record(uow, recipient: str, at: datetime, *, urgent: bool = False, kind: str = "due_warning") -> str:
    notice_id = str(uuid.uuid4())
    with uow() as tx:
        tx.notifications.add(
            Notification(
                notice_id,
                recipient,
                "production_supervisor",
                "交期预警 due-date warning: HW-WO-20261208-00001-01 48 小时内到期",
                "订单 order HW-20261208-00001, 交期 due 2026-12-10",
                str(uuid.uuid4()),
                "HW-WO-20261208-00001-01",
                at,
                kind,
                "HW-20261208-00001",
                urgent,
            )
        )
        tx.commit()
    return notice_id


def log_of(uow, **filters):
    with uow(read_only=True) as tx:
        found, _ = tx.deliveries.page(page_size=100, **filters)
        return found


def webhook(receiver: Receiver, name: str = "plant_sms") -> WebhookChannel:
    return WebhookChannel(name, WebhookConfig(url=receiver.url, secret="s3cret", timeout_s=2.0))


def test_an_endpoint_that_fails_twice_then_recovers_gets_the_message_exactly_once(notify, receiver):
    tenant = tenant_with(**{SUPERVISOR: Person(roles=("production_supervisor",), channels=("plant_sms",))})
    channels = TenantChannels({"plant_sms": webhook(receiver)})
    receiver.answer(Reply(status=503, body="down"), Reply(status=502, body="bad gateway"))
    clock = Clock(MORNING)
    notice_id = record(notify, SUPERVISOR, MORNING)

    first = dispatch(tenant, notify, channels, clock)
    assert (first.routed, first.tried, first.outcomes) == (1, 1, {"failed": 1})
    clock.advance(4.9)  # the next try is 5 s after the first
    assert dispatch(tenant, notify, channels, clock).tried == 0
    clock.advance(0.1)
    assert dispatch(tenant, notify, channels, clock).outcomes == {"failed": 1}
    clock.advance(10)  # then 10 s
    assert dispatch(tenant, notify, channels, clock).outcomes == {"sent": 1}
    clock.advance(3600)
    assert dispatch(tenant, notify, channels, clock).tried == 0

    assert receiver.answered == [503, 502, 200]
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {notice_id}
    [delivery] = log_of(notify, reference="HW-WO-20261208-00001-01")
    assert (delivery.recipient, delivery.channel, delivery.state, delivery.attempts) == (
        SUPERVISOR,
        "plant_sms",
        "sent",
        3,
    )
    assert [(t.attempt, t.outcome, t.status) for t in delivery.tries] == [
        (1, "failed", 503),
        (2, "failed", 502),
        (3, "sent", 200),
    ]
    assert [t.at for t in delivery.tries] == [
        MORNING,
        MORNING + timedelta(seconds=5),
        MORNING + timedelta(seconds=15),
    ]
    assert delivery.finished_at == MORNING + timedelta(seconds=15)
    assert log_of(notify, order_no="HW-20261208-00001") == [delivery]
    assert log_of(notify, recipient=SUPERVISOR, state="sent") == [delivery]
    assert log_of(notify, recipient="陈丽") == []


def test_a_rate_limit_hint_longer_than_the_backoff_is_honoured(notify, receiver):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_sms",))})
    channels = TenantChannels({"plant_sms": webhook(receiver)})
    receiver.answer(Reply(status=429, body="slow down", headers={"Retry-After": "30"}))
    clock = Clock(MORNING)
    record(notify, SUPERVISOR, MORNING)

    dispatch(tenant, notify, channels, clock)
    clock.advance(29)
    assert dispatch(tenant, notify, channels, clock).tried == 0
    clock.advance(1)
    assert dispatch(tenant, notify, channels, clock).outcomes == {"sent": 1}


def test_a_rejection_is_not_retried_and_the_last_failure_gives_up(notify, receiver):
    tenant = tenant_with(
        **{
            SUPERVISOR: Person(channels=("plant_sms",)),
            "陈丽": Person(roles=("sales",), channels=("office_hook",)),
        }
    )
    refusing, failing = Receiver(), Receiver()
    with refusing, failing:
        refusing.default = Reply(status=401, body="bad signature")
        failing.default = Reply(status=500, body="broken")
        channels = TenantChannels(
            {"plant_sms": webhook(refusing), "office_hook": webhook(failing, "office_hook")}
        )
        clock = Clock(MORNING)
        record(notify, SUPERVISOR, MORNING)
        record(notify, "陈丽", MORNING)
        for _ in range(10):
            dispatch(tenant, notify, channels, clock)
            clock.advance(120)

    assert refusing.answered == [401]
    assert failing.answered == [500] * 4  # [notify.retry] attempts
    states = {d.channel: (d.state, d.attempts) for d in log_of(notify)}
    assert states == {"plant_sms": ("rejected", 1), "office_hook": ("failed", 4)}


def test_quiet_hours_hold_what_is_not_urgent_until_they_end(notify, receiver):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_sms",), quiet_hours="22:00-07:00")})
    channels = TenantChannels({"plant_sms": webhook(receiver)})
    clock = Clock(NIGHT)
    routine = record(notify, SUPERVISOR, NIGHT, kind="due_warning_withdrawn")
    urgent = record(notify, SUPERVISOR, NIGHT, urgent=True)

    assert dispatch(tenant, notify, channels, clock).outcomes == {"sent": 1}
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [urgent]
    held = next(d for d in log_of(notify) if d.notification_id == routine)
    seven_in_beijing = datetime(2026, 12, 8, 23, 0, tzinfo=UTC)
    assert (held.state, held.held_reason, held.next_attempt_at) == (
        "pending",
        "quiet_hours",
        seven_in_beijing,
    )

    clock.now = seven_in_beijing - timedelta(seconds=1)
    assert dispatch(tenant, notify, channels, clock).tried == 0
    clock.now = seven_in_beijing
    assert dispatch(tenant, notify, channels, clock).outcomes == {"sent": 1}
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [urgent, routine]


def test_nobody_to_send_to_is_said_in_the_log_and_a_channel_set_late_still_delivers(notify, receiver):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_wecom",))})
    missing = "environment variable OMS_NOTIFY_HARDWARE_WECOM_URL is not set"
    channels = TenantChannels({}, {"plant_wecom": missing})
    clock = Clock(MORNING)
    notice = record(notify, SUPERVISOR, MORNING)
    record(notify, "王无名", MORNING)  # listed nowhere, and no default channels

    report = dispatch(tenant, notify, channels, clock)

    assert (report.routed, report.outcomes) == (2, {"failed": 1})
    said = {d.recipient: (d.channel, d.state, d.detail) for d in log_of(notify)}
    assert said == {
        SUPERVISOR: ("plant_wecom", "pending", f"channel plant_wecom is not configured: {missing}"),
        "王无名": (
            "-",
            "undeliverable",
            "王无名 has no channel ([people] channels, [notify] default_channels)",
        ),
    }
    # the operator sets the variable (the channel is built); the next try delivers
    channels.channels["plant_wecom"] = webhook(receiver, "plant_wecom")
    clock.advance(5)
    assert dispatch(tenant, notify, channels, clock).outcomes == {"sent": 1}
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [notice]


@dataclass
class Gate:
    """A channel that answers only once `opens` is set (or gives up after 5 s)."""

    name: str
    opens: threading.Event
    sent: list[str] = field(default_factory=list)

    def send(self, message: Message) -> DeliveryResult:
        if not self.opens.wait(5):
            return DeliveryResult("failed", "timeout")
        self.sent.append(message.message_id)
        return DeliveryResult("sent", "ok", status=200)


@dataclass
class Opener:
    name: str
    opens: threading.Event

    def send(self, message: Message) -> DeliveryResult:
        self.opens.set()
        return DeliveryResult("sent", "ok", status=200)


def test_a_channel_that_hangs_holds_up_only_itself(notify):
    """The slow channel's send waits until the fast one has sent: were they tried one after the
    other, the slow one would give up (5 s) first."""
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("slow", "fast"))})
    opened = threading.Event()
    slow = Gate("slow", opened)
    channels = TenantChannels({"slow": slow, "fast": Opener("fast", opened)})
    notice = record(notify, SUPERVISOR, MORNING)

    report = dispatch(tenant, notify, channels, Clock(MORNING))

    assert report.outcomes == {"sent": 2}
    assert slow.sent == [notice]


@dataclass
class Raising:
    name: str = "broken"

    def send(self, message: Message) -> DeliveryResult:
        raise RuntimeError("the robot's SDK fell over")


def test_a_channel_that_raises_is_its_own_failed_try(notify, receiver):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("broken", "plant_sms"))})
    channels = TenantChannels({"broken": Raising(), "plant_sms": webhook(receiver)})
    record(notify, SUPERVISOR, MORNING)

    assert dispatch(tenant, notify, channels, Clock(MORNING)).outcomes == {"failed": 1, "sent": 1}
    broken = next(d for d in log_of(notify) if d.channel == "broken")
    assert (broken.state, broken.detail) == ("pending", "RuntimeError: the robot's SDK fell over")


def test_two_dispatchers_at_once_send_each_message_once(notify, receiver):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_sms",))})
    channels = TenantChannels({"plant_sms": webhook(receiver)})
    for _ in range(20):
        record(notify, SUPERVISOR, MORNING)
    caller = Identity("hardware", "job:notify_dispatch", frozenset({"service"}))
    start = threading.Barrier(2)

    def one() -> None:
        with acting_as(caller):
            start.wait()
            dispatch(tenant, notify, channels, Clock(MORNING))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dispatch(tenant, notify, channels, Clock(MORNING))  # whatever a lost race left

    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    assert len(keys) == len(set(keys)) == 20
    assert {d.state for d in log_of(notify)} == {"sent"}


def test_an_unreachable_channel_is_tried_once_a_round_and_loses_nothing(notify, receiver):
    """Three notices on a channel nobody answers: one try per round (not one timeout per notice),
    the others released for the next round; once it answers, every notice arrives once."""
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_sms",))})
    with Receiver() as gone:
        unreachable = webhook(gone)
    channels = TenantChannels({"plant_sms": unreachable})  # its port is closed now
    clock = Clock(MORNING)
    notices = {record(notify, SUPERVISOR, MORNING) for _ in range(3)}

    assert dispatch(tenant, notify, channels, clock).outcomes == {"failed": 1}
    # the channel's other notices wait for that try's next time (5 s), behind nobody's else
    assert dispatch(tenant, notify, channels, clock).outcomes == {}
    assert {d.next_attempt_at for d in log_of(notify)} == {MORNING + timedelta(seconds=5)}
    clock.advance(5)
    assert dispatch(tenant, notify, channels, clock).outcomes == {"failed": 1}
    channels.channels["plant_sms"] = webhook(receiver)
    for _ in range(6):
        clock.advance(20)
        dispatch(tenant, notify, channels, clock)

    assert sorted(r.headers["Idempotency-Key"] for r in receiver.requests) == sorted(notices)
    delivered = log_of(notify)
    assert {d.state for d in delivered} == {"sent"}
    # one notice's tries found nobody twice (no HTTP answer), one per round; the others waited
    assert sorted(len(d.tries) for d in delivered) == [1, 1, 3]
    assert [t.status for d in delivered for t in d.tries if t.outcome == "failed"] == [None, None]


def test_a_channel_that_answers_no_quickly_goes_on_with_its_other_messages(notify, receiver):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_sms",))})
    channels = TenantChannels({"plant_sms": webhook(receiver)})
    receiver.answer(Reply(status=503, body="busy"))
    for _ in range(3):
        record(notify, SUPERVISOR, MORNING)

    assert dispatch(tenant, notify, channels, Clock(MORNING)).outcomes == {"failed": 1, "sent": 2}


@dataclass
class Odd:
    """A platform that answers what no log column expects."""

    name: str = "odd"

    def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult("failed", "busy\x00\x1b[31m\nnext line", status=503, code=3_000_000_000)


def test_an_answer_no_column_expects_is_logged_cleaned(notify):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("odd",))})
    record(notify, SUPERVISOR, MORNING)

    assert dispatch(tenant, notify, TenantChannels({"odd": Odd()}), Clock(MORNING)).outcomes == {"failed": 1}
    [delivery] = log_of(notify)
    [tried] = delivery.tries
    assert (tried.detail, tried.status, tried.code) == ("busy  [31m next line", 503, None)


def test_a_dead_channel_never_crowds_out_the_others(notify, receiver):
    tenant = tenant_with(
        **{SUPERVISOR: Person(channels=("dead",)), "陈丽": Person(roles=("sales",), channels=("plant_sms",))}
    )
    with Receiver() as gone:
        dead = webhook(gone, "dead")
    for _ in range(60):
        record(notify, SUPERVISOR, MORNING - timedelta(minutes=1))  # older: first in line
    urgent = record(notify, "陈丽", MORNING, urgent=True)

    report = dispatch(
        tenant, notify, TenantChannels({"dead": dead, "plant_sms": webhook(receiver)}), Clock(MORNING)
    )

    assert report.outcomes == {"failed": 1, "sent": 1}
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [urgent]


def test_a_retry_that_falls_in_quiet_hours_waits_for_the_morning(notify, receiver):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_sms",), quiet_hours="22:00-07:00")})
    receiver.answer(Reply(status=503, body="down"))
    evening = datetime(2026, 12, 8, 13, 59, 58, tzinfo=UTC)  # 21:59:58 in Beijing
    record(notify, SUPERVISOR, evening, kind="stage_reached")

    assert dispatch(
        tenant, notify, TenantChannels({"plant_sms": webhook(receiver)}), Clock(evening)
    ).outcomes == {"failed": 1}
    [delivery] = log_of(notify)
    assert (delivery.state, delivery.held_reason, delivery.next_attempt_at) == (
        "pending",
        "quiet_hours",
        datetime(2026, 12, 8, 23, 0, tzinfo=UTC),
    )


def test_a_round_that_lost_its_claim_writes_nothing(notify):
    tenant = tenant_with(**{SUPERVISOR: Person(channels=("plant_sms",))})
    record(notify, SUPERVISOR, MORNING)
    route_new(tenant, notify, TenantChannels({}), MORNING)
    with notify() as tx:
        [mine] = tx.deliveries.claim_due(MORNING, 300, "round-a", 50, 20)
        tx.commit()
    later = MORNING + timedelta(seconds=301)  # the claim lapsed; another round takes the delivery
    with notify() as tx:
        [theirs] = tx.deliveries.claim_due(later, 300, "round-b", 50, 20)
        tx.commit()
    row = AttemptRow(1, "sent", "HTTP 200", 200, None, MORNING, 10)
    with notify() as tx:
        assert tx.deliveries.record(mine.delivery_id, "round-a", row, "sent", None) is False
        assert tx.deliveries.record(theirs.delivery_id, "round-b", row, "sent", None) is True
        tx.commit()
    [delivery] = log_of(notify)
    assert (delivery.state, len(delivery.tries)) == ("sent", 1)
