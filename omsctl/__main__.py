"""omsctl: the command line of Zhongshu OMS for plant staff and scripts, over the public gRPC API.

Where: --addr or OMS_ADDR (one address for a whole stack, as `make run` serves it), or
OMS_<SERVICE>_ADDR per service (distributed; they override OMS_ADDR, --addr overrides them).
Who: a token from --token/OMS_TOKEN, or one minted here with the issuer's private key
(OMS_ISSUER_KEY_FILE, an admin tool holding it; by default the dev key `make setup` writes to
var/keys/issuer.jwk.json, whose public half the services trust in dev, as in `make run`).
The global options (--tenant, --addr, ...) may stand anywhere on the line.

What people type is taken as they know it: order numbers and customer codes wherever an id is
asked, workshop names or codes, dates as 2026-12-20 or 2026/12/20. What comes back is shown as
they read it: 待审批 Pending approval rather than ORDER_STATE_PENDING_APPROVAL, workshop and
customer names rather than codes and ids, times in the plant's zone to the minute. --json prints
the API's own answer for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, date

import grpc
import pika
from google.protobuf import json_format
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from oms.customer.v1 import customer_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from omsctl import display as d
from omsctl.client import Client, NoToken, UsageError, is_uuid, match_option

SERVICE_NAMES = {
    "customer": "oms.customer.v1.CustomerService",
    "order": "oms.order.v1.OrderService",
    "production": "oms.production.v1.ProductionService",
    "inventory": "oms.inventory.v1.InventoryService",
    "ingest": "oms.ingest.v1.IngestService",
    "notify": "oms.notify.v1.NotifyService",
}


# --- what people type ---


def parse_day(text: str) -> date_pb2.Date:
    """A day as people write it: 2026-12-20, 2026/12/20, 2026.12.20, 2026-1-5 or 20261220."""
    match = re.fullmatch(r"\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\s*|\s*(\d{4})(\d{2})(\d{2})\s*", text)
    try:
        if not match:
            raise ValueError
        year, month, day = (int(g) for g in match.groups() if g is not None)
        date(year, month, day)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a calendar day: write YYYY-MM-DD, e.g. 2026-12-20"
        ) from None
    return date_pb2.Date(year=year, month=month, day=day)


def whole_number(text: str, what: str = "number") -> int:
    """5000, 5,000 or 5_000; anything else is a one-line error naming what was expected."""
    cleaned = text.strip().replace(",", "").replace("_", "").replace("，", "")
    if not re.fullmatch(r"-?\d{1,18}", cleaned):
        raise argparse.ArgumentTypeError(f"{what} {text!r} is not a whole number")
    return int(cleaned)


def count(text: str) -> int:
    value = whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is below 0")
    return value


def page_limit(text: str) -> int:
    value = whole_number(text)
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 1 and 500")
    return value


LINE_FORMAT = "model:quantity:workshop[:colour[:surface treatment[:unit price in fen]]]"


def parse_line(text: str) -> order_pb2.OrderLine:
    """model:quantity:workshop[:colour[:surface treatment[:unit price in fen]]]"""
    parts = [p.strip() for p in text.replace("：", ":").split(":")]
    if len(parts) < 3 or len(parts) > 6 or not parts[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {LINE_FORMAT}")
    try:
        line = order_pb2.OrderLine(
            product_model=parts[0], quantity=whole_number(parts[1], "quantity"), workshop=parts[2]
        )
        if len(parts) > 3:
            line.colour = parts[3]
        if len(parts) > 4:
            line.surface_treatment = parts[4]
        if len(parts) > 5:
            line.unit_price_fen = whole_number(parts[5], "unit price (fen)")
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    except ValueError:  # a number outside the field's type (int32/int64)
        raise argparse.ArgumentTypeError(f"{text!r}: a number is far too large") from None
    return line


def choice(enum_prefix: str, names: list[str]) -> Callable[[str], str]:
    """An enum value typed as its short name (pending_approval), its Chinese or English label
    (待审批, "Pending approval"), case and dashes aside."""

    def parse(text: str) -> str:
        wanted = text.strip().casefold().replace("-", "_").replace(" ", "_")
        for name in names:
            label = d.LABELS.get(f"{enum_prefix}{name.upper()}", "")
            zh, _, en = label.partition(" ")
            if wanted in (name, zh.casefold(), en.casefold().replace(" ", "_")):
                return name
        raise argparse.ArgumentTypeError(f"{text!r} is not one of: {', '.join(names)}")

    return parse


# --- output ---


def emit(lines: list[str]) -> None:
    print("\n".join(lines))


def as_json(value) -> None:
    if isinstance(value, list):
        doc = [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in value]
    else:
        doc = json_format.MessageToDict(value, preserving_proto_field_name=True)
    print(json.dumps(doc, ensure_ascii=False, indent=2))


def more(token: str, as_json_: bool) -> None:
    """Where the next page starts: after the table, or on stderr when stdout is JSON."""
    if token:
        print(f"下一页 next page: --page-token {token}", file=sys.stderr if as_json_ else sys.stdout)


def when(c: Client, message, field: str) -> str:
    """A time of `message` in the plant's zone (marked UTC when the zone is unknown)."""
    text = d.local_time(getattr(message, field) if message.HasField(field) else None, c.zone)
    return f"{text} UTC" if c.zone is UTC and text != d.NONE else text


