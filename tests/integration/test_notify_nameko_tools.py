"""notify's nameko worker under nameko's own testing tools.

* `worker_factory(NotifyWorker)`: every event handler the worker declares hands (source, event
  type, payload) to its `deliver` dependency, as its decorator's entrypoint names them; the timer
  ticks the jobs exactly once per tick. A handler added later is covered without editing this.
* A real `ServiceContainer` on real RabbitMQ and PostgreSQL: `entrypoint_hook` on
  `on_work_order_created` tells the workshop lead once, and the same event again (through the
  hook, or from the broker, awaited with `entrypoint_waiter`) tells nobody (the inbox); the hook on
  the timer runs the due-date check, which warns the production supervisor and the sales owner
  once each, and a later tick that runs the check again warns nobody twice.

The container runs in a process of its own (tests/integration/notify_container_driver.py):
nameko needs eventlet's monkey patching before anything is imported, which this session must not
have (pyproject: `-p no:pytest_nameko`; gRPC servers hang under it). The test drives the hooks in
that process one call at a time and checks notify's database between calls.

The due-date check reads the wall clock (`check_due` is called with no clock by notify's job, and
the hook cannot pass one), so the work order is due tomorrow in the plant's zone (Asia/Shanghai):
whenever the test runs, that is inside the 48-hour threshold and not yet overdue. A controllable
clock is tested in tests/unit/notify/test_due_watch.py.
"""

from __future__ import annotations

import inspect
import json
import os
import select as os_select
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pika
import pytest
from nameko.events import EventHandler
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.testing.services import worker_factory
from nameko.timer import Timer
from sqlalchemy import create_engine, select, update

from services.chassis.migrations import upgrade
from services.notify.adapters.tables import due_warnings, metadata, notifications
from services.notify.app import definition
from services.notify.worker import NotifyWorker, PoisonProofEventHandler

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("notify_container_driver.py")
pytestmark = pytest.mark.integration

inbox = metadata.tables["inbox"]
job_leases = metadata.tables["job_leases"]


def entrypoints_of(cls, kind: type) -> list[tuple[str, object]]:
    """(method name, entrypoint) for each method of `cls` decorated with an entrypoint of `kind`."""
    return [
        (name, entrypoint)
        for name, method in inspect.getmembers(cls, inspect.isfunction)
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ())
        if isinstance(entrypoint, kind)
    ]


HANDLERS = entrypoints_of(NotifyWorker, EventHandler)
TIMERS = entrypoints_of(NotifyWorker, Timer)


# ---------------------------------------------------------------------------------------------
# worker_factory: the worker's methods with their dependency replaced


def test_the_worker_declares_event_handlers_and_a_timer():
    # found at all (an empty parameter list below would skip those tests, not fail them)
    assert len(HANDLERS) >= 10 and len(TIMERS) >= 1
    for name, handler in HANDLERS:
        # nameko names the queue after the method, and `migrate` declares it as `on_<event type>`
        # (services/notify/app.py nameko_queue); poison is dead-lettered, an error requeues.
        assert name == f"on_{handler.event_type}", name
        assert isinstance(handler, PoisonProofEventHandler) and handler.requeue_on_error, name


@pytest.mark.parametrize(("method", "handler"), HANDLERS, ids=[name for name, _ in HANDLERS])
def test_each_event_handler_passes_source_type_and_payload_to_deliver(method, handler):
    worker = worker_factory(NotifyWorker)  # `deliver` (the Handlers provider) is a MagicMock
    payload = {"event_id": str(uuid.uuid4()), "event_type": handler.event_type, "data": {"x": 1}}

    assert getattr(worker, method)(payload) is None

    worker.deliver.assert_called_once_with(handler.source_service, handler.event_type, payload)
    worker.deliver.tick_jobs.assert_not_called()


@pytest.mark.parametrize(("method", "timer"), TIMERS, ids=[name for name, _ in TIMERS])
def test_the_timer_ticks_the_jobs_exactly_once_per_tick(method, timer):
    worker = worker_factory(NotifyWorker)

    getattr(worker, method)()
    worker.deliver.tick_jobs.assert_called_once_with()
    getattr(worker, method)()
    assert worker.deliver.tick_jobs.call_count == 2
    worker.deliver.assert_not_called()  # a tick delivers no event


# ---------------------------------------------------------------------------------------------
# A real container, driven through entrypoint_hook / entrypoint_waiter in its own process


