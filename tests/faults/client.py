"""A careful client and a bounded load generator, both on loopback only.

The careful client retries what may succeed on a second try (UNAVAILABLE, DEADLINE_EXCEEDED,
ABORTED, a dropped connection) with backoff, always with the same `request_id`, and never what
cannot (INVALID_ARGUMENT, INTERNAL, ...). An approval whose first attempt may have landed is
checked by reading the order back instead of being counted as a failure.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import grpc

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.ingest.v1 import ingest_pb2_grpc
from oms.notify.v1 import notify_pb2, notify_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from oms.production.v1 import production_pb2, production_pb2_grpc
from tests.e2e import scenario

RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
}
CALL_TIMEOUT_S = 5.0
# The client's own reconnect backoff stays short, so a recovery time measures the system, not
# grpcio's default channel backoff (which grows to two minutes).
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def line_sets() -> list[list[order_pb2.OrderLine]]:
    """Small quantities (a few kg of the demo stock reserved per order: hundreds of orders fit)
    over one, two and three lines, routed by tenants/hardware.toml (HB-2040 stamping-1 → plating
    → assembly; BK-310 and SP-08 stamping-1): one work order per routed workshop."""
    return [
        [scenario.line(qty=10)],
        [scenario.line(qty=10), scenario.line("BK-310 支架 bracket", 5, "", "", "")],
        [
            scenario.line(qty=10),
            scenario.line("SP-08 弹片 spring clip", 20, "", "本色 natural", "无 none"),
            scenario.line("BK-310 支架 bracket", 5, "", "黑色 black", "电镀 plating"),
        ],
    ]


ROUTES = {"HB-2040 铰链 hinge": ("stamping-1", "plating", "assembly")}


def workshops_of(lines) -> set[str]:
    return {ws for x in lines for ws in ROUTES.get(x.product_model, ("stamping-1",))}


@dataclass
class Attempt:
    at: float  # time.monotonic() when issued
    method: str
    code: str  # "OK" or the status code name


class Journal:
    """Every RPC attempt the load made, for "requests during the fault" and the error table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts: list[Attempt] = []

    def add(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def between(self, start: float, end: float) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if start <= a.at <= end]


class GaveUp(Exception):
    def __init__(self, code: str, details: str, attempts: int):
        super().__init__(f"{code}: {details} (after {attempts} attempts)")
        self.code = code
        self.details = details


class Api:
    def __init__(self, addresses: dict[str, str]):
        self._channels = {
            name: grpc.insecure_channel(addr, options=CHANNEL_OPTIONS) for name, addr in addresses.items()
        }
        self.customers = customer_pb2_grpc.CustomerServiceStub(self._channels["customer"])
        self.orders = order_pb2_grpc.OrderServiceStub(self._channels["order"])
        self.production = production_pb2_grpc.ProductionServiceStub(self._channels["production"])
        self.notify = notify_pb2_grpc.NotifyServiceStub(self._channels["notify"])
        self.ingest = ingest_pb2_grpc.IngestServiceStub(self._channels["ingest"])

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()