# --- commands ---


def cmd_health(c: Client, a) -> int:
    bad = 0
    for name, full_name in SERVICE_NAMES.items():
        stub = health_pb2_grpc.HealthStub(c.channel(name))
        try:
            status = stub.Check(health_pb2.HealthCheckRequest(service=full_name), timeout=3).status
            text = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
        except grpc.RpcError as exc:
            text = f"DOWN ({exc.code().name})"
        bad += text != "SERVING"
        print(f"{name:<11} {c.address(name):<22} {text}")
    return 1 if bad else 0


def cmd_options(c: Client, a) -> int:
    options = c.call("order", "GetTenantOptions", order_pb2.GetTenantOptionsRequest()).options
    if a.json:
        as_json(options)
        return 0
    emit(
        d.card(
            [
                ("业务线 Business line", f"{options.tenant_id}  {options.name_zh} {options.name_en}"),
                ("时区 Time zone", options.time_zone),
                ("订单号前缀 Order prefix", options.number_prefix),
                ("颜色 Colours", "、".join(options.colours) or "(任意 free text)"),
                ("表面处理 Surface treatments", "、".join(options.surface_treatments) or "(任意 free text)"),
            ]
        )
    )
    print("车间 Workshops")
    workshops = d.table(["代码 Code", "名称 Name"], [(w.code, w.name) for w in options.workshops])
    emit(["  " + line for line in workshops])
    return 0


def customer_card(c: Client, x: customer_pb2.Customer) -> list[str]:
    return d.card(
        [
            ("客户 Customer", f"{x.name} ({x.code})"),
            ("等级 Tier", d.label(customer_pb2.Tier, x.tier)),
            ("合作年限 Years", x.years_of_cooperation),
            ("年采购额 Yearly CNY", d.quantity(x.yearly_purchases_cny)),
            ("销售 Sales owner", x.sales_owner or d.NONE),
            ("创建 Created", when(c, x, "created_at")),
            ("编号 ID", x.customer_id),
        ]
    )


def cmd_customers(c: Client, a) -> int:
    request = customer_pb2.ListCustomersRequest(
        query=a.search or "", code=(a.code or "").upper(), page_size=a.limit, page_token=a.page_token or ""
    )
    reply = c.call("customer", "ListCustomers", request)
    if a.json:
        as_json(list(reply.customers))
    else:
        emit(
            d.table(
                ["代码 Code", "名称 Name", "等级 Tier", "销售 Sales owner", "创建 Created"],
                [
                    (
                        x.code,
                        x.name,
                        d.label(customer_pb2.Tier, x.tier),
                        x.sales_owner or d.NONE,
                        when(c, x, "created_at"),
                    )
                    for x in reply.customers
                ],
                limits={1: 40},
            )
        )
    more(reply.next_page_token, a.json)
    return 0


