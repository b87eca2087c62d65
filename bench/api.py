"""A client of the public gRPC API, as the plant's apps call it: signed token, real requests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Generic, TypeVar

import grpc

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from oms.production.v1 import production_pb2_grpc
from omsctl.tokens import dev_issuer
from services.chassis.fields import date_to_proto

TENANT = "hardware"
T = TypeVar("T")


def metadata(tenant: str = TENANT, roles: tuple[str, ...] = ("sales", "approver")) -> tuple:
    token = dev_issuer().mint(tenant, "陈丽", roles, ttl_s=6 * 3600)
    return (("authorization", f"Bearer {token}"),)


class Api:
    def __init__(self, addresses: dict[str, str]):
        self._channels = {name: grpc.insecure_channel(addr) for name, addr in addresses.items()}
        self.customers = customer_pb2_grpc.CustomerServiceStub(self._channels["customer"])
        self.orders = order_pb2_grpc.OrderServiceStub(self._channels["order"])
        self.production = production_pb2_grpc.ProductionServiceStub(self._channels["production"])
        self.md = metadata()

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()

    def a_customer_id(self) -> str:
        """One of the seeded demo customers."""
        reply = self.customers.ListCustomers(customer_pb2.ListCustomersRequest(), metadata=self.md)
        return reply.customers[0].customer_id


class PerThreadChannel(Generic[T]):
    """Each calling thread gets a channel of its own to `address`, with its own TCP connection
    (gRPC would otherwise share one subchannel between equal channels), so the connections of
    several callers can land on different processes of a server behind one port (SO_REUSEPORT).
    `make(channel)` builds what the thread calls: a stub, a bare method."""

    def __init__(self, address: str, make: Callable[[grpc.Channel], T]):
        self._address, self._make = address, make
        self._local = threading.local()
        self._channels: list[grpc.Channel] = []
        self._lock = threading.Lock()

    def get(self) -> T:
        made = getattr(self._local, "made", None)
        if made is None:
            channel = grpc.insecure_channel(self._address, options=[("grpc.use_local_subchannel_pool", 1)])
            grpc.channel_ready_future(channel).result(timeout=10)  # connected before it is timed
            with self._lock:
                self._channels.append(channel)
            made = self._local.made = self._make(channel)
        return made

    def close(self) -> None:
        for channel in self._channels:
            channel.close()


def order_request(customer_id: str, lines: int = 2) -> order_pb2.CreateOrderRequest:
    """A typical phone order: a couple of lines, due in three weeks, with a request id."""
    shop_lines = [
        order_pb2.OrderLine(
            product_model="HB-2040 铰链 hinge",
            quantity=100,
            workshop="stamping-1",
            colour="银色 silver",
            surface_treatment="电镀 plating",
            unit_price_fen=85,
        ),
        order_pb2.OrderLine(product_model="BK-310 支架 bracket", quantity=50, workshop="stamping-1"),
    ]
    return order_pb2.CreateOrderRequest(
        customer_id=customer_id,
        channel=order_pb2.CHANNEL_DIRECT,
        priority=order_pb2.PRIORITY_NORMAL,
        due_date=date_to_proto(date.today() + timedelta(days=21)),
        lines=shop_lines[:lines],
        request_id=str(uuid.uuid4()),
    )
