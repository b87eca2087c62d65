"""The customer service, asked which customer a portal account belongs to (by code)."""

from __future__ import annotations

import grpc

from oms.customer.v1 import customer_pb2, customer_pb2_grpc


class GrpcCustomerBook:
    def __init__(self, channel: grpc.Channel):
        self._stub = customer_pb2_grpc.CustomerServiceStub(channel)

    def id_of(self, code: str) -> str | None:
        found = self._stub.ListCustomers(customer_pb2.ListCustomersRequest(code=code, page_size=2)).customers
        return found[0].customer_id if len(found) == 1 and found[0].code == code else None
