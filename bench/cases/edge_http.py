"""The edge's HTTP/JSON API (issue #19: "the edge adds little beyond one gRPC call per request"):
GetOrder as a JSON POST through the edge, against two baselines measured in the same run:

- a bare ASGI handler on the same server (uvicorn) answering the same JSON bytes: what HTTP and
  the server cost by themselves (ops/s ratio);
- the same GetOrder straight over gRPC: the edge's added latency per call is p50(edge) − p50(gRPC).

Sequential and 8 concurrent callers, each with its own keep-alive HTTP connection."""

from __future__ import annotations

import json
import threading
import time

import httpx

from bench.api import Api, order_request
from bench.config import Config
from bench.measure import run_concurrent, run_sequential
from bench.report import Report, Row, compare
from bench.stacks import Environment, start_bare
from oms.order.v1 import order_pb2

AIM = ">= 0.3"  # the edge against a handler that does nothing but answer


class BareAsgi:
    def __init__(self, payload: bytes):
        self.proc, port = start_bare("bench.bare_asgi", payload)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(self.url, content=b"{}", timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def run(env: Environment, cfg: Config, report: Report) -> None:
    stack = env.embedded()
    api = Api(stack.addresses())
    order = api.orders.CreateOrder(order_request(api.a_customer_id()), metadata=api.md).order
    token = dict(api.md)["authorization"]
    path = "/oms.order.v1.OrderService/GetOrder"
    body = json.dumps({"orderId": order.order_id}).encode()
    headers = {"content-type": "application/json", "authorization": token}
    edge_url = stack.http_url
    with httpx.Client(base_url=edge_url) as probe:
        answer = probe.post(path, content=body, headers=headers)
        answer.raise_for_status()
    bare = BareAsgi(answer.content)
    request = order_pb2.GetOrderRequest(order_id=order.order_id)
    try:
        clients: dict[str, httpx.Client] = {}

        def client_for(base: str) -> httpx.Client:
            key = f"{base}/{threading.get_ident()}"
            if key not in clients:
                clients[key] = httpx.Client(base_url=base, headers=headers)
            return clients[key]

        def edge_call() -> None:
            client_for(edge_url).post(path, content=body).raise_for_status()

        def bare_call() -> None:
            client_for(bare.url).post(path, content=body).raise_for_status()

        def grpc_call() -> None:
            api.orders.GetOrder(request, metadata=api.md)

        n = cfg.own_callers
        for label, runner in (
            ("seq", lambda op: run_sequential(op, cfg.read_calls, cfg.warmup)),
            (f"{n}x", lambda op: run_concurrent(op, cfg.read_calls, n, cfg.warmup)),
        ):
            base = Row.of(f"edge.bare-asgi.{label}", runner(bare_call))
            direct = Row.of(f"edge.grpc-GetOrder.{label}", runner(grpc_call))
            mine = Row.of(f"edge.http-GetOrder.{label}", runner(edge_call))
            added = (mine.p50_ms or 0) - (direct.p50_ms or 0)
            mine.note = f"+{added:.2f} ms p50 over gRPC"
            report.add(base, direct, compare(mine, base, aim=AIM))
        report.notes.append(
            f"edge: GetOrder answer {len(answer.content)} bytes of JSON; bare ASGI = uvicorn answering "
            "the same bytes; each caller its own keep-alive connection"
        )
    finally:
        for c in clients.values():
            c.close()
        bare.stop()
        api.close()
