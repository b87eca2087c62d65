"""The invariants, read straight from each service's own database and from the broker (a test
may look where no service may): orders by request id, work orders per approved order,
notifications per work order, outboxes, queues and dead letters."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import pika
import psycopg

from services.catalog import NAMES
from services.stack import DistributedStack
from tests.faults.client import LogicalOrder

APPROVED = "ORDER_STATE_APPROVED"


class Databases:
    def __init__(self, stack: DistributedStack):
        self.stack = stack

    def connect(self, service: str) -> psycopg.Connection:
        return psycopg.connect(f"{self.stack.pg_dsn}/{self.stack.db_prefix}_{service}", connect_timeout=5)

    def rows(self, service: str, sql: str, params=()) -> list[tuple]:
        with self.connect(service) as conn:
            return conn.execute(sql, params).fetchall()

    def outbox_backlog(self) -> dict[str, dict[str, int]]:
        """Per service: events not yet published, and (where the column exists) parked ones."""
        out = {}
        for name in NAMES:
            with self.connect(name) as conn:
                has_parked = conn.execute(
                    "SELECT 1 FROM information_schema.columns"
                    " WHERE table_name = 'outbox' AND column_name = 'parked_at'"
                ).fetchone()
                if has_parked:
                    unpublished, parked = conn.execute(
                        "SELECT count(*) FILTER (WHERE published_at IS NULL AND parked_at IS NULL),"
                        " count(*) FILTER (WHERE parked_at IS NOT NULL) FROM outbox"
                    ).fetchone()
                else:
                    unpublished = conn.execute(
                        "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                    ).fetchone()[0]
                    parked = 0
            out[name] = {"unpublished": unpublished, "parked": parked}
        return out

    def orders_by_request(self, prefix: str) -> dict[str, list[tuple]]:
        """request_id -> [(order_id, order_no, state)] for every order whose request id starts with prefix."""
        found: dict[str, list[tuple]] = {}
        for rid, oid, ono, state in self.rows(
            "order",
            "SELECT request_id, order_id, order_no, state FROM orders WHERE request_id LIKE %s",
            (prefix.replace("_", r"\_") + "%",),
        ):
            found.setdefault(rid, []).append((oid, ono, state))
        return found

    def workshops_of_orders(self, order_ids: list[str]) -> dict[str, set[str]]:
        """order_id -> every workshop its lines pass (their route; the line's workshop without one):
        production makes one work order per routed workshop step."""
        out: dict[str, set[str]] = {oid: set() for oid in order_ids}
        if order_ids:
            for oid, ws, route in self.rows(
                "order",
                "SELECT order_id, workshop, route FROM order_lines WHERE order_id = ANY(%s)",
                (order_ids,),
            ):
                out[oid] |= set(route or [ws])
        return out

    def work_orders_of(self, order_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        """order_id -> [(work_order_no, workshop)]."""
        out: dict[str, list[tuple[str, str]]] = {oid: [] for oid in order_ids}
        if order_ids:
            for oid, wno, ws in self.rows(
                "production",
                "SELECT order_id, work_order_no, workshop FROM work_orders WHERE order_id = ANY(%s)",
                (order_ids,),
            ):
                out[oid].append((wno, ws))
        return out

    def notifications_of(self, references: list[str]) -> Counter:
        counts: Counter = Counter({r: 0 for r in references})
        if references:
            for ref, n in self.rows(
                "notify",
                "SELECT reference, count(*) FROM notifications WHERE reference = ANY(%s) GROUP BY reference",
                (references,),
            ):
                counts[ref] = n
        return counts


def queue_state(amqp_url: str, queue: str) -> tuple[int, int] | None:
    """(messages ready, consumers) of a queue; None if it does not exist or the broker is away."""
    try:
        conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    except pika.exceptions.AMQPError:
        return None
    try:
        method = conn.channel().queue_declare(queue, passive=True).method
        return method.message_count, method.consumer_count
    except pika.exceptions.AMQPError:
        return None
    finally:
        if conn.is_open:
            conn.close()


def peek(amqp_url: str, queue: str, limit: int = 500) -> list[tuple[pika.BasicProperties, bytes]]:
    """Read a queue's messages without removing them (unacked, back in the queue on close)."""
    if queue_state(amqp_url, queue) is None:
        return []
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = conn.channel()
        found = []
        while len(found) < limit:
            method, props, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            found.append((props, body))
        return found
    finally:
        if conn.is_open:
            conn.close()


@dataclass
class Verdict:
    orders: int = 0  # logical orders the load began
    created_seen: int = 0
    approved_seen: int = 0
    gave_up: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    def note(self, kind: str, text: str, n: int = 1) -> None:
        if kind == "lost":
            self.lost += n
        else:
            self.duplicated += n
        if len(self.problems) < 20:
            self.problems.append(f"{kind}: {text}")


def verdict(db: Databases, prefix: str, orders: list[LogicalOrder]) -> Verdict:
    """Lost and duplicated effects of the logical orders whose request ids start with `prefix`."""
    v = Verdict(orders=len(orders))
    in_db = db.orders_by_request(prefix)
    by_request = {o.request_id: o for o in orders}
    for o in orders:
        v.created_seen += o.created
        v.approved_seen += o.approved
        v.gave_up += bool(o.failure)
        rows = in_db.get(o.request_id, [])
        if o.created and not rows:
            v.note(
                "lost", f"create {o.request_id} answered OK ({o.order_no}) but no order has that request id"
            )
        if len(rows) > 1:
            v.note("duplicated", f"request id {o.request_id} has {len(rows)} orders", len(rows) - 1)
        if o.created and rows and rows[0][0] != o.order_id:
            v.note("duplicated", f"{o.request_id}: client saw {o.order_id}, database has {rows[0][0]}")
        if o.approved and rows and rows[0][2] != APPROVED:
            v.note("lost", f"approval of {o.order_no} answered OK but the order is {rows[0][2]}")
    unknown = set(in_db) - set(by_request)
    if unknown:
        v.note(
            "duplicated", f"orders with request ids the load never sent: {sorted(unknown)[:3]}", len(unknown)
        )
    # Every order the database holds as approved: exactly one work order per routed workshop.
    approved = [rows[0][0] for rows in in_db.values() if rows and rows[0][2] == APPROVED]
    pending = [rows[0][0] for rows in in_db.values() if rows and rows[0][2] != APPROVED]
    expected = db.workshops_of_orders(approved)
    actual = db.work_orders_of(approved + pending)
    for oid in approved:
        shops = Counter(ws for _no, ws in actual[oid])
        missing = expected[oid] - set(shops)
        extra = sum(n - 1 for n in shops.values()) + len(set(shops) - expected[oid])
        if missing:
            v.note("lost", f"approved order {oid} has no work order for {sorted(missing)}", len(missing))
        if extra:
            v.note(
                "duplicated", f"approved order {oid} has {extra} work order(s) too many: {actual[oid]}", extra
            )
    for oid in pending:
        if actual[oid]:
            v.note(
                "duplicated",
                f"order {oid} is not approved but has work orders {actual[oid]}",
                len(actual[oid]),
            )
    references = [no for oid in approved for no, _ws in actual[oid]]
    notes = db.notifications_of(references)
    for ref, n in notes.items():
        if n == 0:
            v.note("lost", f"work order {ref} has no notification")
        elif n > 1:
            v.note("duplicated", f"work order {ref} has {n} notifications", n - 1)
    return v


def settled(db: Databases, prefix: str, orders: list[LogicalOrder]) -> bool:
    """Nothing of these orders is still on its way: every approved one has its work orders and
    every work order its notification (what `verdict` would call lost is not in flight any more)."""
    v = verdict(db, prefix, orders)
    return v.lost == 0


def drained(db: Databases, rabbit) -> tuple[bool, str]:
    """Outboxes empty and no message in any queue but the dead-letter ones (ready or unacked),
    whatever queues the services declared."""
    backlog = db.outbox_backlog()
    busy = {k: b for k, b in backlog.items() if b["unpublished"]}
    if busy:
        return False, f"outbox not empty: {busy}"
    try:
        queues = rabbit.queues()
    except Exception as exc:
        return False, f"queues unreadable: {exc}"
    waiting = {
        q: s["messages"] for q, s in queues.items() if s["messages"] and not q.endswith(".dead-letter")
    }
    if waiting:
        return False, f"messages waiting in {waiting}"
    return True, ""


def dead_letter_queues(rabbit) -> list[str]:
    return sorted(q for q in rabbit.queues() if q.endswith(".dead-letter"))


def wait_drained(
    db: Databases, rabbit, prefix: str, orders: list[LogicalOrder], timeout_s: float
) -> tuple[float, str]:
    """Wait (bounded) until outboxes and queues are empty and these orders have settled.
    Returns (seconds waited, "" or what was still busy at the deadline)."""
    started = time.monotonic()
    why = ""
    while time.monotonic() - started < timeout_s:
        try:
            ok, why = drained(db, rabbit)
            if ok:
                if settled(db, prefix, orders):
                    return time.monotonic() - started, ""
                why = "some approved orders still lack work orders or notifications"
        except psycopg.Error as exc:
            why = f"database: {exc}"
        time.sleep(0.3)
    return time.monotonic() - started, why


OPEN = ("held", "frozen")  # reservation states that hold stock (services/inventory/domain/reservation.py)


def reservation_problems(db: Databases, wms_url: str, approved: list[str], timeout_s: float) -> list[str]:
    """Materials after everything: each approved order reserved exactly once; each balance's
    `reserved` equal to the open reservations' lines (nothing over-committed or leaked by a retry);
    and, once the sync job has caught up, the WMS holding exactly the ledger's open reservations."""
    problems = []
    found = db.rows("inventory", "SELECT order_id FROM reservations WHERE order_id = ANY(%s)", (approved,))
    reserved = Counter(oid for (oid,) in found)
    unreserved = [oid for oid in approved if reserved[oid] == 0]
    if unreserved:
        problems.append(f"{len(unreserved)} approved order(s) without a reservation, e.g. {unreserved[:3]}")
    balances = {
        (t, m): r
        for t, m, r in db.rows("inventory", "SELECT tenant_id, material, reserved FROM material_balances")
    }
    held = {
        (t, m): int(r)
        for t, m, r in db.rows(
            "inventory",
            "SELECT r.tenant_id, l.material, SUM(l.reserved) FROM reservation_lines l "
            "JOIN reservations r ON r.reservation_id = l.reservation_id "
            "WHERE r.state = ANY(%s) GROUP BY 1, 2",
            (list(OPEN),),
        )
    }
    off = {
        k: (balances.get(k, 0), held.get(k, 0))
        for k in balances.keys() | held.keys()
        if balances.get(k, 0) != held.get(k, 0)
    }
    if off:
        shown = dict(list(off.items())[:3])
        problems.append(f"balances differ from the open reservations (balance, lines): {shown}")
    deadline = time.monotonic() + timeout_s
    while True:
        unsynced = db.rows("inventory", "SELECT order_no FROM reservations WHERE NOT wms_synced")
        if not unsynced or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if unsynced:
        problems.append(f"{len(unsynced)} reservation(s) never reached the WMS, e.g. {unsynced[:3]}")
        return problems
    ledger = db.rows(
        "inventory",
        "SELECT tenant_id, count(*) FROM reservations WHERE state = ANY(%s) GROUP BY 1",
        (list(OPEN),),
    )
    for tenant, count in ledger:
        url = f"{wms_url}/v1/warehouses/{tenant}/reservations?state=open"
        with urllib.request.urlopen(url, timeout=5) as answer:
            items = json.load(answer)["items"]
        if len(items) != count:
            problems.append(f"{tenant}: the ledger holds {count} open reservation(s), the WMS {len(items)}")
    return problems
