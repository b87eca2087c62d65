"""The nameko worker on real RabbitMQ: poison that kombu cannot even decode (not JSON, a content
type nameko does not accept) is dead-lettered with its reason instead of killing the container
(which then met the same message after every restart); a malformed envelope too; and the worker
goes on telling workshop leads of real work orders, and of their revisions and cancellations
(once each, however often the broker delivers them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
import pytest
from sqlalchemy import create_engine, func, select

from services.chassis.consumer import Subscription
from services.chassis.dead_letters import dead_letter_queue, list_dead_letters
from services.chassis.rabbit import queue_depth
from services.notify.adapters.tables import notifications
from services.notify.app import nameko_queue
from services.stack import NAMEKO_QUEUE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def consumers_on(url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return conn.channel().queue_declare(queue, passive=True).method.consumer_count
    finally:
        conn.close()


def wait_until(predicate, timeout: float = 45.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not met in {timeout}s"
        time.sleep(0.1)


def start_worker(db_url: str, amqp_url: str, tmp_path, metrics_port: int = 0) -> subprocess.Popen:
    """notify migrated (its queues, retry tiers, dead-letter queue declared), then `nameko run`
    as a process; the log goes to tmp_path/worker.log."""
    env = dict(os.environ, OMS_DB_URL=db_url, OMS_AMQP_URL=amqp_url, OMS_METRICS_PORT=str(metrics_port))
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-m", "services.notify", "migrate"], cwd=ROOT, env=env, check=True)
    with open(tmp_path / "worker.log", "wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nameko",
                "run",
                "--config",
                "services/notify/nameko.yaml",
                "services.notify.worker",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(15)
    except subprocess.TimeoutExpired:
        worker.kill()


def event(tenant: str = "hardware", work_order_no: str = "HW-WO-20261125-00001") -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "work_order_created",
            "tenant_id": tenant,
            "source": "production",
            "occurred_at": "2026-11-25T09:30:00+00:00",
            "data": {
                "work_order_id": str(uuid.uuid4()),
                "work_order_no": work_order_no,
                "order_id": str(uuid.uuid4()),
                "order_no": "HW-20261125-00001",
                "workshop": "stamping-1",
                "due_date": "2026-12-20",
                "lines": [{"product_model": "HB-2040 铰链 hinge", "quantity": 5000}],
            },
        },
        ensure_ascii=False,
    ).encode()


def test_the_nameko_worker_dead_letters_poison_and_keeps_working(fresh_database, fresh_vhost, tmp_path):
    db_url = fresh_database("notify")
    amqp_url = fresh_vhost("notify")
    worker = start_worker(db_url, amqp_url, tmp_path)
    engine = create_engine(db_url)
    try:
        wait_until(lambda: consumers_on(amqp_url, NAMEKO_QUEUE) == 1, what="nameko consuming")
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = conn.channel()
        json_props = pika.BasicProperties(content_type="application/json")
        poison = [
            (b"\x80 not json at all", json_props),
            (b"{}", pika.BasicProperties(content_type="application/x-python-serialize")),
            (b'{"hello": "world"}', json_props),  # JSON, but no envelope
            (event(tenant="furniture"), json_props),  # a business line this release does not serve
            # a message_id naming another event (nameko's own events carry none: that is fine)
            (event(), pika.BasicProperties(content_type="application/json", message_id=str(uuid.uuid4()))),
        ]
        for body, props in poison:
            channel.basic_publish("production.events", "work_order_created", body, props)
        dlq = dead_letter_queue("notify")
        wait_until(lambda: queue_depth(amqp_url, dlq) == len(poison), what="poison dead-lettered")
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]

        channel.basic_publish("production.events", "work_order_created", event(), json_props)
        conn.close()

        def told() -> int:
            with engine.connect() as c:
                return c.execute(select(func.count()).select_from(notifications)).scalar_one()

        wait_until(lambda: told() == 1, what="the workshop lead told")
        reasons = " | ".join(d.reason for d in list_dead_letters(amqp_url, "notify"))
        assert "decode" in reasons and "'furniture' is not served" in reasons
        assert worker.poll() is None
    finally:
        stop(worker)
        engine.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_nameko_worker_retries_through_delay_tiers_and_dead_letters_with_the_chassis_headers(
    fresh_database, fresh_vhost, postgres, tmp_path
):
    """The same retry policy as every other consumer: a retry waits in a delay-tier queue (not in
    a nameko worker slot, which slept before), and what no retry can fix is dead-lettered with the
    same headers (attempts, origin, reason) that `omsctl dead-letters` shows for any service."""
    import urllib.request

    import psycopg

    db_url = fresh_database("notify")
    db_name = db_url.rsplit("/", 1)[1]
    amqp_url = fresh_vhost("notify-retry")
    metrics_port = free_port()
    worker = start_worker(db_url, amqp_url, tmp_path, metrics_port)
    engine = create_engine(db_url)
    admin = psycopg.connect(f"{postgres}/postgres", autocommit=True)
    try:
        wait_until(lambda: consumers_on(amqp_url, NAMEKO_QUEUE) == 1, what="nameko consuming")
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = conn.channel()
        json_props = pika.BasicProperties(content_type="application/json")

        # The database is away for a moment: attempts fail, retries wait in their tiers, and the
        # event is handled once it is back.
        admin.execute(f'ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db_name,))
        channel.basic_publish("production.events", "work_order_created", event(), json_props)

        def retries() -> float:
            text = (
                urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
            )
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("oms_events_consumed_total{") and 'outcome="retry"' in line
            )

        wait_until(lambda: retries() >= 2, what="two failed attempts")
        admin.execute(f'ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS true')

        def told() -> int:
            with engine.connect() as c:
                return c.execute(select(func.count()).select_from(notifications)).scalar_one()

        wait_until(lambda: told() == 1, what="the workshop lead told after the database came back")

        # A value the database refuses (a 100-character work-order number for a 64-character
        # column) is dead-lettered at once with the chassis headers, and nothing is written.
        channel.basic_publish(
            "production.events", "work_order_created", event(work_order_no="W" * 100), json_props
        )
        conn.close()
        dlq = dead_letter_queue("notify")
        wait_until(lambda: queue_depth(amqp_url, dlq) == 1, what="dead-lettered")
        [letter] = list_dead_letters(amqp_url, "notify")
        assert (letter.exchange, letter.routing_key, letter.attempts) == (
            "production.events",
            "work_order_created",
            1,
        )
        assert "refused a value" in letter.reason and letter.message_id
        assert told() == 1 and worker.poll() is None
    finally:
        admin.execute(f'ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS true')
        admin.close()
        stop(worker)
        engine.dispose()


def production_event(event_type: str, data: dict) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "event_type": event_type,
        "tenant_id": "hardware",
        "source": "production",
        "occurred_at": "2026-11-26T02:00:00+00:00",
        "data": data,
    }
    return event_id, json.dumps(body, ensure_ascii=False).encode()


def consumed(metrics_port: int, event_type: str, outcome: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("oms_events_consumed_total{")
        and f'event_type="{event_type}"' in line
        and f'outcome="{outcome}"' in line
    )


def test_the_nameko_worker_tells_the_plating_lead_of_a_revision_and_a_cancellation_once_each(
    fresh_database, fresh_vhost, tmp_path
):
    """A colour change must reach the plating line before the wrong parts are plated: the worker
    reads work_order_revised and work_order_cancelled from their own queues, stores one notice
    per event for the workshop's lead, and a second delivery of the same event stores none."""
    db_url = fresh_database("notify")
    amqp_url = fresh_vhost("notify-revised")
    metrics_port = free_port()
    worker = start_worker(db_url, amqp_url, tmp_path, metrics_port)
    engine = create_engine(db_url)
    queues = {
        event_type: nameko_queue("", Subscription("production", event_type, lambda _e, _u: None, "x"))
        for event_type in ("work_order_revised", "work_order_cancelled")
    }
    wo = "HW-WO-20261126-00007-02"
    try:
        for queue in queues.values():
            wait_until(lambda q=queue: consumers_on(amqp_url, q) == 1, what=f"nameko consuming {queue}")
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = conn.channel()
        revised_id, revised = production_event(
            "work_order_revised",
            {
                "work_order_id": str(uuid.uuid4()),
                "work_order_no": wo,
                "order_id": str(uuid.uuid4()),
                "order_no": "HW-20261126-00007",
                "workshop": "plating",
                "previous_revision": 1,
                "revision": 2,
                "order_revision": 2,
                "change_id": str(uuid.uuid4()),
                "stage": "STAGE_TO_SCHEDULE",
                "previous_due_date": "2026-12-20",
                "due_date": "2026-12-20",
                "lines": [{"product_model": "HB-2040 铰链 hinge", "quantity": 5000, "colour": "金色 gold"}],
                "changes": [
                    {
                        "line_no": 1,
                        "product_model": "HB-2040 铰链 hinge",
                        "field": "colour",
                        "before": "银色 silver",
                        "after": "金色 gold",
                    }
                ],
            },
        )
        # As production's relay publishes: persistent JSON, message_id = the event's id.
        props = pika.BasicProperties(content_type="application/json", message_id=revised_id, delivery_mode=2)
        channel.basic_publish("production.events", "work_order_revised", revised, props)

        def notices() -> list:
            with engine.connect() as c:
                query = select(notifications).where(notifications.c.reference == wo)
                return c.execute(query.order_by(notifications.c.created_at)).all()

        wait_until(lambda: len(notices()) == 1, what="the plating lead told of the revision")
        [note] = notices()
        assert (note.recipient, note.recipient_role, note.event_id) == ("李秀英", "workshop_lead", revised_id)
        assert note.subject == f"工单变更 work order revised: {wo} rev 2"
        assert note.body.endswith("HB-2040 铰链 hinge: 颜色 colour 银色 silver → 金色 gold")

        # The broker delivers the same event again (a redelivery after a lost ack): nothing new.
        channel.basic_publish("production.events", "work_order_revised", revised, props)
        wait_until(
            lambda: consumed(metrics_port, "work_order_revised", "duplicate") == 1,
            what="the second delivery seen as a duplicate",
        )
        assert len(notices()) == 1

        cancelled_id, cancelled = production_event(
            "work_order_cancelled",
            {
                "work_order_id": str(uuid.uuid4()),
                "work_order_no": wo,
                "order_id": str(uuid.uuid4()),
                "order_no": "HW-20261126-00007",
                "workshop": "plating",
                "revision": 2,
                "stage": "STAGE_IN_PROCESS",
                "good_quantity": 40,
                "scrap_quantity": 2,
                "reason": "订单已取消 order cancelled",
            },
        )
        props = pika.BasicProperties(
            content_type="application/json", message_id=cancelled_id, delivery_mode=2
        )
        for _ in range(2):
            channel.basic_publish("production.events", "work_order_cancelled", cancelled, props)
        conn.close()
        wait_until(
            lambda: consumed(metrics_port, "work_order_cancelled", "duplicate") == 1,
            what="the cancellation handled, its second delivery a duplicate",
        )
        assert [(n.event_id, n.subject) for n in notices()] == [
            (revised_id, f"工单变更 work order revised: {wo} rev 2"),
            (cancelled_id, f"工单取消 work order cancelled: {wo}, 已完成 good 40 / 报废 scrap 2"),
        ]
        assert consumed(metrics_port, "work_order_cancelled", "ok") == 1
        assert queue_depth(amqp_url, dead_letter_queue("notify")) == 0
        assert worker.poll() is None
    finally:
        stop(worker)
        engine.dispose()