class HookedContainer:
    """notify_container_driver.py as a process: `hook(method, *args)` is entrypoint_hook in the
    container; `waiting_for(method)` is entrypoint_waiter around what the test does meanwhile."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self._log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            bufsize=0,
        )
        self._buffer = b""
        self.ready = self._answer(timeout=45)
        assert self.ready.get("ready"), self.ready

    def log_tail(self) -> str:
        return self._log_path.read_text(errors="replace")[-3000:]

    def _answer(self, timeout: float = 40) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                if line.startswith(b"REPLY "):
                    return json.loads(line[len(b"REPLY ") :])
            left = deadline - time.monotonic()
            assert left > 0, f"no answer from the nameko container in {timeout}s:\n{self.log_tail()}"
            readable, _, _ = os_select.select([self.proc.stdout], [], [], left)
            if readable:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"the nameko container exited ({self.proc.poll()}):\n{self.log_tail()}"
                self._buffer += chunk

    def _send(self, call: dict) -> None:
        data = (json.dumps(call, ensure_ascii=False) + "\n").encode()
        while data:
            data = data[self.proc.stdin.write(data) :]

    def hook(self, method: str, *args):
        self._send({"hook": method, "args": list(args)})
        answer = self._answer()
        assert answer["ok"], f"entrypoint_hook {method}: {answer['error']}\n{self.log_tail()}"
        return answer["result"]

    @contextmanager
    def waiting_for(self, method: str):
        self._send({"wait": method})
        assert self._answer() == {"armed": True}
        yield
        answer = self._answer()
        assert answer["ok"], f"entrypoint_waiter {method}: {answer['error']}\n{self.log_tail()}"

    def stop(self) -> None:
        self.proc.stdin.close()  # end of input: the driver stops the container
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self._log.close()


@pytest.fixture
def container(fresh_database, fresh_vhost, monkeypatch, tmp_path):
    """notify's database migrated, then the worker in a nameko ServiceContainer on a fresh vhost;
    the settings its `Handlers` provider reads from the environment when the container starts."""
    db_url = fresh_database("notify")
    amqp_url = fresh_vhost("notify-hooks")
    engine = create_engine(db_url)
    upgrade(definition.migrations_dir, engine)
    monkeypatch.setenv("OMS_DB_URL", db_url)
    monkeypatch.setenv("OMS_AMQP_URL", amqp_url)
    monkeypatch.setenv("OMS_METRICS_PORT", "0")
    # Every period a minute: the timer never fires by itself during the test (each tick below is
    # the hook's), and a job's lease lets it run once a minute unless the test moves the lease.
    monkeypatch.setenv("OMS_DUE_CHECK_S", "60")
    monkeypatch.setenv("OMS_NOTIFY_DISPATCH_S", "60")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for name in (
        "OMS_RELEASE",
        "OMS_NOTIFY_HARDWARE_WECOM_URL",
        "OMS_NOTIFY_HARDWARE_WEBHOOK_URL",
        "OMS_NOTIFY_HARDWARE_WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)  # default queue names; no channel reaches out
    hooked = HookedContainer(dict(os.environ), tmp_path / "container.log")
    try:
        yield hooked, engine, amqp_url
    finally:
        hooked.stop()
        engine.dispose()


def envelope(source: str, event_type: str, data: dict) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "tenant_id": "hardware",
        "source": source,
        "occurred_at": "2026-11-25T09:30:00+00:00",
        "data": data,
    }


def work_order_created(due_date: str = "2026-12-20", order_id: str = "", **data) -> dict:
    return envelope(
        "production",
        "work_order_created",
        {
            "work_order_id": str(uuid.uuid4()),
            "work_order_no": "HW-WO-20261125-00001",
            "order_id": order_id or str(uuid.uuid4()),
            "order_no": "HW-20261125-00001",
            "workshop": "stamping-1",
            "due_date": due_date,
            "lines": [{"product_model": "HB-2040 铰链 hinge", "quantity": 5000}],
            **data,
        },
    )


def notices(engine, *roles: str) -> list[tuple]:
    columns = (
        notifications.c.recipient,
        notifications.c.recipient_role,
        notifications.c.subject,
        notifications.c.body,
        notifications.c.event_id,
        notifications.c.reference,
    )
    q = select(*columns).order_by(notifications.c.recipient_role, notifications.c.recipient)
    if roles:
        q = q.where(notifications.c.recipient_role.in_(roles))
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(q)]


def test_entrypoint_hook_on_work_order_created_tells_the_lead_once_and_the_inbox_drops_repeats(container):
    hooked, engine, amqp_url = container
    assert set(hooked.ready["entrypoints"]) == {name for name, _ in HANDLERS + TIMERS}
    event = work_order_created()

    assert hooked.hook("on_work_order_created", event) is None

    told = [
        (
            "王建国",  # the lead of stamping-1 in tenants/hardware.toml
            "workshop_lead",
            "新工单 New work order HW-WO-20261125-00001",
            "冲压一车间 Stamping 1: 订单 HW-20261125-00001 交期 2026-12-20 / due 2026-12-20: "
            "HB-2040 铰链 hinge × 5000",
            event["event_id"],
            "HW-WO-20261125-00001",
        )
    ]
    assert notices(engine) == told
    with engine.connect() as c:
        seen = c.execute(select(inbox.c.consumer).where(inbox.c.event_id == event["event_id"])).scalars()
        assert list(seen) == ["notify.tell_workshop_lead_of_work_order"]

    # The same event again through the hook: the inbox has it, nobody is told twice.
    assert hooked.hook("on_work_order_created", event) is None
    assert notices(engine) == told

    # And once more as the broker redelivers it: the container consumes the real queue.
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        with hooked.waiting_for("on_work_order_created"):
            conn.channel().basic_publish(
                "production.events",
                "work_order_created",
                json.dumps(event, ensure_ascii=False).encode(),
                pika.BasicProperties(content_type="application/json", message_id=event["event_id"]),
            )
    finally:
        conn.close()
    assert notices(engine) == told


def due_check_lease(engine):
    with engine.connect() as c:
        return c.execute(
            select(job_leases.c.last_run_at, job_leases.c.next_run_at).where(
                job_leases.c.job == "due_check", job_leases.c.tenant_id == "hardware"
            )
        ).one_or_none()


def test_entrypoint_hook_on_the_timer_warns_the_supervisor_and_sales_owner_once(container):
    hooked, engine, _ = container
    [timer] = hooked.ready["timers"]
    assert timer["interval"] >= 60, "the timer would fire by itself and race the hooks below"

    # notify's projection, from the events it would receive: the customer and its sales owner,
    # the order's customer, and a work order due tomorrow in the plant's zone.
    customer_id, order_id = str(uuid.uuid4()), str(uuid.uuid4())
    hooked.hook(
        "on_customer_created",
        envelope(
            "customer",
            "customer_created",
            {
                "customer_id": customer_id,
                "code": "MIDEA-SD",
                "name": "美的集团顺德基地",
                "tier": "TIER_A",
                "sales_owner": "陈丽",
                "active": True,
                "version": 1,
            },
        ),
    )
    hooked.hook(
        "on_order_created",
        envelope(
            "order",
            "order_created",
            {"order_id": order_id, "order_no": "HW-20261125-00001", "customer_id": customer_id},
        ),
    )
    due = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date()
    hooked.hook("on_work_order_created", work_order_created(due.isoformat(), order_id))
    assert notices(engine, "production_supervisor", "sales_owner") == []
    assert due_check_lease(engine) is None  # no check has run yet

    hooked.hook(timer["method"])

    wo, what = "HW-WO-20261125-00001", "交期前48小时未完工 unfinished 48 h before due"
    subject = f"交期预警 due-date warning: {wo} {what}"
    body = (
        f"订单 order HW-20261125-00001, 工单 work order {wo} (stamping-1), "
        f"交期 due {due.isoformat()}, 阶段 stage STAGE_TO_SCHEDULE: {what}"
    )
    with engine.connect() as c:
        [warning] = c.execute(select(due_warnings)).all()
    assert (warning.work_order_no, warning.threshold_hours, warning.due_date, warning.state) == (
        wo,
        48.0,
        due,
        "raised",
    )
    warned = [
        ("周建华", "production_supervisor", subject, body, warning.warning_id, wo),  # tenants/hardware.toml
        ("陈丽", "sales_owner", subject, body, warning.warning_id, wo),  # the customer's sales owner
    ]
    assert notices(engine, "production_supervisor", "sales_owner") == warned
    first = due_check_lease(engine)
    assert first is not None and first.last_run_at is not None

    # The next period comes (the lease moved into the past, instead of waiting a minute): the
    # hook's tick runs the check again, and the warning, raised already, is not raised twice.
    with engine.begin() as c:
        c.execute(
            update(job_leases)
            .where(job_leases.c.job == "due_check", job_leases.c.tenant_id == "hardware")
            .values(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    hooked.hook(timer["method"])
    second = due_check_lease(engine)
    assert second.last_run_at > first.last_run_at  # it ran
    assert notices(engine, "production_supervisor", "sales_owner") == warned

    # Within the period the lease keeps the check from running at all.
    hooked.hook(timer["method"])
    assert due_check_lease(engine).last_run_at == second.last_run_at
    assert notices(engine, "production_supervisor", "sales_owner") == warned
    with engine.connect() as c:
        assert len(c.execute(select(due_warnings)).all()) == 1
