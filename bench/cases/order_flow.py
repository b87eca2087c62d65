"""Case 4: the order flow a plant feels. Approve orders at a steady rate and time approval -> work
order visible through the production API, in embedded and in distributed mode.

Approvals are sent open-loop (each at its scheduled time, whatever the previous ones are doing), so
a slow system cannot hide its queueing; latency runs from the scheduled send time. One poller lists
the newest work orders every POLL_S and stamps each order the first time its work order shows up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench.api import Api, order_request
from bench.config import Config
from bench.measure import Sample, peak_rss_kb, reset_peak_rss
from bench.report import Report, Row, compare
from bench.stacks import Environment
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2

POLL_S = 0.01
POLL_PAGE = 100  # > approvals that can land between two polls
AIM_P99_MS = 1000.0


class WorkOrderWatcher:
    """Stamps the first time each watched order's work order is listed."""

    def __init__(self, api: Api, watched: set[str]):
        self._api = api
        self._watched = watched
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-watcher")
        self._thread.start()

    def _run(self) -> None:
        request = production_pb2.ListWorkOrdersRequest(page_size=POLL_PAGE)
        while not self._stop.is_set():
            reply = self._api.production.ListWorkOrders(request, metadata=self._api.md)
            now = time.perf_counter()
            for wo in reply.work_orders:
                if wo.order_id in self._watched and wo.order_id not in self.seen:
                    self.seen[wo.order_id] = now
            time.sleep(POLL_S)

    def wait_all(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.seen) < len(self._watched) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def catch_missed(self) -> int:
        """Orders the poller missed (more landed between two polls than a page holds): ask for each."""
        missed = 0
        for order_id in self._watched - set(self.seen):
            reply = self._api.production.ListWorkOrders(
                production_pb2.ListWorkOrdersRequest(order_id=order_id), metadata=self._api.md
            )
            if reply.work_orders:
                self.seen[order_id] = time.perf_counter()  # late stamp: overstates, never flatters
                missed += 1
        return missed


def approve_at_rate(api: Api, orders: list[order_pb2.Order], rate: float) -> tuple[dict, dict]:
    """Returns (scheduled send time per order, approve RPC latency per order)."""
    sent: dict[str, float] = {}
    rpc: dict[str, float] = {}

    def approve(order: order_pb2.Order) -> None:
        t0 = time.perf_counter()
        api.orders.ApproveOrder(
            order_pb2.ApproveOrderRequest(order_id=order.order_id, expected_version=order.version),
            metadata=api.md,
        )
        rpc[order.order_id] = time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=16) as pool:
        start = time.perf_counter() + 0.05
        futures = []
        for i, order in enumerate(orders):
            due = start + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            sent[order.order_id] = due
            futures.append(pool.submit(approve, order))
        for f in futures:
            f.result()
    return sent, rpc


def flow(api: Api, cfg: Config, pids: list[int], mode: str) -> tuple[Row, Row, int]:
    customer = api.a_customer_id()
    orders = [
        api.orders.CreateOrder(order_request(customer, lines=1), metadata=api.md).order
        for _ in range(cfg.flow_orders)
    ]
    for pid in pids:
        reset_peak_rss(pid)
    watcher = WorkOrderWatcher(api, {o.order_id for o in orders})
    try:
        sent, rpc = approve_at_rate(api, orders, cfg.flow_rate)
        watcher.wait_all(timeout_s=30)
    finally:
        watcher.stop()
    missed = watcher.catch_missed()
    if len(watcher.seen) != len(orders):
        raise AssertionError(f"{mode}: {len(orders) - len(watcher.seen)} work orders never appeared")
    rss = max((peak_rss_kb(pid) or 0) for pid in pids) or None
    first, last_sent = min(sent.values()), max(sent.values())
    approve = Sample(len(rpc), last_sent - first + max(rpc.values()), list(rpc.values()), rss)
    visible = Sample(
        len(orders),
        max(watcher.seen.values()) - first,
        [watcher.seen[o] - sent[o] for o in sent],
        rss,
    )
    return Row.of(f"flow.{mode}.ApproveOrder", approve), Row.of(f"flow.{mode}.visible", visible), missed


def run(env: Environment, cfg: Config, report: Report) -> None:
    modes: list[tuple[str, Callable[[], tuple[dict[str, str], list[int]]]]] = [
        ("embedded", lambda: (env.embedded().addresses(), [env.embedded().pid])),
        ("distributed", lambda: (env.distributed().addresses(), list(env.distributed().pids().values()))),
    ]
    for mode, target in modes:
        addresses, pids = target()
        api = Api(addresses)
        try:
            approve, visible, missed = flow(api, cfg, pids, mode)
        finally:
            api.close()
        compare(visible, approve, of="p99")
        if mode == "distributed":
            visible.aim = f"p99 <= {AIM_P99_MS:.0f} ms at {cfg.flow_rate:.0f}/s"
            visible.met = visible.p99_ms is not None and visible.p99_ms <= AIM_P99_MS
        if missed:
            visible.note = f"{missed} stamped late (poller page overrun)"
        report.add(approve, visible)
    report.notes.append(
        f"flow: {cfg.flow_orders} approvals per mode offered open-loop at {cfg.flow_rate:.0f}/s; "
        f"'visible' = scheduled approval -> work order listed by ListWorkOrders (poll every "
        f"{POLL_S * 1000:.0f} ms); ratio = p99 visible / p99 of the ApproveOrder call itself; "
        "distributed RSS = the largest of the seven processes"
    )
