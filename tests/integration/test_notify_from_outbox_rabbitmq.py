"""An event written by another service into its own outbox reaches the nameko worker: production
makes a work order from an approved order (its consumer's unit of work writes the work order and
its work_order_created event into production's outbox, in one transaction), the chassis relay
publishes the row to RabbitMQ (exchange production.events, routing key work_order_created), and
`nameko run` stores one notice for the workshop lead with what the event said. The same row
published again (a relay that crashed after publishing and before marking it) tells nobody twice.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import create_engine, func, select, update

from services.chassis.consumer import EventConsumer, Subscription
from services.chassis.dead_letters import dead_letter_queue
from services.chassis.migrations import upgrade
from services.chassis.outbox import OutboxRelay
from services.chassis.rabbit import RabbitPublisher, queue_depth
from services.chassis.runtime import unit_of_work_factory
from services.notify.adapters.tables import metadata as notify_metadata
from services.notify.adapters.tables import notifications
from services.notify.app import nameko_queue
from services.production.app import definition as production
from services.production.app import subscriptions
from tests.integration.test_notify_worker_rabbitmq import (
    consumed,
    consumers_on,
    free_port,
    start_worker,
    stop,
    wait_until,
)

pytestmark = pytest.mark.integration
ORDER_ID, ORDER_NO = str(uuid.uuid4()), "HW-20261125-00007"


def order_approved() -> bytes:
    """What the order service publishes when HW-20261125-00007 is approved: 2,000 brackets made
    in 冲压一车间 (one workshop, so one work order)."""
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "order_approved",
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-25T09:30:00+00:00",
            "data": {
                "order_id": ORDER_ID,
                "order_no": ORDER_NO,
                "customer_id": str(uuid.uuid4()),
                "priority": "PRIORITY_NORMAL",
                "due_date": "2026-12-20",
                "version": 1,
                "approved_by": "王经理",
                "lines": [
                    {"product_model": "BK-310 支架 bracket", "quantity": 2000, "workshop": "stamping-1"}
                ],
            },
        },
        ensure_ascii=False,
    ).encode()


def test_a_work_order_from_productions_outbox_tells_the_workshop_lead_once(
    fresh_database, fresh_vhost, tmp_path
):
    amqp_url = fresh_vhost("outbox-to-nameko")
    notify_url = fresh_database("notify")
    metrics_port = free_port()
    worker = start_worker(notify_url, amqp_url, tmp_path, metrics_port)  # migrate, then `nameko run`
    notify_db = create_engine(notify_url)

    production_db = create_engine(fresh_database("production"))
    upgrade(production.migrations_dir, production_db)
    outbox = production.metadata.tables["outbox"]
    publisher = RabbitPublisher(amqp_url)
    relay = OutboxRelay("production", production_db, outbox, publisher)
    try:
        # production's own consumer makes the work order; its unit of work writes the event
        with_outbox = EventConsumer(
            "production", subscriptions(), unit_of_work_factory(production, production_db), ["hardware"]
        )
        assert with_outbox.handle("order.events", "order_approved", order_approved()) == "ok"
        with production_db.connect() as c:
            [row] = c.execute(select(outbox)).all()
        assert (row.exchange, row.event_type, row.tenant_id, row.published_at) == (
            "production.events",
            "work_order_created",
            "hardware",
            None,
        )
        sent = json.loads(row.body)
        wo = sent["data"]["work_order_no"]
        assert wo == f"WO-{ORDER_NO}-01"
        assert (sent["event_id"], sent["data"]["workshop"], sent["data"]["due_date"]) == (
            row.event_id,
            "stamping-1",
            "2026-12-20",
        )

        queue = nameko_queue("", Subscription("production", "work_order_created", lambda _e, _u: None, "x"))
        wait_until(lambda: consumers_on(amqp_url, queue) == 1, what="nameko consuming")
        assert relay.drain() == 1

        def told() -> list[tuple]:
            with notify_db.connect() as c:
                return [
                    tuple(r)
                    for r in c.execute(
                        select(
                            notifications.c.tenant_id,
                            notifications.c.recipient,
                            notifications.c.recipient_role,
                            notifications.c.subject,
                            notifications.c.body,
                            notifications.c.event_id,
                            notifications.c.reference,
                        )
                    )
                ]

        wait_until(lambda: len(told()) == 1, what="the workshop lead told")
        expected = [
            (
                "hardware",
                "王建国",  # the lead of stamping-1 in tenants/hardware.toml
                "workshop_lead",
                f"新工单 New work order {wo}",
                f"冲压一车间 Stamping 1: 订单 {ORDER_NO} 交期 2026-12-20 / due 2026-12-20: "
                "BK-310 支架 bracket × 2000",
                row.event_id,
                wo,
            )
        ]
        assert told() == expected
        with production_db.connect() as c:
            assert c.execute(select(outbox.c.published_at)).scalar_one() is not None
        assert relay.drain() == 0  # a published row is not sent again by itself

        # The relay published the row but its mark was lost (a crash before the commit): the row
        # goes out again, the worker sees the same event id, and nobody is told twice.
        with production_db.begin() as c:
            c.execute(update(outbox).where(outbox.c.id == row.id).values(published_at=None))
        assert relay.drain() == 1
        wait_until(
            lambda: consumed(metrics_port, "work_order_created", "duplicate") == 1,
            what="the second copy seen as a duplicate",
        )
        assert told() == expected
        assert consumed(metrics_port, "work_order_created", "ok") == 1
        inbox = notify_metadata.tables["inbox"]
        with notify_db.connect() as c:
            assert c.execute(select(func.count()).where(inbox.c.event_id == row.event_id)).scalar_one() == 1
        assert queue_depth(amqp_url, dead_letter_queue("notify")) == 0
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop(worker)
        publisher.close()
        production_db.dispose()
        notify_db.dispose()
