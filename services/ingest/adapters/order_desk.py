"""The order and customer services, as ingest sees them."""

from __future__ import annotations

import grpc

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis.errors import FailedPrecondition
from services.chassis.fields import date_to_proto
from services.ingest.service_layer.ports import CustomerRef, OrderDraft

# Where an order can still be simply cancelled, and where a change request must cancel it
# (production has started: the shop floor hears of it through the change).
_CANCEL_DIRECTLY = {order_pb2.ORDER_STATE_DRAFT, order_pb2.ORDER_STATE_PENDING_APPROVAL}
_CANCEL_BY_CHANGE = {
    order_pb2.ORDER_STATE_APPROVED,
    order_pb2.ORDER_STATE_IN_PRODUCTION,
    order_pb2.ORDER_STATE_QC_PASSED,
    order_pb2.ORDER_STATE_READY_TO_SHIP,
}


class GrpcOrderDesk:
    def __init__(self, channel: grpc.Channel):
        self._stub = order_pb2_grpc.OrderServiceStub(channel)

    def create(self, draft: OrderDraft) -> tuple[str, str]:
        request = order_pb2.CreateOrderRequest(
            customer_id=draft.customer_id,
            channel=order_pb2.Channel.Value(draft.channel),
            priority=order_pb2.Priority.Value(draft.priority),
            due_date=date_to_proto(draft.due_date),
            request_id=draft.request_id,  # the order service dedupes: a repeated create is harmless
            delivery_address=draft.delivery_address,
            custom_fields=[
                order_pb2.CustomFieldValue(key=k, value=v) for k, v in draft.custom_fields.items()
            ],
            lines=[
                order_pb2.OrderLine(
                    product_model=x.product_model,
                    quantity=x.quantity,
                    workshop=x.workshop,
                    colour=x.colour,
                    surface_treatment=x.surface_treatment,
                    packaging=x.packaging,
                    unit_price_fen=x.unit_price_fen,
                )
                for x in draft.lines
            ],
        )
        order = self._stub.CreateOrder(request).order  # errors arrive as domain errors, fields kept
        return order.order_id, order.order_no

    def find(self, request_id: str) -> tuple[str, str] | None:
        found = self._stub.ListOrders(order_pb2.ListOrdersRequest(request_id=request_id, page_size=1)).orders
        return (found[0].order_id, found[0].order_no) if found else None

    def cancel(self, order_id: str, reason: str) -> str:
        order = self._stub.GetOrder(order_pb2.GetOrderRequest(order_id=order_id)).order
        if order.state == order_pb2.ORDER_STATE_CANCELLED:
            return "already_cancelled"
        if order.state in _CANCEL_DIRECTLY:
            self._stub.CancelOrder(
                order_pb2.CancelOrderRequest(order_id=order_id, expected_version=order.version, reason=reason)
            )
            return "cancelled"
        if order.state in _CANCEL_BY_CHANGE:
            self._stub.RequestOrderChange(
                order_pb2.RequestOrderChangeRequest(
                    order_id=order_id, expected_version=order.version, reason=reason, cancel_order=True
                )
            )
            return "change_requested"
        state = order_pb2.OrderState.Name(order.state)
        raise FailedPrecondition(f"order {order.order_no} is {state}: cancel it by hand if it must be")


class GrpcCustomerBook:
    def __init__(self, channel: grpc.Channel):
        self._stub = customer_pb2_grpc.CustomerServiceStub(channel)

    def by_code(self, code: str) -> CustomerRef | None:
        found = self._stub.ListCustomers(customer_pb2.ListCustomersRequest(code=code, page_size=2)).customers
        return _ref(found[0]) if found else None

    def by_name(self, name: str) -> list[CustomerRef]:
        wanted = name.strip()
        if not wanted:
            return []
        return [_ref(c) for c in self._search(wanted[:64]) if c.name.strip() == wanted or c.code == wanted]

    def by_phone(self, phone: str) -> list[CustomerRef]:
        digits = _digits(phone)
        if len(digits) < 7:  # too short to tell one buyer from another
            return []
        return [_ref(c) for c in self._search(digits) if any(_digits(x.phone) == digits for x in c.contacts)]

    def _search(self, query: str) -> list[customer_pb2.Customer]:
        """Every customer the search finds (the exact one may be past the first page of those
        whose name merely contains the text), up to SEARCH_LIMIT."""
        out: list[customer_pb2.Customer] = []
        token = ""
        while len(out) < SEARCH_LIMIT:
            page = self._stub.ListCustomers(
                customer_pb2.ListCustomersRequest(query=query, page_size=500, page_token=token)
            )
            out += page.customers
            token = page.next_page_token
            if not token:
                break
        return out


SEARCH_LIMIT = 2000  # customers a name search may match before the text is too common to tell


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())[-20:]


def _ref(c: customer_pb2.Customer) -> CustomerRef:
    return CustomerRef(c.customer_id, c.code, c.name, customer_pb2.Tier.Name(c.tier)[-1:], c.active)
