"""`python -m services.<name> migrate` creates the service's queues before it first runs, so
events published before a consumer starts wait for it (they would otherwise be unroutable and
lost). That includes notify's nameko queue, which nameko itself only creates when it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from services.chassis.rabbit import queue_depth

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def queue_exists(amqp_url: str, queue: str) -> bool:
    return queue_depth(amqp_url, queue) is not None


@pytest.mark.parametrize(
    ("service", "queue"),
    [
        ("production", "{release}.production.events"),
        ("notify", "evt-production-work_order_created--notify-{release}.on_work_order_created"),
        ("notify", "evt-production-work_order_revised--notify-{release}.on_work_order_revised"),
        ("notify", "evt-production-work_order_cancelled--notify-{release}.on_work_order_cancelled"),
    ],
)
def test_migrate_declares_the_services_queues(service, queue, fresh_database, amqp_url):
    release = f"r{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, OMS_DB_URL=fresh_database(service), OMS_AMQP_URL=amqp_url, OMS_RELEASE=release)
    assert not queue_exists(amqp_url, queue.format(release=release))
    subprocess.run(
        [sys.executable, "-m", f"services.{service}", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert queue_exists(amqp_url, queue.format(release=release))