def cmd_customer_create(c: Client, a) -> int:
    reply = c.call(
        "customer",
        "CreateCustomer",
        customer_pb2.CreateCustomerRequest(
            code=a.code.upper(),
            name=a.name,
            years_of_cooperation=a.years,
            yearly_purchases_cny=a.yearly_cny,
            sales_owner=a.owner,
        ),
    )
    if a.json:
        as_json(reply.customer)
    else:
        emit(customer_card(c, reply.customer))
    return 0


LINE_HEADERS = ["产品 Product", "数量 Qty", "车间 Workshop", "颜色 Colour", "表面处理 Surface", "单价 Price"]


def order_card(c: Client, o: order_pb2.Order) -> list[str]:
    approved = d.NONE
    if o.HasField("approved_at"):
        approved = f"{when(c, o, 'approved_at')} {o.approved_by}"
    lines = d.card(
        [
            ("订单 Order", o.order_no),
            ("客户 Customer", c.customer_label(o.customer_id)),
            ("状态 State", f"{d.label(order_pb2.OrderState, o.state)}  (版本 version {o.version})"),
            ("渠道 Channel", d.label(order_pb2.Channel, o.channel)),
            ("优先级 Priority", d.label(order_pb2.Priority, o.priority)),
            ("交期 Due", d.day(o.due_date)),
            ("创建 Created", f"{when(c, o, 'created_at')} {o.created_by}"),
            ("审批 Approved", approved),
            ("编号 ID", o.order_id),
        ]
    )
    lines.append("明细 Lines")
    lines += [
        "  " + line
        for line in d.table(
            LINE_HEADERS,
            [
                (
                    x.product_model,
                    d.quantity(x.quantity),
                    c.workshop_name(x.workshop),
                    x.colour or d.NONE,
                    x.surface_treatment or d.NONE,
                    d.price_fen(x.unit_price_fen),
                )
                for x in o.lines
            ],
            right={1, 5},
        )
    ]
    return lines


def show_order(c: Client, a, order: order_pb2.Order) -> int:
    if a.json:
        as_json(order)
    else:
        emit(order_card(c, order))
    return 0


def cmd_order_create(c: Client, a) -> int:
    lines = list(a.line)
    for line in lines:  # names as typed ("冲压一车间", "silver") -> the library's own values
        line.workshop = c.workshop_code(line.workshop)
        if line.colour:
            line.colour = match_option(line.colour, list(c.options.colours))
        if line.surface_treatment:
            line.surface_treatment = match_option(line.surface_treatment, list(c.options.surface_treatments))
    request = order_pb2.CreateOrderRequest(
        customer_id=c.resolve_customer(a.customer),
        channel=order_pb2.Channel.Value(f"CHANNEL_{a.channel.upper()}"),
        priority=order_pb2.Priority.Value(f"PRIORITY_{a.priority.upper()}"),
        due_date=a.due,
        lines=lines,
        request_id=a.request_id or "",
    )
    return show_order(c, a, c.call("order", "CreateOrder", request).order)


