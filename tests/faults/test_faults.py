"""Faults injected one after another into the distributed stack while a bounded load of creates
and approvals flows; then poison messages; then bursts of nested calls in both run modes; then
the whole system, drained, must hold every invariant.

Each row of the fault table: the RPC attempts the load made from the fault until the system
had recovered; the recovery time (from the end of the fault, i.e. the restart, until every
service answers SERVING and a fresh create + approve has become work orders and their
notifications); what was lost and what was duplicated among the orders of that fault's window.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from oms.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from services.catalog import NAMES
from services.stack import NAMEKO_QUEUE, WMS, WORKER
from tests.e2e import scenario
from tests.faults import checks, poison
from tests.faults.client import RETRYABLE, CarefulClient, Load, line_sets, probe
from tests.faults.environment import FaultEnv
from tests.faults.report import FaultReport, LogWatch, Row

pytestmark = pytest.mark.faults
ROOT = Path(__file__).resolve().parents[2]

LOAD_BEFORE_S = 3.0  # load flows this long before the fault
LOAD_AFTER_S = 6.0  # ... and at least this long after it ended
RATE_PER_S = 10.0
# Bounds that make a stall a failure, not just a slow row: a fresh create + approve must become
# work orders and notifications within RECOVERY_LIMIT_S of the fault's end, and what the load
# produced must be delivered within DRAIN_LIMIT_S of its last request.
RECOVERY_LIMIT_S = 10.0
DRAIN_LIMIT_S = 10.0
REATTACH_LIMIT_S = 5.0  # each consumer reads its queue again this soon after the broker is back


@dataclass(frozen=True)
class Fault:
    key: str  # request ids of its window start with flt-<key>-
    title: str
    down_s: float  # how long the fault lasts before the heal (restart) begins
    # The fault ends when its heal begins (a process restarted: its start-up is part of the
    # recovery, as for a kubelet restart), or when the heal is done (a server of ours back up:
    # from then on the recovery is the services' own).
    ends_after_heal = False
    extra_recovery_s = 0.0  # what the fault's own design adds to RECOVERY_LIMIT_S (said where set)

    def inject(self, env: FaultEnv) -> None:
        raise NotImplementedError

    def heal(self, env: FaultEnv) -> None:
        raise NotImplementedError


class NoFault(Fault):
    def inject(self, env):
        pass

    def heal(self, env):
        pass


class KillProcess(Fault):
    """SIGKILL, then the suite restarts it as a kubelet restarts a crashed container."""

    @property
    def process(self) -> str:
        return {
            "sigkill-production": "production",
            "sigkill-order": "order",
            "sigkill-nameko": WORKER,
            "sigkill-wms": WMS,
        }[self.key]

    def inject(self, env):
        env.stack.kill(self.process)

    def heal(self, env):
        env.stack.restart(self.process)


class StopBroker(Fault):
    ends_after_heal = True

    def inject(self, env):
        env.rabbit.stop()

    def heal(self, env):
        env.rabbit.start()


class KillWms(KillProcess):
    """SIGKILL the WMS (simulator), restarted: approvals answer UNAVAILABLE meanwhile; the calls
    that failed opened the circuit breaker, which lets a trial call through only after
    OMS_WMS_BREAKER_RESET_S, so recovery may take that much longer."""

    extra_recovery_s = 10.0  # OMS_WMS_BREAKER_RESET_S's default


def wms_faults(env: FaultEnv, **faults: float) -> None:
    """Switch the WMS simulator's faults (its /_sim/faults endpoint)."""
    request = urllib.request.Request(
        f"{env.stack.wms_url}/_sim/faults",
        data=json.dumps(faults).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        answer.read()


class SlowWms(Fault):
    """The plant's WMS answers every call 5 s late (past OMS's 2 s wait) for a while: approvals
    answer UNAVAILABLE at once or within the wait, never hang; after it, the circuit breaker lets a
    trial call through within OMS_WMS_BREAKER_RESET_S, so recovery may take that much longer."""

    ends_after_heal = True
    extra_recovery_s = 10.0  # OMS_WMS_BREAKER_RESET_S's default

    def inject(self, env):
        wms_faults(env, latency_ms=5000)

    def heal(self, env):
        wms_faults(env, latency_ms=0)


class RestartPostgres(Fault):
    """`pg_ctl restart -m fast`, with the server kept down for `down_s` between stop and start."""

    ends_after_heal = True

    def inject(self, env):
        env.pg.stop("fast")

    def heal(self, env):
        env.pg.start_again()


FAULTS = [
    NoFault("baseline", "no fault (baseline)", 0),
    KillProcess("sigkill-production", "SIGKILL production, restarted 2 s later", 2),
    KillProcess("sigkill-order", "SIGKILL order (its outbox relay), restarted 2 s later", 2),
    StopBroker("broker-stop", "RabbitMQ stopped for 10 s, then started", 10),
    RestartPostgres("postgres-restart", "PostgreSQL restart -m fast, 3 s down", 3),
    KillProcess("sigkill-nameko", "SIGKILL the nameko worker, restarted 2 s later", 2),
    KillWms("sigkill-wms", "SIGKILL the WMS (simulator), restarted 2 s later", 2),
    SlowWms("wms-slow", "WMS answering 5 s late for 6 s", 6),
]


class ConsumerWatch(threading.Thread):
    """When each consumer (production's, and notify's nameko worker) reads its queue again,
    counted from the fault's end: evidence for a slow recovery."""

    QUEUES = {"production": "production.events", "notify (nameko)": NAMEKO_QUEUE}

    def __init__(self, env: FaultEnv, since: float, timeout_s: float):
        super().__init__(name="consumer-watch", daemon=True)
        self.env, self.since, self.timeout_s = env, since, timeout_s
        self.seen: dict[str, float] = {}

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while len(self.seen) < len(self.QUEUES) and time.monotonic() < deadline:
            for who, queue in self.QUEUES.items():
                if who not in self.seen:
                    state = checks.queue_state(self.env.amqp_url, queue)
                    if state and state[1] > 0:
                        self.seen[who] = time.monotonic() - self.since
            time.sleep(0.2)

    def text(self) -> str:
        return ", ".join(
            f"{who} after {self.seen[who]:.1f} s"
            if who in self.seen
            else f"{who} NOT within {self.timeout_s:.0f} s"
            for who in self.QUEUES
        )


def what_healed(fault: Fault) -> str:
    if isinstance(fault, StopBroker):
        return "booting the broker again"
    if isinstance(fault, RestartPostgres):
        return "starting PostgreSQL again"
    if isinstance(fault, KillProcess):
        return "the restart (until healthy)"
    return "the (empty) heal"


def all_serving(env: FaultEnv) -> dict[str, str]:
    status = {}
    for name in NAMES:
        with grpc.insecure_channel(env.stack.address(name)) as ch:
            try:
                s = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=2).status
                status[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(s)
            except grpc.RpcError as exc:
                status[name] = exc.code().name
    return status


def wait_serving(env: FaultEnv, timeout_s: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = all_serving(env)
        if all(s == "SERVING" for s in status.values()) or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def dead_processes(env: FaultEnv) -> list[str]:
    return [f"{k} (exit {p.returncode})" for k, p in env.stack.processes.items() if p.poll() is not None]


def errors_text(counter: Counter) -> str:
    return ", ".join(f"{k}×{n}" for k, n in sorted(counter.items())) or "none"


def non_retryable(counter: Counter) -> dict[str, int]:
    retryable = {c.name for c in RETRYABLE}
    return {k: n for k, n in counter.items() if k.split(":", 1)[1] not in retryable}


@pytest.mark.parametrize("fault", FAULTS, ids=[f.key for f in FAULTS])
def test_fault(env: FaultEnv, report: FaultReport, fault: Fault):
    load = Load(env.addresses, env.customer_id, fault.key, env.journal, rate_per_s=RATE_PER_S)
    try:
        run_fault(env, report, fault, load)
    finally:
        load.stop.set()  # whatever happened, no load thread outlives its test
        load.finish(timeout_s=90, check=False)


def run_fault(env: FaultEnv, report: FaultReport, fault: Fault, load: Load) -> None:
    watch = LogWatch(env.log_dir / "stack")
    row = report.add(Row(fault.title))
    db = checks.Databases(env.stack)
    t_load = time.monotonic()
    load.start()
    time.sleep(LOAD_BEFORE_S)
    t_fault = time.monotonic()
    heal_error = ""
    try:
        fault.inject(env)
        time.sleep(fault.down_s)
    except Exception as exc:
        heal_error = f"injecting the fault failed: {exc!r}"
    t_heal = time.monotonic()
    try:
        fault.heal(env)
    except Exception as exc:
        heal_error += f" restart failed: {exc!r}"
    healed_s = time.monotonic() - t_heal
    t_end = time.monotonic() if fault.ends_after_heal else t_heal
    t_recovered = None
    reattach = ConsumerWatch(env, t_end, env.bound(40))
    reattach.start()
    health = wait_serving(env, env.bound(30))
    client = CarefulClient(env.addresses, env.journal)
    probe_s, missing = probe(client, env.customer_id, fault.key, env.bound(40))
    client.close()
    reattach.join()
    if probe_s is not None:
        t_recovered = time.monotonic()
        row.recovery_s = t_recovered - t_end
    else:
        row.recovered = False
    remaining_load = LOAD_AFTER_S - (time.monotonic() - t_end)
    if remaining_load > 0:
        time.sleep(remaining_load)
    load.finish(timeout_s=90)
    # the baseline has no fault: its figure is every request of its window
    t_from = t_fault if fault.down_s else t_load
    t_to = (t_recovered or time.monotonic()) if fault.down_s else time.monotonic()
    row.requests = len(env.journal.between(t_from, t_to))
    waited, busy = checks.wait_drained(db, env.rabbit, f"flt-{fault.key}-", load.orders, env.bound(40))
    v = checks.verdict(db, f"flt-{fault.key}-", load.orders)
    row.lost, row.duplicated = v.lost, v.duplicated
    row.notes += [
        f"orders begun {v.orders}, creates answered OK {v.created_seen}, "
        f"approvals answered OK {v.approved_seen}, "
        f"given up {v.gave_up}",
        f"{what_healed(fault)} took {healed_s:.1f} s; recovery counted from "
        + ("its end" if fault.ends_after_heal else "its start")
        + (
            "; health after it: " + ", ".join(f"{k}={s}" for k, s in health.items() if s != "SERVING")
            if any(s != "SERVING" for s in health.values())
            else "; every service SERVING after it"
        ),
        f"client errors (all retried unless listed below): {errors_text(load.errors)}",
        f"drained {waited:.1f} s after the load stopped"
        if not busy
        else f"NOT drained after {waited:.0f} s: {busy}",
        f"longest create + approve a client saw: {max((o.took_s for o in load.orders), default=0):.1f} s",
        f"consumers reading their queues again after the fault's end: {reattach.text()}",
    ]
    failures = []
    if heal_error:
        failures.append(heal_error)
    if probe_s is None:
        failures.append(f"not recovered: {missing}")
    elif row.recovery_s > RECOVERY_LIMIT_S + fault.extra_recovery_s:
        limit = RECOVERY_LIMIT_S + fault.extra_recovery_s
        failures.append(f"recovered only after {row.recovery_s:.1f} s (limit {limit:.0f} s)")
    if isinstance(fault, StopBroker):
        slow = {who: t for who, t in reattach.seen.items() if t > REATTACH_LIMIT_S}
        slow.update({who: None for who in ConsumerWatch.QUEUES if who not in reattach.seen})
        if slow:
            failures.append(
                f"consumers not reading again within {REATTACH_LIMIT_S:.0f} s of the broker's return: "
                + ", ".join(f"{who} after {t:.1f} s" if t else f"{who} never" for who, t in slow.items())
            )
    if not busy and waited > DRAIN_LIMIT_S:
        failures.append(
            f"events of the window were delivered only {waited:.1f} s after the load stopped "
            f"(limit {DRAIN_LIMIT_S:.0f} s)"
        )
    if v.lost or v.duplicated:
        failures.append(f"lost {v.lost}, duplicated {v.duplicated}")
        failures += [f"  {p}" for p in v.problems]
    if busy:
        failures.append(f"system not drained {waited:.0f} s after the load: {busy}")
    final = non_retryable(load.errors)
    if final:
        failures.append(f"clients got non-retryable errors for transient trouble: {final}")
    gave_up = [o for o in load.orders if o.failure]
    if gave_up:
        reasons = Counter(o.failure.split(" (after")[0][:120] for o in gave_up)
        failures.append(f"careful clients gave up on {len(gave_up)} order(s): {dict(reasons.most_common(3))}")
    dead = dead_processes(env)
    if dead:
        failures.append(f"processes died: {dead}")
    if failures:
        row.problems += failures
        row.problems.append("log lines during the window:")
        row.problems += watch.since()
    assert not failures, "\n".join(failures + watch.since())


def test_poison_messages(env: FaultEnv, report: FaultReport):
    """Malformed body, headers and properties end in the consumer's dead-letter queue; the
    consumers keep consuming; health stays honest; the load flowing meanwhile loses nothing."""
    load = Load(env.addresses, env.customer_id, "poison", env.journal, rate_per_s=RATE_PER_S / 2)
    try:
        run_poison(env, report, load)
    finally:
        load.stop.set()
        load.finish(timeout_s=60, check=False)


def run_poison(env: FaultEnv, report: FaultReport, load: Load) -> None:
    watch = LogWatch(env.log_dir / "stack")
    db = checks.Databases(env.stack)
    poisons = poison.build()
    env.poison_markers |= {p.marker for p in poisons}
    row = report.add(Row(f"poison: {len(poisons)} malformed messages (body, headers, properties)"))
    load.start()
    time.sleep(1)
    t0 = time.monotonic()
    poison.publish(env.amqp_url, poisons)
    # A consumer may retry a failure before it gives up (the chassis: 0.2 + 0.8 + 3.2 + 12.8 s).
    deadline = time.monotonic() + env.bound(30)
    while True:
        classify(env, db, poisons)
        if all(p.outcome != "pending" for p in poisons) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    where_stuck = {
        poison.ORDER_APPROVED.dead_letter_queue: tuple(
            q
            for q in env.rabbit.queues()
            if q.startswith("production.events") and not q.endswith(".dead-letter")
        ),
        poison.WORK_ORDER_CREATED.dead_letter_queue: (NAMEKO_QUEUE,),
    }
    for p in poisons:
        if p.outcome == "pending":
            queues = where_stuck[p.target.dead_letter_queue]
            found = [
                q
                for q in queues
                for _props, body in checks.peek(env.amqp_url, q)
                if p.marker.encode() in body
            ]
            p.outcome = (
                f"NOT dead-lettered: still waiting in {found[0]}"
                if found
                else "NOT dead-lettered: gone from every queue (dropped, or held unacked by a consumer)"
            )
    client = CarefulClient(env.addresses, env.journal)
    probe_s, missing = probe(client, env.customer_id, "poison", env.bound(30))
    client.close()
    t_probe = time.monotonic()
    if probe_s is not None:
        row.recovery_s = probe_s
    else:
        row.recovered = False
    honesty = health_honesty(env)
    load.finish(timeout_s=60)
    row.requests = len(env.journal.between(t0, t_probe))
    _waited, busy = checks.wait_drained(db, env.rabbit, "flt-poison-", load.orders, env.bound(20))
    v = checks.verdict(db, "flt-poison-", load.orders)
    row.lost, row.duplicated = v.lost, v.duplicated
    report.section(
        "Poison messages",
        "| target | consumer | poison | outcome | dead-letter reason |\n|---|---|---|---|---|\n"
        + "\n".join(
            f"| {p.target.exchange} / {p.target.routing_key} | {p.target.consumer} | {p.name} | {p.outcome} "
            f"| {p.reason[:160].replace('|', '/')} |"
            for p in poisons
        ),
    )
    row.notes += [
        "recovery time here: a fresh create + approve becoming work orders and notifications "
        "after the poison",
        f"orders begun {v.orders}, creates OK {v.created_seen}, approvals OK {v.approved_seen}, "
        f"given up {v.gave_up}",
        f"consumers and health afterwards: {honesty['text']}",
    ]
    failures = []
    wrong = [p for p in poisons if p.outcome != "dead-lettered"]
    if wrong:
        failures.append(f"{len(wrong)} of {len(poisons)} poison messages were not dead-lettered:")
        failures += [f"  {p.target.consumer}: {p.name}: {p.outcome}" for p in wrong]
    if probe_s is None:
        failures.append(f"consumers stopped consuming after the poison: {missing}")
    if honesty["dishonest"]:
        failures.append(f"health is not honest: {honesty['dishonest']}")
    if v.lost or v.duplicated:
        failures.append(f"lost {v.lost}, duplicated {v.duplicated}")
        failures += [f"  {p}" for p in v.problems]
    if busy:
        failures.append(f"system not drained: {busy}")
    dead = dead_processes(env)
    if dead:
        failures.append(f"processes died: {dead}")
    if failures:
        row.problems += failures
        row.problems.append("log lines during the poison round:")
        row.problems += watch.since()
    assert not failures, "\n".join(failures + watch.since())


def classify(env: FaultEnv, db: checks.Databases, poisons: list[poison.Poison]) -> None:
    pending = [p for p in poisons if p.outcome == "pending"]
    if not pending:
        return
    letters = {}
    for queue in poison.ORDER_APPROVED.dead_letter_queue, poison.WORK_ORDER_CREATED.dead_letter_queue:
        letters[queue] = checks.peek(env.amqp_url, queue)
    work_orders = {
        r[0] for r in db.rows("production", "SELECT order_no FROM work_orders WHERE order_no LIKE 'PSN-%%'")
    }
    notes = {
        r[0]
        for r in db.rows("notify", "SELECT reference FROM notifications WHERE reference LIKE 'WO-PSN-%%'")
    }
    for p in pending:
        hit = next(
            (props for props, body in letters[p.target.dead_letter_queue] if p.marker.encode() in body), None
        )
        if hit is not None:
            p.outcome = "dead-lettered"
            p.reason = poison.dead_letter_reason(hit)
        elif p.synthetic_order_no in work_orders or p.synthetic_work_order_no in notes:
            p.outcome = "PROCESSED as a real event"


def health_honesty(env: FaultEnv) -> dict:
    """A consumer that is gone must not leave its service SERVING."""
    status = all_serving(env)
    production_q = checks.queue_state(env.amqp_url, "production.events")
    nameko_q = checks.queue_state(env.amqp_url, NAMEKO_QUEUE)
    worker = env.stack.processes.get(WORKER)
    worker_alive = worker is not None and worker.poll() is None
    text = (
        f"production health {status['production']}, consumers on production.events "
        f"{production_q[1] if production_q else '?'} "
        f"(ready messages {production_q[0] if production_q else '?'}); "
        f"nameko worker {'alive' if worker_alive else 'DEAD'}, consumers on its queue "
        f"{nameko_q[1] if nameko_q else '?'} (ready {nameko_q[0] if nameko_q else '?'})"
    )
    dishonest = []
    if production_q and production_q[1] == 0 and status["production"] == "SERVING":
        dishonest.append("production answers SERVING while nothing consumes production.events")
    if nameko_q and nameko_q[1] == 0 and worker_alive:
        dishonest.append("the nameko worker runs but nothing consumes its queue")
    return {"text": text, "dishonest": "; ".join(dishonest)}


# Bursts of nested calls (ingest -> order -> customer) ------------------------------------------

BURST_CALLS = 40
BURST_REPEATS = 10  # this many keys are sent twice at the same moment
BURST_TIMEOUT_S = 20


def burst(addresses: dict[str, str], customer_id: str, label: str) -> tuple[list[tuple], list[str], float]:
    """BURST_CALLS simultaneous SubmitPhoneOrder calls, each on its own channel (as many phones
    would), released together once every channel is connected; no client retry (the burst is
    the test). The customer is new, so no cache in the order service spares the nested call to
    the customer service. Returns ([(key, order_id or None, error)], keys, seconds)."""
    keys = [f"burst-{label}-{uuid.uuid4().hex[:12]}" for _ in range(BURST_CALLS - BURST_REPEATS)]
    calls = keys + keys[:BURST_REPEATS]
    md = scenario.Caller("hardware").metadata()
    lines = line_sets()[1]
    forms = {
        k: ingest_pb2.SubmitPhoneOrderRequest(
            idempotency_key=k, customer_id=customer_id, due_date=scenario.due(10), lines=lines
        )
        for k in keys
    }
    gate = threading.Barrier(len(calls))

    def one(key):
        with grpc.insecure_channel(addresses["ingest"]) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            try:
                grpc.channel_ready_future(channel).result(timeout=10)
            finally:
                gate.wait(30)
            try:
                reply = stub.SubmitPhoneOrder(forms[key], metadata=md, timeout=BURST_TIMEOUT_S)
                return key, reply.order_id, ""
            except grpc.RpcError as exc:
                return key, None, f"{exc.code().name}: {(exc.details() or '')[:160]}"

    started = time.monotonic()
    with ThreadPoolExecutor(len(calls)) as pool:
        results = list(pool.map(one, calls))
    return results, keys, time.monotonic() - started


def judge_burst(row: Row, results, keys, orders_per_key: dict[str, int]) -> list[str]:
    failed = [(k, e) for k, oid, e in results if oid is None]
    answered: dict[str, set[str]] = {}
    for k, oid, _e in results:
        if oid:
            answered.setdefault(k, set()).add(oid)
    row.lost = sum(1 for k in keys if orders_per_key.get(k, 0) == 0)
    row.duplicated = sum(n - 1 for n in orders_per_key.values() if n > 1) + sum(
        len(ids) - 1 for ids in answered.values()
    )
    failures = []
    if failed:
        codes = Counter(e.split(":")[0] for _k, e in failed)
        failures.append(f"{len(failed)} of {len(results)} calls failed: {dict(codes)}; e.g. {failed[0][1]}")
        created_anyway = sorted(k for k, _e in failed if orders_per_key.get(k, 0) and k not in answered)
        if created_anyway:
            failures.append(
                f"{len(created_anyway)} key(s) answered with an error but created an order anyway, "
                f"e.g. {created_anyway[0]}"
            )
    if row.lost:
        failures.append(f"{row.lost} idempotency key(s) created no order")
    if row.duplicated:
        failures.append(f"{row.duplicated} duplicate(s): a key with several orders or several answers")
    return failures


def test_burst_of_nested_calls_distributed(env: FaultEnv, report: FaultReport):
    watch = LogWatch(env.log_dir / "stack")
    row = report.add(Row(f"burst: {BURST_CALLS} simultaneous SubmitPhoneOrder, distributed"))
    client = CarefulClient(env.addresses)
    customer_id = client.new_customer()
    client.close()
    results, keys, took = burst(env.addresses, customer_id, "dist")
    row.requests = len(results)
    in_db = checks.Databases(env.stack).orders_by_request("burst-dist-")
    failures = judge_burst(row, results, keys, {k: len(v) for k, v in in_db.items()})
    row.notes.append(
        f"{len(keys)} keys ({BURST_REPEATS} sent twice at once); all answered within {took:.1f} s; "
        "recovery time: n/a (no fault)"
    )
    row.recovered = True
    if failures:
        row.problems += failures + watch.since()
    assert not failures, "\n".join(failures)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("workers", ["", "4"], ids=["default-pool", "4-workers"])
def test_burst_of_nested_calls_embedded(report: FaultReport, tmp_path_factory, workers: str):
    """The embedded stack (one process, one gRPC server for all seven services) under the same
    burst; once with its default pool, once with OMS_GRPC_WORKERS=4: calls between services in
    one process must not wait on the pool that serves them, whatever its size."""
    pool = f"OMS_GRPC_WORKERS={workers}" if workers else "default pool"
    row = report.add(Row(f"burst: {BURST_CALLS} simultaneous SubmitPhoneOrder, embedded ({pool})"))
    data = Path(tmp_path_factory.mktemp("embedded-burst"))
    port = _free_port()
    env = dict(os.environ, OMS_DATA_DIR=str(data), OMS_GRPC_PORT=str(port), OMS_HTTP_PORT="0")
    for key in (
        "OMS_ENV",
        "OMS_JWT_SECRET",
        "OMS_METRICS_PORT",
        "OMS_AMQP_URL",
        "OMS_DB_URL",
        "OMS_BIND_HOST",
    ):
        env.pop(key, None)
    if workers:
        env["OMS_GRPC_WORKERS"] = workers
    else:
        env.pop("OMS_GRPC_WORKERS", None)
    log_path = data / "embedded.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    addr = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with grpc.insecure_channel(addr) as ch:
            while True:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    if (
                        health_pb2_grpc.HealthStub(ch)
                        .Check(health_pb2.HealthCheckRequest(), timeout=1)
                        .status
                        == 1
                    ):
                        break
                except grpc.RpcError:
                    pass
                assert time.monotonic() < deadline, "embedded stack not healthy after 60 s"
                time.sleep(0.2)
        client = CarefulClient(dict.fromkeys(NAMES, addr))
        customer_id = client.new_customer()
        client.close()
        results, keys, took = burst(dict.fromkeys(NAMES, addr), customer_id, "emb")
        row.requests = len(results)
        with sqlite3.connect(data / "order.db") as conn:
            counts = Counter(
                r[0]
                for r in conn.execute("SELECT request_id FROM orders WHERE request_id LIKE 'burst-emb-%'")
            )
        failures = judge_burst(row, results, keys, dict(counts))
        row.notes.append(
            f"{len(keys)} keys ({BURST_REPEATS} sent twice at once); the burst took {took:.1f} s"
        )
        after = CarefulClient(dict.fromkeys(NAMES, addr))
        try:
            after.seeded_customer(give_up_after_s=10)
            row.notes.append("the embedded stack still answered after the burst")
        except Exception as exc:
            failures.append(f"the embedded stack did not answer after the burst: {exc}")
        after.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if failures:
        errors = [ln for ln in log_path.read_text(errors="replace").splitlines() if " ERROR " in ln]
        row.problems += failures + [f"    embedded.log: {ln[:300]}" for ln in list(dict.fromkeys(errors))[:5]]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("when", ["during-start-up", "when-up"])
def test_stack_stops_cleanly_on_sigterm(env: FaultEnv, report: FaultReport, when: str):
    """`python -m services.stack up` (make run-distributed) on SIGTERM: every child stopped, the
    nameko worker too, exit status 0, no traceback; also when the signal comes during start-up.
    It runs beside the suite's stack on the same servers: its own vhost, databases and ports."""
    vhost = f"oms-sigterm-{uuid.uuid4().hex[:6]}"
    for args in (("add_vhost", vhost), ("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")):
        assert env.rabbit.ctl(*args).returncode == 0, f"rabbitmqctl {args} failed"
    prefix = f"oms_sigterm_{uuid.uuid4().hex[:6]}"
    log_dir = env.log_dir / f"stack-sigterm-{when}"
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "services.stack", "up",
                "--pg", env.pg.dsn, "--amqp", env.rabbit.url, "--vhost", vhost,
                "--db-prefix", prefix, "--port-offset", "3000", "--log-dir", str(log_dir),
            ],
            cwd=ROOT, stdout=out, stderr=err, start_new_session=True,
        )  # fmt: skip
    try:
        # "during start-up": as soon as the first service process exists, long before any is
        # healthy; "when-up": once the stack said it is up (the nameko worker runs too).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if when == "when-up" and b"Ctrl-C stops every process" in out_path.read_bytes():
                break
            if when == "during-start-up" and processes_marked(prefix):
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the stack exited early: {err_path.read_text()[-2000:]}"
        children = processes_marked(prefix)
        assert children, "no child process of the stack found"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(40)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        time.sleep(0.5)  # a child SIGKILLed with its parent: let it go before looking
        left = processes_marked(prefix)
        for pid in left:  # never leave them behind, whatever the verdict
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    stderr = err_path.read_text(errors="replace")
    failures = []
    if rc != 0:
        failures.append(f"exit status {rc}")
    if "Traceback" in stderr:
        failures.append(f"a traceback on stderr: {stderr[-1500:]}")
    if left:
        failures.append(f"left running: {left}")
    report.section(
        f"SIGTERM to `python -m services.stack up` ({when.replace('-', ' ')})",
        f"{len(children)} children ({', '.join(sorted(set(children.values())))}); stopped in {took:.1f} s, "
        f"exit status {rc}; " + ("clean." if not failures else "FAILED: " + "; ".join(failures)),
    )
    assert not failures, "\n".join(failures)


