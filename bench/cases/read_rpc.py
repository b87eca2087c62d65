"""Case 1: a read RPC through the chassis (token check, validation, metrics, tracing, a real DB read)
against a bare grpcio server answering a message of the same size: sequential, 16 callers on one
channel, and 8 callers with a channel each."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from bench.api import Api, PerThreadChannel, order_request
from bench.bare_server import METHOD
from bench.config import Config
from bench.measure import Sample, peak_rss_kb, reset_peak_rss, run_concurrent, run_sequential
from bench.report import Report, Row, compare
from bench.stacks import Environment, start_bare
from oms.order.v1 import order_pb2, order_pb2_grpc

AIM = ">= 0.5"
BARE_CODECS = {
    "request_serializer": order_pb2.GetOrderRequest.SerializeToString,
    "response_deserializer": order_pb2.GetOrderResponse.FromString,
}


class BareServer:
    def __init__(self, payload: bytes):
        self.proc, port = start_bare("bench.bare_server", payload)
        self.address = f"127.0.0.1:{port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def measured(pid: int, work: Callable[[], Sample]) -> Sample:
    reset_peak_rss(pid)
    sample = work()
    sample.peak_rss_kb = peak_rss_kb(pid)
    return sample


def run(env: Environment, cfg: Config, report: Report) -> None:
    stack = env.embedded()
    api = Api(stack.addresses())
    order = api.orders.CreateOrder(order_request(api.a_customer_id()), metadata=api.md).order
    request = order_pb2.GetOrderRequest(order_id=order.order_id)
    payload = api.orders.GetOrder(request, metadata=api.md).SerializeToString()

    bare = BareServer(payload)
    channel = grpc.insecure_channel(bare.address)
    # The same request bytes and token go out, and the reply is parsed as a GetOrderResponse,
    # so the client does the same work in both; only the server side differs.
    bare_get = channel.unary_unary(METHOD, **BARE_CODECS)
    try:

        def chassis_call() -> None:
            api.orders.GetOrder(request, metadata=api.md)

        def bare_call() -> None:
            bare_get(request, metadata=api.md)

        for label, runner in (
            ("seq", lambda op: run_sequential(op, cfg.read_calls, cfg.warmup)),
            (f"{cfg.callers}x", lambda op: run_concurrent(op, cfg.read_calls, cfg.callers, cfg.warmup)),
        ):
            base = Row.of(f"read.bare-grpc.{label}", measured(bare.proc.pid, lambda r=runner: r(bare_call)))
            mine = Row.of(f"read.GetOrder.{label}", measured(stack.pid, lambda r=runner: r(chassis_call)))
            report.add(base, compare(mine, base, aim=AIM))

        # Each caller with a channel (and connection) of its own, as separate clients would be.
        own_bare = PerThreadChannel(bare.address, lambda ch: ch.unary_unary(METHOD, **BARE_CODECS))
        own_chassis = PerThreadChannel(stack.address, order_pb2_grpc.OrderServiceStub)
        n = cfg.own_callers

        def own_channels(pid: int, channels: PerThreadChannel, op: Callable[[], object]) -> Sample:
            return measured(pid, lambda: run_concurrent(op, cfg.read_calls, n, cfg.warmup, channels.get))

        try:
            base = Row.of(
                f"read.bare-grpc.{n}x",
                own_channels(bare.proc.pid, own_bare, lambda: own_bare.get()(request, metadata=api.md)),
            )
            mine = Row.of(
                f"read.GetOrder.{n}x",
                own_channels(
                    stack.pid, own_chassis, lambda: own_chassis.get().GetOrder(request, metadata=api.md)
                ),
            )
            report.add(base, compare(mine, base, aim=AIM))
        finally:
            own_bare.close()
            own_chassis.close()
        report.notes.append(
            f"read: reply {len(payload)} bytes (GetOrderResponse, 2 lines), SQLite; the {cfg.callers} "
            f"callers of {cfg.callers}x share one channel, the {cfg.own_callers} of {cfg.own_callers}x "
            "have a channel (and connection) each, connected before timing starts"
        )
    finally:
        channel.close()
        bare.stop()
        api.close()