def cmd_orders(c: Client, a) -> int:
    request = order_pb2.ListOrdersRequest(
        state=order_pb2.OrderState.Value(f"ORDER_STATE_{a.state.upper()}")
        if a.state
        else order_pb2.ORDER_STATE_UNSPECIFIED,
        page_size=a.limit,
        page_token=a.page_token or "",
        customer_id=c.resolve_customer(a.customer) if a.customer else "",
    )
    if a.due_from:
        request.due_from.CopyFrom(a.due_from)
    if a.due_to:
        request.due_to.CopyFrom(a.due_to)
    reply = c.call("order", "ListOrders", request)
    if a.json:
        as_json(list(reply.orders))
    else:
        emit(
            d.table(
                [
                    "订单号 Order",
                    "客户 Customer",
                    "状态 State",
                    "优先级 Priority",
                    "交期 Due",
                    "版本 Ver",
                    "创建 Created",
                ],
                [
                    (
                        o.order_no,
                        c.customer_name(o.customer_id),
                        d.label(order_pb2.OrderState, o.state),
                        d.label(order_pb2.Priority, o.priority),
                        d.day(o.due_date),
                        o.version,
                        when(c, o, "created_at"),
                    )
                    for o in reply.orders
                ],
                right={5},
                limits={1: 36},
            )
        )
    more(reply.next_page_token, a.json)
    return 0


def cmd_order_show(c: Client, a) -> int:
    order_id = c.resolve_order(a.order)
    reply = c.call("order", "GetOrder", order_pb2.GetOrderRequest(order_id=order_id))
    return show_order(c, a, reply.order)


def cmd_order_approve(c: Client, a) -> int:
    request = order_pb2.ApproveOrderRequest(order_id=c.resolve_order(a.order), expected_version=a.version)
    return show_order(c, a, c.call("order", "ApproveOrder", request).order)


def cmd_work_orders(c: Client, a) -> int:
    request = production_pb2.ListWorkOrdersRequest(
        workshop=c.workshop_code(a.workshop) if a.workshop else "",
        stage=production_pb2.Stage.Value(f"STAGE_{a.stage.upper()}")
        if a.stage
        else production_pb2.STAGE_UNSPECIFIED,
        page_size=a.limit,
        page_token=a.page_token or "",
    )
    if a.order:  # an order id or number: the production service knows both
        if is_uuid(a.order):
            request.order_id = a.order
        else:
            request.order_no = a.order.upper()
    reply = c.call("production", "ListWorkOrders", request)
    if a.json:
        as_json(list(reply.work_orders))
    else:
        rows = []
        for w in reply.work_orders:
            order = c.order(w.order_id)  # its priority: the order service's to say
            priority = d.label(order_pb2.Priority, order.priority) if order else d.NONE
            first = (
                w.work_order_no,
                w.order_no,
                c.workshop_name(w.workshop),
                d.label(production_pb2.Stage, w.stage),
                priority,
                d.day(w.due_date),
            )
            for i, line in enumerate(w.lines or [production_pb2.WorkOrderLine()]):
                product = " ".join(x for x in (line.product_model, line.colour, line.surface_treatment) if x)
                shown = first if i == 0 else ("",) * len(first)
                rows.append((*shown[:3], product or d.NONE, d.quantity(line.quantity), *shown[3:]))
        emit(
            d.table(
                [
                    "工单号 Work order",
                    "订单号 Order",
                    "车间 Workshop",
                    "产品 Product",
                    "数量 Qty",
                    "阶段 Stage",
                    "优先级 Priority",
                    "交期 Due",
                ],
                rows,
                right={4},
                limits={3: 48},
            )
        )
    more(reply.next_page_token, a.json)
    return 0


def cmd_notifications(c: Client, a) -> int:
    request = notify_pb2.ListNotificationsRequest(
        reference=a.reference or "",
        recipient=a.recipient or "",
        page_size=a.limit,
        page_token=a.page_token or "",
    )
    reply = c.call("notify", "ListNotifications", request)
    if a.json:
        as_json(list(reply.notifications))
    else:
        emit(
            d.table(
                ["时间 Time", "收件人 Recipient", "角色 Role", "事由 Subject", "关于 Reference"],
                [
                    (
                        when(c, n, "created_at"),
                        n.recipient,
                        d.role_label(n.recipient_role),
                        n.subject,
                        n.reference,
                    )
                    for n in reply.notifications
                ],
                limits={3: 50},
            )
        )
    more(reply.next_page_token, a.json)
    return 0