class CarefulClient:
    def __init__(self, addresses: dict[str, str], journal: Journal | None = None, tenant: str = "hardware"):
        self.api = Api(addresses)
        self.journal = journal or Journal()
        self.metadata = scenario.Caller(tenant).metadata()
        self.errors: Counter[str] = Counter()  # retried and final errors, by code

    def close(self) -> None:
        self.api.close()

    def call(
        self, name: str, method, request, *, give_up_after_s: float, stop: threading.Event | None = None
    ):
        """Call until OK, a non-retryable status, or `give_up_after_s`."""
        deadline = time.monotonic() + give_up_after_s
        backoff = 0.1
        attempts = 0
        while True:
            attempts += 1
            started = time.monotonic()
            try:
                reply = method(request, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
                self.journal.add(Attempt(started, name, "OK"))
                return reply, attempts
            except grpc.RpcError as exc:
                code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
                self.journal.add(Attempt(started, name, code.name))
                self.errors[f"{name}:{code.name}"] += 1
                details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
                if code not in RETRYABLE:
                    raise GaveUp(code.name, details or "", attempts) from None
                if time.monotonic() + backoff > deadline:
                    raise GaveUp(code.name, details or "", attempts) from None
                if stop is not None and stop.is_set() and time.monotonic() > deadline:
                    raise GaveUp(code.name, details or "", attempts) from None
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    # The business operations -------------------------------------------------------------

    def seeded_customer(self, code: str = "MIDEA-SD", give_up_after_s: float = 60) -> str:
        reply, _ = self.call(
            "ListCustomers",
            self.api.customers.ListCustomers,
            customer_pb2.ListCustomersRequest(),
            give_up_after_s=give_up_after_s,
        )
        for c in reply.customers:
            if c.code == code:
                return c.customer_id
        raise AssertionError(f"seeded customer {code} not found among {[c.code for c in reply.customers]}")

    def new_customer(self, give_up_after_s: float = 60) -> str:
        """A customer no service has cached yet (the order service caches customer checks)."""
        reply, _ = self.call(
            "CreateCustomer",
            self.api.customers.CreateCustomer,
            customer_pb2.CreateCustomerRequest(
                code=f"FLT-{uuid.uuid4().hex[:8].upper()}",
                name="格力电器珠海 Gree Zhuhai",
                years_of_cooperation=6,
                yearly_purchases_cny=4_000_000,
                sales_owner="陈丽",
            ),
            give_up_after_s=give_up_after_s,
        )
        return reply.customer.customer_id

    def create(self, customer_id: str, lines, request_id: str, give_up_after_s: float):
        request = order_pb2.CreateOrderRequest(
            customer_id=customer_id,
            channel=order_pb2.CHANNEL_AGENT,
            due_date=scenario.due(),
            lines=lines,
            request_id=request_id,
        )
        reply, attempts = self.call(
            "CreateOrder", self.api.orders.CreateOrder, request, give_up_after_s=give_up_after_s
        )
        return reply.order, attempts

    def approve(self, order, give_up_after_s: float):
        """ApproveOrder with the version the creator saw; a conflict or "not waiting for approval"
        after an attempt that may have landed is settled by reading the order back."""
        request = order_pb2.ApproveOrderRequest(order_id=order.order_id, expected_version=order.version)
        deadline = time.monotonic() + give_up_after_s
        try:
            reply, attempts = self.call(
                "ApproveOrder", self.api.orders.ApproveOrder, request, give_up_after_s=give_up_after_s
            )
            return reply.order, attempts
        except GaveUp as exc:
            if exc.code not in ("ABORTED", "FAILED_PRECONDITION"):
                raise
            current, _ = self.call(
                "GetOrder",
                self.api.orders.GetOrder,
                order_pb2.GetOrderRequest(order_id=order.order_id),
                give_up_after_s=max(deadline - time.monotonic(), 5),
            )
            if current.order.state == order_pb2.ORDER_STATE_APPROVED:
                return current.order, 0  # an earlier attempt landed
            raise

    def work_orders(self, order_id: str):
        reply = self.api.production.ListWorkOrders(
            production_pb2.ListWorkOrdersRequest(order_id=order_id),
            metadata=self.metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return list(reply.work_orders)

    def notifications(self, reference: str):
        reply = self.api.notify.ListNotifications(
            notify_pb2.ListNotificationsRequest(reference=reference),
            metadata=self.metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return list(reply.notifications)


@dataclass
class LogicalOrder:
    request_id: str
    fault: str
    workshops: set[str]
    started: float
    order_id: str = ""
    order_no: str = ""
    created: bool = False  # the client saw CreateOrder succeed
    approved: bool = False  # the client saw ApproveOrder succeed (or read back APPROVED)
    failure: str = ""  # why the client gave up, if it did
    create_attempts: int = 0
    approve_attempts: int = 0
    took_s: float = 0.0  # from the first create attempt to the approval (or giving up)


@dataclass
class Load:
    """`threads` callers, each placing orders (create, then approve) at `rate_per_s / threads`,
    until `stop` is set, `max_orders` were begun, or `max_s` passed; tagged with `fault`."""

    addresses: dict[str, str]
    customer_id: str
    fault: str
    journal: Journal
    threads: int = 4
    rate_per_s: float = 10.0
    max_orders: int = 600
    max_s: float = 120.0
    give_up_after_s: float = 60.0
    orders: list[LogicalOrder] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._begun = 0

    def start(self) -> Load:
        self._t0 = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), name=f"load-{self.fault}-{i}", daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def finish(self, timeout_s: float = 90, check: bool = True) -> None:
        """Stop beginning orders; wait (bounded) for the ones in flight to settle."""
        self.stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._workers:
            t.join(max(deadline - time.monotonic(), 0.1))
        alive = [t.name for t in self._workers if t.is_alive()]
        if alive and check:
            raise AssertionError(f"load threads still busy after {timeout_s}s: {alive}")

    def _take(self) -> int | None:
        with self._lock:
            if (
                self.stop.is_set()
                or self._begun >= self.max_orders
                or time.monotonic() - self._t0 > self.max_s
            ):
                return None
            self._begun += 1
            return self._begun

    def _run(self, index: int) -> None:
        client = CarefulClient(self.addresses, self.journal)
        sets = line_sets()
        interval = self.threads / self.rate_per_s
        try:
            while (n := self._take()) is not None:
                began = time.monotonic()
                lines = sets[n % len(sets)]
                order = LogicalOrder(
                    request_id=f"flt-{self.fault}-{index}-{n}-{uuid.uuid4().hex[:10]}",
                    fault=self.fault,
                    workshops=workshops_of(lines),
                    started=began,
                )
                with self._lock:
                    self.orders.append(order)
                place(client, self.customer_id, lines, order, self.give_up_after_s)
                pause = interval - (time.monotonic() - began)
                if pause > 0:
                    self.stop.wait(pause)
        finally:
            with self._lock:
                self.errors.update(client.errors)
            client.close()


def place(
    client: CarefulClient, customer_id: str, lines, order: LogicalOrder, give_up_after_s: float
) -> None:
    try:
        created, order.create_attempts = client.create(customer_id, lines, order.request_id, give_up_after_s)
        order.created, order.order_id, order.order_no = True, created.order_id, created.order_no
        _approved, order.approve_attempts = client.approve(created, give_up_after_s)
        order.approved = True
    except GaveUp as exc:
        order.failure = str(exc)
    except Exception as exc:  # a bug in the client itself must show, not hide as "gave up"
        order.failure = f"client error {exc!r}"
    order.took_s = time.monotonic() - order.started


def probe(
    client: CarefulClient, customer_id: str, fault: str, give_up_after_s: float
) -> tuple[float | None, str]:
    """A fresh create + approve, then wait until its work order(s) and their notification are
    readable through the API. Returns (seconds it took, "") or (None, what was missing)."""
    started = time.monotonic()
    deadline = started + give_up_after_s
    lines = line_sets()[1]
    order = LogicalOrder(
        f"probe-{fault}-{uuid.uuid4().hex[:12]}", f"probe-{fault}", workshops_of(lines), started
    )
    place(client, customer_id, lines, order, give_up_after_s)
    if not order.approved:
        return None, f"probe order not placed: {order.failure}"
    missing = "work orders"
    failed_reads: Counter[str] = Counter()
    while time.monotonic() < deadline:
        try:
            wos = client.work_orders(order.order_id)
            if len({w.workshop for w in wos}) == len(order.workshops):
                missing = "notifications"
                if all(client.notifications(w.work_order_no) for w in wos):
                    return time.monotonic() - started, ""
        except grpc.RpcError as exc:
            failed_reads[exc.code().name] += 1
        time.sleep(0.1)
    if failed_reads:
        missing += f" (reads failed: {dict(failed_reads)})"
    return None, f"probe {order.order_no}: {missing} not seen within {give_up_after_s:.0f}s"
