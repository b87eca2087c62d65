"""omsctl: the admin and scripting client of Zhongshu OMS, over the public gRPC API.

Addresses: --addr (one port, the embedded stack) or OMS_<SERVICE>_ADDR per service (distributed).
Identity: a token from --token/OMS_TOKEN, or one minted here with the issuer's private key
(OMS_ISSUER_KEY_FILE, an admin tool holding it; by default the dev key `make setup` writes to
var/keys/issuer.jwk.json, whose public half the services trust in dev, as in `make run`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from functools import cached_property

import grpc
import pika
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.notify.v1 import notify_pb2, notify_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from oms.production.v1 import production_pb2, production_pb2_grpc
from omsctl.tokens import DEV_ISSUER_KEY_FILE, Issuer
from services.catalog import NAMES

SERVICE_NAMES = {
    "customer": "oms.customer.v1.CustomerService",
    "order": "oms.order.v1.OrderService",
    "production": "oms.production.v1.ProductionService",
    "inventory": "oms.inventory.v1.InventoryService",
    "ingest": "oms.ingest.v1.IngestService",
    "notify": "oms.notify.v1.NotifyService",
}


class NoToken(Exception):
    """No token given and no issuer key to mint one with."""


class Client:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self._channels: dict[str, grpc.Channel] = {}

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
        return self.args.addr or os.environ.get(f"OMS_{service.upper()}_ADDR") or "127.0.0.1:50050"

    def channel(self, service: str) -> grpc.Channel:
        addr = self.address(service)
        if addr not in self._channels:
            self._channels[addr] = grpc.insecure_channel(addr)
        return self._channels[addr]

    def call(self, service: str, stub_cls, method: str, request):
        stub = stub_cls(self.channel(service))
        return getattr(stub, method)(request, metadata=self.metadata, timeout=self.args.timeout)


def show(message, fields: list[str] | None = None) -> None:
    doc = json_format.MessageToDict(message, preserving_proto_field_name=True)
    print(json.dumps(doc, ensure_ascii=False, indent=2))


def table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def as_rows(messages) -> list[dict]:
    return [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in messages]


def cmd_health(c: Client, a) -> int:
    bad = 0
    for name in NAMES:
        stub = health_pb2_grpc.HealthStub(c.channel(name))
        try:
            status = stub.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAMES[name]), timeout=3).status
            text = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
        except grpc.RpcError as exc:
            text = f"DOWN ({exc.code().name})"
        bad += text != "SERVING"
        print(f"{name:<11} {c.address(name):<22} {text}")
    return 1 if bad else 0


def cmd_customers(c: Client, a) -> int:
    reply = c.call(
        "customer",
        customer_pb2_grpc.CustomerServiceStub,
        "ListCustomers",
        customer_pb2.ListCustomersRequest(page_size=a.limit),
    )
    table(as_rows(reply.customers), ["customer_id", "code", "name", "tier", "sales_owner"])
    return 0


def cmd_customer_create(c: Client, a) -> int:
    reply = c.call(
        "customer",
        customer_pb2_grpc.CustomerServiceStub,
        "CreateCustomer",
        customer_pb2.CreateCustomerRequest(
            code=a.code,
            name=a.name,
            years_of_cooperation=a.years,
            yearly_purchases_cny=a.yearly_cny,
            sales_owner=a.owner,
        ),
    )
    show(reply.customer)
    return 0


def parse_line(text: str) -> order_pb2.OrderLine:
    """model:quantity:workshop[:colour[:surface treatment[:unit price in fen]]]"""
    parts = text.split(":")
    if len(parts) < 3:
        raise SystemExit(f"--line {text!r}: expected model:quantity:workshop[:colour[:surface[:price_fen]]]")
    line = order_pb2.OrderLine(product_model=parts[0], quantity=int(parts[1]), workshop=parts[2])
    if len(parts) > 3:
        line.colour = parts[3]
    if len(parts) > 4:
        line.surface_treatment = parts[4]
    if len(parts) > 5:
        line.unit_price_fen = int(parts[5])
    return line


def cmd_order_create(c: Client, a) -> int:
    request = order_pb2.CreateOrderRequest(
        customer_id=a.customer,
        channel=order_pb2.Channel.Value(f"CHANNEL_{a.channel.upper()}"),
        priority=order_pb2.Priority.Value(f"PRIORITY_{a.priority.upper()}"),
        due_date=a.due,
        lines=[parse_line(x) for x in a.line],
        request_id=a.request_id or "",
    )
    show(c.call("order", order_pb2_grpc.OrderServiceStub, "CreateOrder", request).order)
    return 0


def cmd_orders(c: Client, a) -> int:
    state = order_pb2.OrderState.Value(f"ORDER_STATE_{a.state.upper()}") if a.state else 0
    reply = c.call(
        "order",
        order_pb2_grpc.OrderServiceStub,
        "ListOrders",
        order_pb2.ListOrdersRequest(
            state=state, due_from=a.due_from or "", due_to=a.due_to or "", page_size=a.limit
        ),
    )
    table(as_rows(reply.orders), ["order_id", "order_no", "state", "due_date", "priority", "version"])
    return 0


def cmd_order_show(c: Client, a) -> int:
    show(
        c.call(
            "order",
            order_pb2_grpc.OrderServiceStub,
            "GetOrder",
            order_pb2.GetOrderRequest(order_id=a.order_id),
        ).order
    )
    return 0


def cmd_order_approve(c: Client, a) -> int:
    show(
        c.call(
            "order",
            order_pb2_grpc.OrderServiceStub,
            "ApproveOrder",
            order_pb2.ApproveOrderRequest(order_id=a.order_id, expected_version=a.version),
        ).order
    )
    return 0


def cmd_work_orders(c: Client, a) -> int:
    reply = c.call(
        "production",
        production_pb2_grpc.ProductionServiceStub,
        "ListWorkOrders",
        production_pb2.ListWorkOrdersRequest(order_id=a.order or "", page_size=a.limit),
    )
    if a.json:
        print(json.dumps(as_rows(reply.work_orders), ensure_ascii=False, indent=2))
    else:
        table(as_rows(reply.work_orders), ["work_order_no", "order_no", "workshop", "stage", "due_date"])
    return 0


def cmd_notifications(c: Client, a) -> int:
    reply = c.call(
        "notify",
        notify_pb2_grpc.NotifyServiceStub,
        "ListNotifications",
        notify_pb2.ListNotificationsRequest(reference=a.reference or "", page_size=a.limit),
    )
    table(as_rows(reply.notifications), ["created_at", "recipient", "recipient_role", "subject"])
    return 0


def cmd_dead_letters(c: Client, a) -> int:
    """Talks to RabbitMQ, not gRPC: dead letters exist only in distributed mode."""
    from services.catalog import definitions
    from services.chassis.consumer import Subscription
    from services.chassis.dead_letters import list_dead_letters, replay_dead_letters

    if not a.replay:
        letters = list_dead_letters(a.amqp, a.service, a.release, limit=a.limit)
        table(
            [
                {
                    "message_id": d.message_id,
                    "event": f"{d.exchange}/{d.routing_key}",
                    "attempts": d.attempts,
                    "reason": d.reason[:80],
                }
                for d in letters
            ],
            ["message_id", "event", "attempts", "reason"],
        )
        return 0
    definition = next(d for d in definitions() if d.name == a.service)
    target = None
    if definition.consumers_run_elsewhere and definition.external_queue:

        def target(letter):  # notify: back to the queue nameko reads
            source = letter.exchange.removesuffix(".events")
            sub = Subscription(source, letter.routing_key, lambda _e, _u: None, name="replay")
            return definition.external_queue(a.release, sub)

    count = replay_dead_letters(a.amqp, a.service, a.release, limit=a.limit, target_queue=target)
    print(f"replayed {count} dead letter(s) to {a.service}")
    return 0


def cmd_token(c: Client, a) -> int:
    print(c.metadata[0][1].removeprefix("Bearer "))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="omsctl", description="Zhongshu OMS command line (中枢 OMS 命令行)")
    p.add_argument("--addr", help="one address for every service (embedded stack), e.g. 127.0.0.1:50050")
    p.add_argument(
        "--tenant", default=os.environ.get("OMS_TENANT", "hardware"), help="business line (业务线)"
    )
    p.add_argument("--user", default=os.environ.get("OMS_USER", "admin"))
    p.add_argument(
        "--roles", default=os.environ.get("OMS_ROLES", "admin"), help="comma list, e.g. sales,approver"
    )
    p.add_argument("--token", help="use this bearer token instead of minting one (OMS_TOKEN)")
    p.add_argument("--timeout", type=float, default=10)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.set_defaults(fn=fn)
        return sp

    add("health", cmd_health, "health of every service (各服务健康状态)")
    add("customers", cmd_customers, "list customers (客户列表)").add_argument(
        "--limit", type=int, default=100
    )
    sp = add("customer-create", cmd_customer_create, "register a customer (新建客户)")
    sp.add_argument("--code", required=True)
    sp.add_argument("--name", required=True)
    sp.add_argument("--years", type=int, default=0, help="years of cooperation (合作年限)")
    sp.add_argument("--yearly-cny", type=int, default=0, help="yearly purchases in CNY (年采购额)")
    sp.add_argument("--owner", default="", help="sales owner (销售负责人)")
    sp = add("order-create", cmd_order_create, "create an order (新建订单)")
    sp.add_argument("--customer", required=True, help="customer id")
    sp.add_argument("--due", required=True, help="due date YYYY-MM-DD (交期)")
    sp.add_argument(
        "--line",
        action="append",
        required=True,
        help="model:quantity:workshop[:colour[:surface[:price_fen]]], repeatable",
    )
    sp.add_argument("--channel", default="direct", choices=["marketplace", "agent", "direct"])
    sp.add_argument("--priority", default="normal", choices=["normal", "high"])
    sp.add_argument("--request-id", help="idempotency key: the same key never creates two orders")
    sp = add("orders", cmd_orders, "list orders (订单列表)")
    sp.add_argument("--state", choices=["pending_approval", "approved"])
    sp.add_argument("--due-from")
    sp.add_argument("--due-to")
    sp.add_argument("--limit", type=int, default=50)
    add("order-show", cmd_order_show, "show one order (订单详情)").add_argument("order_id")
    sp = add("order-approve", cmd_order_approve, "approve an order (审批订单)")
    sp.add_argument("order_id")
    sp.add_argument("--version", type=int, default=0, help="the version you reviewed (optimistic check)")
    sp = add("work-orders", cmd_work_orders, "list work orders (生产工单)")
    sp.add_argument("--order", help="only this order's work orders")
    sp.add_argument("--limit", type=int, default=100)
    sp.add_argument("--json", action="store_true")
    sp = add("notifications", cmd_notifications, "notifications sent (通知记录)")
    sp.add_argument("--reference")
    sp.add_argument("--limit", type=int, default=50)
    sp = add("dead-letters", cmd_dead_letters, "list or replay a service's dead letters (死信) over RabbitMQ")
    sp.add_argument("service", choices=list(SERVICE_NAMES))
    sp.add_argument("--replay", action="store_true", help="send them back to the service, fresh attempts")
    sp.add_argument("--limit", type=int, default=100)
    sp.add_argument("--amqp", default=os.environ.get("OMS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    sp.add_argument("--release", default=os.environ.get("OMS_RELEASE", ""))
    add("token", cmd_token, "print a bearer token for the chosen tenant/user/roles")
    return p


def explain(exc: grpc.RpcError) -> str:
    lines = [f"error: {exc.code().name}: {exc.details()}"]
    status = rpc_status.from_call(exc)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(Client(args), args)
    except grpc.RpcError as exc:
        print(explain(exc), file=sys.stderr)
        return 2
    except pika.exceptions.AMQPError as exc:
        print(f"error: RabbitMQ: {exc!r}", file=sys.stderr)
        return 2
    except NoToken as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