def cmd_dead_letters(c: Client, a) -> int:
    """Talks to RabbitMQ, not gRPC, by design (the operator's tool): dead letters exist only in
    distributed mode, in queues no service API serves."""
    from services.catalog import definitions
    from services.chassis.consumer import Subscription
    from services.chassis.dead_letters import list_dead_letters, replay_dead_letters

    if not a.replay:
        letters = list_dead_letters(a.amqp, a.service, a.release, limit=a.limit)
        emit(
            d.table(
                ["message_id", "event", "attempts", "reason"],
                [(x.message_id, f"{x.exchange}/{x.routing_key}", x.attempts, x.reason) for x in letters],
                right={2},
                limits={3: 80},
            )
        )
        return 0
    definition = next(x for x in definitions() if x.name == a.service)
    target = None
    if definition.consumers_run_elsewhere and definition.external_queue:

        def target(letter):  # notify: back to the queue nameko reads
            source = letter.exchange.removesuffix(".events")
            sub = Subscription(source, letter.routing_key, lambda _e, _u: None, name="replay")
            return definition.external_queue(a.release, sub)

    replayed = replay_dead_letters(a.amqp, a.service, a.release, limit=a.limit, target_queue=target)
    print(f"replayed {replayed} dead letter(s) to {a.service}")
    return 0


def cmd_token(c: Client, a) -> int:
    print(c.metadata[0][1].removeprefix("Bearer "))
    return 0


# --- the command line ---


