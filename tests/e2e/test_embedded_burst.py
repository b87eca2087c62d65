"""A burst of nested calls against the embedded stack (ingest -> order -> customer, all in one
process): every call succeeds quickly, and sending the same burst again creates nothing new.

Before each service had its own worker pool, 40 such calls filled the one shared pool with
ingest handlers waiting for order calls that queued behind them: they timed out as UNAVAILABLE,
some after their order had been created."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from oms.customer.v1 import customer_pb2
from oms.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from oms.order.v1 import order_pb2
from services.catalog import NAMES
from tests.e2e import scenario
from tests.e2e.embedded_process import running

pytestmark = pytest.mark.e2e
BURST = 40


@pytest.fixture(scope="module", params=["default", "2"], ids=["default-pools", "2-workers-per-pool"])
def api(request, tmp_path_factory):
    # The default pools, and pools of 2 workers (OMS_GRPC_WORKERS): with one shared pool, two
    # callers waiting on nested calls would already hold every worker, on any machine.
    env = {} if request.param == "default" else {"OMS_GRPC_WORKERS": request.param}
    with running(tmp_path_factory.mktemp("burst"), env=env) as stack:
        api = scenario.Api(dict.fromkeys(NAMES, stack.addr))
        yield api
        api.close()
        assert stack.terminate() == 0, stack.log_text()[-3000:]


def orders_of(api: scenario.Api, md, customer_id: str) -> list[order_pb2.Order]:
    found, token = [], ""
    while True:
        request = order_pb2.ListOrdersRequest(page_size=500, page_token=token)
        page = api.orders.ListOrders(request, metadata=md)
        found += [o for o in page.orders if o.customer_id == customer_id]
        if not page.next_page_token:
            return found
        token = page.next_page_token


def burst(api: scenario.Api, forms: list[ingest_pb2.SubmitPhoneOrderRequest], md) -> tuple[list, float]:
    """Send every form at the same moment, each on its own thread and channel (as 40 phones
    would); (results or errors, seconds)."""
    start = threading.Barrier(len(forms))

    def submit(form):
        with grpc.insecure_channel(api.addresses["ingest"]) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            grpc.channel_ready_future(channel).result(timeout=10)
            start.wait()
            try:
                return stub.SubmitPhoneOrder(form, metadata=md, timeout=20)
            except grpc.RpcError as exc:
                return exc

    began = time.monotonic()
    with ThreadPoolExecutor(len(forms)) as pool:
        results = list(pool.map(submit, forms))
    return results, time.monotonic() - began


def failures(results) -> list[str]:
    return [f"{r.code().name}: {r.details()}" for r in results if isinstance(r, grpc.RpcError)]


def test_a_burst_of_nested_calls_all_succeed_and_a_repeat_creates_nothing(api):
    md = scenario.Caller("hardware").metadata()
    # A new customer: no order-side cache has seen it, so every CreateOrder asks the customer
    # service too (three services deep, all in one process).
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"BURST-{uuid.uuid4().hex[:6].upper()}", name="美的 Midea burst", sales_owner="陈丽"
        ),
        metadata=md,
    ).customer
    forms = [
        ingest_pb2.SubmitPhoneOrderRequest(
            idempotency_key=f"burst-{uuid.uuid4()}",
            customer_id=customer.customer_id,
            due_date=scenario.due(10),
            lines=[scenario.line(qty=100 + i)],
        )
        for i in range(BURST)
    ]

    first, took = burst(api, forms, md)
    assert failures(first) == [], f"{len(failures(first))} of {BURST} failed: {failures(first)[:3]}"
    # Below ingest's own 10 s deadline for its order call, with a wide margin for a slow machine.
    assert took < 8, f"the burst took {took:.1f} s"
    assert not any(r.duplicate for r in first)
    created = {r.order_id for r in first}
    assert len(created) == BURST
    assert {o.order_id for o in orders_of(api, md, customer.customer_id)} == created

    again, took = burst(api, forms, md)
    assert failures(again) == [], f"{len(failures(again))} of {BURST} failed: {failures(again)[:3]}"
    assert took < 8, f"the repeated burst took {took:.1f} s"
    assert all(r.duplicate for r in again)
    assert [r.order_id for r in again] == [r.order_id for r in first]
    assert len(orders_of(api, md, customer.customer_id)) == BURST, "a repeated form created an order"