def processes_marked(db_prefix: str) -> dict[int, str]:
    """Processes whose environment names databases with this prefix: the stack's children."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"/{db_prefix}_".encode() in environ and b"OMS_DB_URL=" in environ:
            args = [a.decode(errors="replace") for a in cmdline if a]
            what = next((a for a in args if a.startswith("services.")), " ".join(args[-2:]))
            found[int(entry.name)] = what
    return found


def test_system_drained_at_the_end(env: FaultEnv, report: FaultReport):
    """After every fault, burst and poison: nothing waiting anywhere, no dead letter but the
    injected poison, every approved order with its work orders, each with one notification, and
    its materials reserved once, the ledger's balances equal to its reservations and the WMS
    holding what the ledger holds."""
    db = checks.Databases(env.stack)
    deadline = time.monotonic() + env.bound(30, reserve_s=20)
    while True:
        ok, busy = checks.drained(db, env.rabbit)
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    failures = []
    if not ok:
        failures.append(f"not drained: {busy}")
    parked = {k: b["parked"] for k, b in db.outbox_backlog().items() if b["parked"]}
    if parked:
        failures.append(f"parked outbox rows (events never delivered): {parked}")
    for queue in checks.dead_letter_queues(env.rabbit):
        letters = checks.peek(env.amqp_url, queue)
        foreign = [
            (props.message_id, body[:120])
            for props, body in letters
            if not any(m.encode() in body for m in env.poison_markers)
        ]
        if foreign:
            failures.append(
                f"{queue} holds {len(foreign)} dead letter(s) that are not injected poison: {foreign[:3]}"
            )
    approved = db.rows("order", "SELECT order_id FROM orders WHERE state = %s", (checks.APPROVED,))
    ids = [r[0] for r in approved]
    expected = db.workshops_of_orders(ids)
    actual = db.work_orders_of(ids)
    missing = [oid for oid in ids if expected[oid] - {ws for _n, ws in actual[oid]}]
    extra = [oid for oid in ids if len(actual[oid]) > len(expected[oid])]
    if missing:
        failures.append(f"{len(missing)} approved order(s) lack work orders, e.g. {missing[:3]}")
    if extra:
        failures.append(f"{len(extra)} approved order(s) have too many work orders, e.g. {extra[:3]}")
    failures += checks.reservation_problems(db, env.stack.wms_url, ids, env.bound(20, reserve_s=10))
    all_wos = [r[0] for r in db.rows("production", "SELECT work_order_no FROM work_orders")]
    notes = db.notifications_of(all_wos)
    unnotified = [w for w, n in notes.items() if n == 0]
    twice = [w for w, n in notes.items() if n > 1]
    if unnotified:
        failures.append(f"{len(unnotified)} work order(s) without a notification, e.g. {unnotified[:3]}")
    if twice:
        failures.append(f"{len(twice)} work order(s) notified more than once, e.g. {twice[:3]}")
    report.section(
        "The whole system at the end",
        f"{len(ids)} approved orders, {len(all_wos)} work orders, {sum(notes.values())} notifications; "
        + (
            "every invariant holds."
            if not failures
            else "FAILED:\n\n" + "\n".join(f"- {f}" for f in failures)
        ),
    )
    assert not failures, "\n".join(failures)