class Parser(argparse.ArgumentParser):
    """Every argument error is one line and exit status 2, never a traceback or a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def add_global_options(p: argparse.ArgumentParser, *, here: bool) -> None:
    """The options every command takes. On the top-level parser (`here`) they carry their
    defaults; repeated on each command with no default, so `omsctl orders --tenant autoparts`
    works and a value given before the command is not reset after it."""

    def default(value):
        return value if here else argparse.SUPPRESS

    p.add_argument(
        "--addr",
        default=default(None),
        help="one address for the whole stack, e.g. 127.0.0.1:50050 (else OMS_<SERVICE>_ADDR, OMS_ADDR)",
    )
    p.add_argument(
        "--tenant", default=default(os.environ.get("OMS_TENANT", "hardware")), help="business line (业务线)"
    )
    p.add_argument("--user", default=default(os.environ.get("OMS_USER", "admin")))
    p.add_argument(
        "--roles",
        default=default(os.environ.get("OMS_ROLES", "admin")),
        help="comma list, e.g. sales,approver",
    )
    p.add_argument(
        "--token", default=default(None), help="use this bearer token instead of minting one (OMS_TOKEN)"
    )
    p.add_argument("--timeout", type=float, default=default(10.0), help="seconds per call")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="omsctl",
        description="Zhongshu OMS command line (中枢 OMS 命令行). Order numbers and customer codes are "
        "accepted wherever an id is asked; global options may stand anywhere on the line.",
    )
    add_global_options(p, here=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="command")

    def add(name: str, fn: Callable, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        add_global_options(sp, here=False)
        sp.set_defaults(fn=fn)
        return sp

    def paging(sp: argparse.ArgumentParser, default: int) -> None:
        sp.add_argument("--limit", type=page_limit, default=default, help=f"rows per page (1-500, {default})")
        sp.add_argument("--page-token", help="where the previous page said the next one starts")
        sp.add_argument("--json", action="store_true", help="the API's answer as JSON")

    add("health", cmd_health, "health of every service (各服务健康状态)")
    sp = add("options", cmd_options, "the business line's option libraries, workshops, time zone (选项库)")
    sp.add_argument("--json", action="store_true")
    sp = add("customers", cmd_customers, "list customers (客户列表)")
    sp.add_argument("--search", help="text in the name or code, e.g. 美的 or midea")
    sp.add_argument("--code", help="exactly this customer code")
    paging(sp, 100)
    sp = add("customer-create", cmd_customer_create, "register a customer (新建客户)")
    sp.add_argument("--code", required=True, help="short code, e.g. MIDEA-SD")
    sp.add_argument("--name", required=True)
    sp.add_argument("--years", type=count, default=0, help="years of cooperation (合作年限)")
    sp.add_argument("--yearly-cny", type=count, default=0, help="yearly purchases in CNY (年采购额)")
    sp.add_argument("--owner", default="", help="sales owner (销售负责人)")
    sp.add_argument("--json", action="store_true")
    sp = add("order-create", cmd_order_create, "create an order (新建订单)")
    sp.add_argument("--customer", required=True, help="customer code (MIDEA-SD) or id")
    sp.add_argument("--due", required=True, type=parse_day, help="due date YYYY-MM-DD (交期)")
    sp.add_argument(
        "--line",
        action="append",
        required=True,
        type=parse_line,
        help=f"{LINE_FORMAT}; repeatable. Workshop, colour and surface by code or name",
    )
    sp.add_argument("--channel", default="direct", choices=["marketplace", "agent", "direct"])
    sp.add_argument("--priority", default="normal", choices=["normal", "high"])
    sp.add_argument("--request-id", help="idempotency key: the same key never creates two orders")
    sp.add_argument("--json", action="store_true")
    sp = add("orders", cmd_orders, "list orders (订单列表)")
    sp.add_argument(
        "--state",
        type=choice("ORDER_STATE_", ["pending_approval", "approved"]),
        help="pending_approval (待审批) or approved (已审批)",
    )
    sp.add_argument("--due-from", type=parse_day, help="due on or after this day")
    sp.add_argument("--due-to", type=parse_day, help="due on or before this day")
    sp.add_argument("--customer", help="customer code or id")
    paging(sp, 50)
    sp = add("order-show", cmd_order_show, "show one order (订单详情)")
    sp.add_argument("order", metavar="order", help="order number (HW-20261125-00001) or id")
    sp.add_argument("--json", action="store_true")
    sp = add("order-approve", cmd_order_approve, "approve an order (审批订单)")
    sp.add_argument("order", metavar="order", help="order number (HW-20261125-00001) or id")
    sp.add_argument(
        "--version", type=count, default=0, help="the version you reviewed (optimistic check; 0 = none)"
    )
    sp.add_argument("--json", action="store_true")
    sp = add("work-orders", cmd_work_orders, "list work orders (生产工单)")
    sp.add_argument("--order", help="only this order's: order number or id")
    sp.add_argument("--workshop", help="only this workshop's: code or name")
    sp.add_argument(
        "--stage",
        type=choice("STAGE_", ["to_schedule", "in_process", "qc_passed", "ready_to_ship", "shipped"]),
        help="to_schedule (待排产), in_process (加工中), qc_passed, ready_to_ship, shipped",
    )
    paging(sp, 100)
    sp = add("notifications", cmd_notifications, "notifications sent (通知记录)")
    sp.add_argument("--reference", help="e.g. a work order number")
    sp.add_argument("--recipient", help="e.g. 王建国")
    paging(sp, 50)
    sp = add("dead-letters", cmd_dead_letters, "list or replay a service's dead letters (死信) over RabbitMQ")
    sp.add_argument("service", choices=list(SERVICE_NAMES))
    sp.add_argument("--replay", action="store_true", help="send them back to the service, fresh attempts")
    sp.add_argument("--limit", type=page_limit, default=100)
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
    client = Client(args)
    try:
        return args.fn(client, args)
    except grpc.RpcError as exc:
        print(explain(exc), file=sys.stderr)
        return 2
    except (UsageError, NoToken) as exc:
        print(f"omsctl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except pika.exceptions.AMQPError as exc:  # dead-letters
        print(f"error: RabbitMQ: {exc!r}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `omsctl orders | head`: the reader has what it wanted
        sys.stderr.close()
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
