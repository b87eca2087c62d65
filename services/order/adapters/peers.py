"""Other services the order service asks, over gRPC, for exactly what it needs."""

from __future__ import annotations

import time

import grpc

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from services.chassis import identity
from services.chassis.errors import NotFound
from services.order.service_layer.ports import Shortfall


class GrpcCustomerDirectory:
    """Asks the customer service whether a customer exists. Customers are never deleted, so a
    "yes" is remembered for a while per tenant (an order form reuses the same few customers);
    a "no" is always asked again, since the customer may be registered a moment later."""

    def __init__(self, channel: grpc.Channel, remember_s: float = 300):
        self._stub = customer_pb2_grpc.CustomerServiceStub(channel)
        self._remember_s = remember_s
        self._known: dict[tuple[str, str], float] = {}

    def exists(self, customer_id: str) -> bool:
        key = (identity.current().tenant_id, customer_id)
        if self._known.get(key, 0.0) > time.monotonic():
            return True
        try:
            # The channel shares the caller's deadline and translates a failure into a domain
            # error (services/chassis/client.py): only "no such customer" is an answer here.
            self._stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=customer_id))
        except NotFound:
            return False
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[key] = time.monotonic() + self._remember_s
        return True


class GrpcStockCheck:
    def __init__(self, channel: grpc.Channel):
        self._stub = inventory_pb2_grpc.InventoryServiceStub(channel)

    def shortfalls(self, quantities: dict[str, int]) -> list[Shortfall]:
        request = inventory_pb2.CheckAvailabilityRequest(
            items=[
                inventory_pb2.RequestedItem(product_model=model, quantity=qty)
                for model, qty in quantities.items()
            ]
        )
        reply = self._stub.CheckAvailability(request)
        return [Shortfall(i.product_model, i.requested, i.available) for i in reply.items if not i.sufficient]
