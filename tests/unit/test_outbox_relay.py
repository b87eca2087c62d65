"""The relay on SQLite with fake publishers: back-off that really backs off, refused messages
counted and parked instead of holding the rows behind them hostage, and a backlog gauge read
when Prometheus scrapes (not when the relay last got round to it)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import MetaData, create_engine, insert, select

from services.chassis.outbox import OutboxRelay
from services.chassis.rabbit import PublishFailed
from services.chassis.tables import add_chassis_tables


@pytest.fixture
def outbox(tmp_path):
    metadata = MetaData()
    add_chassis_tables(metadata)
    engine = create_engine(f"sqlite:///{tmp_path}/relay.db")
    metadata.create_all(engine)
    yield engine, metadata.tables["outbox"]
    engine.dispose()


def add_rows(engine, table, n: int, *, age_s: float = 0, event_type: str = "order_created") -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    created = datetime.now(UTC) - timedelta(seconds=age_s)
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [
                dict(
                    event_id=i,
                    tenant_id="hardware",
                    exchange="order.events",
                    event_type=event_type,
                    body="{}",
                    headers="{}",
                    created_at=created,
                )
                for i in ids
            ],
        )
    return ids


def rows(engine, table) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r.event_id: r._asdict() for r in conn.execute(select(table))}


class Down:
    """A broker that cannot be reached."""

    def __init__(self):
        self.calls = 0

    def publish_batch(self, messages):
        self.calls += 1
        raise PublishFailed("connection refused")


class Refuses:
    """Takes every message except those whose id is in `bad` (a per-message nack); or, with
    `whole=True`, closes the channel over any batch holding a bad one (like an oversized message)."""

    def __init__(self, bad: set[str], whole: bool = False):
        self.bad, self.whole = bad, whole
        self.taken: list[str] = []
        self.batches: list[int] = []

    def publish_batch(self, messages):
        self.batches.append(len(messages))
        bad = {i for i, m in enumerate(messages) if m.message_id in self.bad}
        if bad and self.whole:
            if len(messages) > 1:
                raise PublishFailed("channel closed by broker: 406 PRECONDITION_FAILED", isolate=True)
            return {0: "channel closed by broker: 406 PRECONDITION_FAILED"}
        self.taken += [m.message_id for i, m in enumerate(messages) if i not in bad]
        return {i: "refused by the broker (nack)" for i in bad}


def test_a_broker_outage_is_retried_with_back_off_that_commits_do_not_cut_short(outbox):
    engine, table = outbox
    add_rows(engine, table, 1)
    down = Down()
    relay = OutboxRelay("svc-backoff", engine, table, down, interval_s=0.05, max_backoff_s=10)
    relay.start()
    stop = threading.Event()

    def commits():  # every order committed during the outage wakes the relay
        while not stop.is_set():
            relay.wake()
            time.sleep(0.005)

    waker = threading.Thread(target=commits)
    waker.start()
    time.sleep(1.6)
    stop.set()
    waker.join()
    relay.stop()
    # 0.1 + 0.2 + 0.4 + 0.8 s of back-off fit in 1.6 s: five tries at most, not hundreds.
    assert 2 <= down.calls <= 5


def test_a_message_the_broker_refuses_is_parked_and_the_rest_go_out(outbox):
    engine, table = outbox
    ids = add_rows(engine, table, 10)
    poison = ids[0]  # at the head, where it used to block everything behind it
    broker = Refuses({poison})
    relay = OutboxRelay("svc-nack", engine, table, broker, max_attempts=3)
    parked_before = REGISTRY.get_sample_value("oms_outbox_parked_total", {"service": "svc-nack"}) or 0

    relay.relay_once()
    assert sorted(broker.taken) == sorted(ids[1:])  # the rest went out in the same batch
    state = rows(engine, table)
    assert state[poison]["published_at"] is None and state[poison]["attempts"] == 1
    assert state[poison]["parked_at"] is None

    relay.relay_once()
    relay.relay_once()
    state = rows(engine, table)
    assert state[poison]["attempts"] == 3 and state[poison]["parked_at"] is not None
    assert "nack" in state[poison]["last_error"]
    assert relay.relay_once() == 0  # parked: out of the relay's way
    assert all(state[i]["published_at"] is not None for i in ids[1:])
    assert REGISTRY.get_sample_value("oms_outbox_parked_total", {"service": "svc-nack"}) == parked_before + 1
    assert REGISTRY.get_sample_value("oms_outbox_parked_events", {"service": "svc-nack"}) == 1


def test_a_batch_refused_as_a_whole_is_retried_one_by_one_to_find_the_culprit(outbox):
    engine, table = outbox
    ids = add_rows(engine, table, 6)
    poison = ids[2]
    broker = Refuses({poison}, whole=True)
    relay = OutboxRelay("svc-isolate", engine, table, broker, max_attempts=2)

    with pytest.raises(PublishFailed):
        relay.relay_once()  # the whole batch of 6 is refused: nothing is marked
    assert all(r["published_at"] is None for r in rows(engine, table).values())
    while relay.relay_once():
        pass

    state = rows(engine, table)
    assert sorted(broker.taken) == sorted(i for i in ids if i != poison)
    assert state[poison]["parked_at"] is not None and "PRECONDITION_FAILED" in state[poison]["last_error"]
    assert 6 in broker.batches and 1 in broker.batches
    # once the culprit is parked, batches are whole again
    more = add_rows(engine, table, 4)
    relay.relay_once()
    assert broker.batches[-1] == 4 and set(more) <= set(broker.taken)


def test_the_backlog_gauge_is_read_at_scrape_time(outbox):
    engine, table = outbox
    OutboxRelay("svc-lag", engine, table, Down())  # never relays anything
    sample = {"service": "svc-lag"}
    assert REGISTRY.get_sample_value("oms_outbox_oldest_unpublished_seconds", sample) == 0
    add_rows(engine, table, 3, age_s=30)
    assert REGISTRY.get_sample_value("oms_outbox_oldest_unpublished_seconds", sample) >= 30


def test_parked_events_are_listed_and_released_back_to_the_relay(outbox):
    from services.chassis.outbox import list_parked, release_parked

    engine, table = outbox
    ids = add_rows(engine, table, 3)
    broker = Refuses({ids[0], ids[1]})
    relay = OutboxRelay("svc-release", engine, table, broker, max_attempts=1)
    relay.relay_once()
    parked = list_parked(engine, table)
    assert sorted(p.event_id for p in parked) == sorted(ids[:2])
    assert all(p.attempts == 1 and "nack" in p.last_error for p in parked)

    broker.bad.clear()  # the cause is fixed
    assert release_parked(engine, table, [ids[0]]) == 1
    assert relay.relay_once() == 1 and ids[0] in broker.taken
    assert release_parked(engine, table) == 1  # all that are left
    assert relay.relay_once() == 1 and list_parked(engine, table) == []
