"""omsctl's connection to a stack: addresses, the caller's token, one entry point for every call
(`Client.call`), and the look-ups that turn what people type (an order number, a customer code, a
workshop name) into what the API takes, and what it answers (a customer id, a workshop code) into
what people read. Everything goes through the public gRPC contracts in protos/.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, tzinfo
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.identity.v1 import identity_pb2_grpc
from oms.ingest.v1 import ingest_pb2_grpc
from oms.inventory.v1 import inventory_pb2_grpc
from oms.notify.v1 import notify_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from oms.production.v1 import production_pb2_grpc
from omsctl.tokens import DEV_ISSUER_KEY_FILE, Issuer

DEFAULT_ADDR = "127.0.0.1:50050"  # where `make run` listens unless OMS_GRPC_PORT says otherwise

STUBS: dict[str, Any] = {
    "customer": customer_pb2_grpc.CustomerServiceStub,
    "order": order_pb2_grpc.OrderServiceStub,
    "production": production_pb2_grpc.ProductionServiceStub,
    "inventory": inventory_pb2_grpc.InventoryServiceStub,
    "ingest": ingest_pb2_grpc.IngestServiceStub,
    "notify": notify_pb2_grpc.NotifyServiceStub,
    "identity": identity_pb2_grpc.IdentityServiceStub,
}

# Answers that hold for every further look-up of the same kind (the service is down or not at
# that address, or this caller may not ask it): after one of them omsctl stops asking and shows
# ids instead of names.
_GIVE_UP = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
}


class NoToken(Exception):
    """No token given and no issuer key to mint one with."""


class UsageError(Exception):
    """What the user typed cannot be used (a mistyped date, an unknown order number): one line,
    exit status 2."""


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


class Client:
    def __init__(self, args):
        self.args = args
        self._channels: dict[str, grpc.Channel] = {}
        self._customers: dict[str, customer_pb2.Customer | None] = {}
        self._orders: dict[str, order_pb2.Order | None] = {}
        self._given_up: set[str] = set()  # look-ups that cannot be answered for this caller now

    # --- where and as whom ---

    @cached_property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        token = self.args.token or os.environ.get("OMS_TOKEN") or self._mint()
        return (("authorization", f"Bearer {token}"),)

    def _mint(self) -> str:
        key_file = os.environ.get("OMS_ISSUER_KEY_FILE") or str(DEV_ISSUER_KEY_FILE)
        try:
            issuer = Issuer.from_file(key_file)
        except (OSError, ValueError) as exc:
            raise NoToken(
                f"no token: give --token or OMS_TOKEN, or the issuer's private key in "
                f"OMS_ISSUER_KEY_FILE (the dev key {DEV_ISSUER_KEY_FILE} comes from `make setup`): "
                f"{key_file}: {exc}"
            ) from None
        return issuer.mint(self.args.tenant, self.args.user, [r for r in self.args.roles.split(",") if r])

    def address(self, service: str) -> str:
        """--addr (the whole stack), else OMS_<SERVICE>_ADDR (one service), else OMS_ADDR (the
        whole stack), else where `make run` listens by default."""
        return (
            self.args.addr
            or os.environ.get(f"OMS_{service.upper()}_ADDR")
            or os.environ.get("OMS_ADDR")
            or DEFAULT_ADDR
        )

    def channel(self, service: str) -> grpc.Channel:
        addr = self.address(service)
        if addr not in self._channels:
            # an error report or a contract scan may pass gRPC's default 4 MiB
            self._channels[addr] = grpc.insecure_channel(
                addr, options=[("grpc.max_receive_message_length", 12 * 1024 * 1024)]
            )
        return self._channels[addr]

    def call(self, service: str, method: str, request):
        """The one way omsctl asks a service anything."""
        stub = STUBS[service](self.channel(service))
        return getattr(stub, method)(request, metadata=self.metadata, timeout=self.args.timeout)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()

    # --- the tenant, as its screens need it ---

    @cached_property
    def options(self) -> order_pb2.TenantOptions:
        """The caller's tenant: option libraries, workshops, time zone. Empty (so codes and UTC
        are shown) when the order service cannot say."""
        try:
            return self.call("order", "GetTenantOptions", order_pb2.GetTenantOptionsRequest()).options
        except grpc.RpcError:
            return order_pb2.TenantOptions()

    @cached_property
    def zone(self) -> tzinfo:
        """The plant's time zone; UTC (the `UTC` object itself) when it cannot be known."""
        try:
            return ZoneInfo(self.options.time_zone) if self.options.time_zone else UTC
        except (ZoneInfoNotFoundError, ValueError):
            return UTC

    def workshop_name(self, code: str) -> str:
        for w in self.options.workshops:
            if w.code == code:
                return w.name
        return code

    def workshop_code(self, text: str) -> str:
        """A workshop as typed: its code, its full name, or one word of its name (冲压一车间,
        "plating"); unknown text is passed on as it is (the service names the problem)."""
        codes = [w.code for w in self.options.workshops]
        if text in codes:
            return text
        by_name = {w.name: w.code for w in self.options.workshops}
        return by_name.get(match_option(text, list(by_name)), text)

    # --- names for ids (answers shown with what people know them by) ---

    def customer(self, customer_id: str) -> customer_pb2.Customer | None:
        if customer_id not in self._customers:
            request = customer_pb2.GetCustomerRequest(customer_id=customer_id)
            self._customers[customer_id] = self._look_up("customer", "GetCustomer", request, "customer")
        return self._customers[customer_id]

    def order(self, order_id: str) -> order_pb2.Order | None:
        if order_id not in self._orders:
            self._orders[order_id] = self._look_up(
                "order", "GetOrder", order_pb2.GetOrderRequest(order_id=order_id), "order"
            )
        return self._orders[order_id]

    def _look_up(self, service: str, method: str, request, field: str):
        if method in self._given_up:
            return None
        try:
            return getattr(self.call(service, method, request), field)
        except grpc.RpcError as exc:  # not found, not allowed, or down: show the id instead
            if exc.code() in _GIVE_UP:
                self._given_up.add(method)
            return None

    def customer_name(self, customer_id: str) -> str:
        found = self.customer(customer_id)
        return found.name if found else customer_id

    def customer_label(self, customer_id: str) -> str:
        found = self.customer(customer_id)
        return f"{found.name} ({found.code})" if found else customer_id

    # --- ids for what people type ---

    def resolve_order(self, text: str) -> str:
        """An order id, given an order id or an order number (HW-20261125-00001)."""
        if is_uuid(text):
            return text
        if not re.fullmatch(r"[A-Za-z0-9-]{1,32}", text):
            raise UsageError(f"{text!r} is neither an order number (HW-20261125-00001) nor an order id")
        reply = self.call("order", "ListOrders", order_pb2.ListOrdersRequest(order_no=text.upper()))
        if not reply.orders:
            raise UsageError(f"no order {text.upper()} in business line {self.tenant} (omsctl orders)")
        order = reply.orders[0]
        self._orders[order.order_id] = order
        return order.order_id

    def resolve_customer(self, text: str) -> str:
        """A customer id, given a customer id or a customer code (MIDEA-SD)."""
        if is_uuid(text):
            return text
        code = text.upper()
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{0,31}", code):
            raise UsageError(f"{text!r} is neither a customer code (MIDEA-SD) nor a customer id")
        reply = self.call("customer", "ListCustomers", customer_pb2.ListCustomersRequest(code=code))
        if not reply.customers:
            raise UsageError(
                f"no customer with code {code} in business line {self.tenant} "
                f"(omsctl customers --search {text})"
            )
        customer = reply.customers[0]
        self._customers[customer.customer_id] = customer
        return customer.customer_id

    @property
    def tenant(self) -> str:
        return self.options.tenant_id or self.args.tenant


def match_option(text: str, choices: list[str]) -> str:
    """A value from a tenant's option library as typed: the whole value ("银色 silver"), or one
    word of it ("银色", "Silver") when exactly one value has that word. Anything else comes back
    unchanged, for the service to refuse with the allowed values."""
    if text in choices:
        return text
    wanted = text.strip().casefold()
    for found in (
        [c for c in choices if c.casefold() == wanted],
        [c for c in choices if wanted in (w.casefold() for w in c.split())],
    ):
        if len(found) == 1:
            return found[0]
    return text
