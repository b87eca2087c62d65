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
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

import grpc
import pika
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from oms.customer.v1 import customer_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import order_pb2
from omsctl import changes as ch
from omsctl import display as d
from omsctl import ingest, materials, notify, planning, production, users
from omsctl.client import Client, NoToken, UsageError, is_uuid, match_option
from omsctl.output import as_json, emit, more

SERVICE_NAMES = {
    "customer": "oms.customer.v1.CustomerService",
    "order": "oms.order.v1.OrderService",
    "production": "oms.production.v1.ProductionService",
    "inventory": "oms.inventory.v1.InventoryService",
    "ingest": "oms.ingest.v1.IngestService",
    "notify": "oms.notify.v1.NotifyService",
    "identity": "oms.identity.v1.IdentityService",
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


def line_number(text: str) -> int:
    value = whole_number(text, "line number")
    if not 1 <= value <= 100000:
        raise argparse.ArgumentTypeError(f"line number {text!r} is not between 1 and 100000")
    return value


def positive(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not above 0")
    return value


def parse_yuan(text: str) -> int:
    """A price as people write it, in yuan: 0.85, ¥1,234.5, 1234.50元 -> fen (85, 123450),
    exactly (no float); more than two decimals is refused rather than rounded."""
    cleaned = text.strip().lstrip("¥￥").removesuffix("元").replace(",", "").replace("，", "").strip()
    try:
        value = Decimal(cleaned) if re.fullmatch(r"\d{1,10}(\.\d{1,2})?", cleaned) else None
    except InvalidOperation:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a price in yuan, e.g. 0.85 or 1,234.50")
    return int(value * 100)


def parse_instant(text: str) -> datetime:
    """A moment as ISO 8601: 2026-11-25T10:00:00+08:00, 2026-11-25 10:00, 2026-11-25T02:00Z, or
    a day (its midnight). Without an offset it is the plant's time (the tenant's zone, e.g.
    Asia/Shanghai for hardware): the datetime comes back naive and `at` places it."""
    cleaned = text.strip()
    try:
        found = datetime.fromisoformat(cleaned.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: write ISO 8601, e.g. 2026-11-25T10:00:00+08:00 "
            "(without an offset: the plant's time)"
        ) from None
    return found


def at(moment: datetime, zone: tzinfo) -> Timestamp:
    """A moment typed (naive = in the plant's zone) as a Timestamp."""
    stamp = Timestamp()
    stamp.FromDatetime((moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC))
    return stamp


def moment_text(moment: datetime, zone: tzinfo) -> str:
    """A moment typed, as the plant reads it, to the second: "2026-11-25 10:00:00 Asia/Shanghai"."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {getattr(zone, 'key', 'UTC')}"


INSTANT_HELP = (
    "ISO 8601, e.g. 2026-11-25T10:00:00+08:00; without an offset (2026-11-25 10:00) it is the "
    "plant's time (the tenant's zone: Asia/Shanghai for hardware and autoparts)"
)

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


# emit, as_json, more: omsctl/output.py


def when(c: Client, message, field: str, seconds: bool = False) -> str:
    """A time of `message` in the plant's zone (marked UTC when the zone is unknown)."""
    text = d.local_time(getattr(message, field) if message.HasField(field) else None, c.zone, seconds)
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


def customer_card(c: Client, x: customer_pb2.Customer, withheld: bool = False) -> list[str]:
    fields: list[tuple[str, object]] = [
        ("客户 Customer", f"{x.name} ({x.code})"),
        ("状态 Status", "在用 Active" if x.active else f"停用 Inactive  {x.deactivation_reason}"),
        ("等级 Tier", d.label(customer_pb2.Tier, x.tier)),
        ("合作始于 Since", f"{d.day(x.cooperation_since)}  ({x.years_of_cooperation} 年 years)"),
        ("近12月采购 Purchases 12m", d.money(x.purchases_12m_fen, withheld)),
        ("税号 Tax ID", x.tax_id or d.NONE),
        ("销售 Sales owner", x.sales_owner or d.NONE),
        ("版本 Version", x.version),
        ("创建 Created", when(c, x, "created_at")),
        ("更新 Updated", when(c, x, "updated_at")),
        ("编号 ID", x.customer_id),
    ]
    lines = d.card(fields)
    lines.append("联系人 Contacts")
    lines += [
        "  " + row
        for row in d.table(
            ["姓名 Name", "电话 Phone", "角色 Role"],
            [(k.name, k.phone, k.role or d.NONE) for k in x.contacts],
        )
    ]
    lines.append("交货地址 Delivery addresses")
    lines += [
        "  " + row
        for row in d.table(
            ["名称 Label", "地址 Address", "收货人 Receiver", "电话 Phone", "默认 Default"],
            [
                (
                    a.label or d.NONE,
                    a.address,
                    a.receiver or d.NONE,
                    a.phone or d.NONE,
                    "✓" if a.is_default else "",
                )
                for a in x.addresses
            ],
            limits={1: 60},
        )
    ]
    return lines


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
    return show_customer(c, a, reply)


def show_customer(c: Client, a, reply) -> int:
    """A customer service answer (customer + prices_withheld) as a card, or its JSON."""
    if a.json:
        as_json(reply)
    else:
        emit(customer_card(c, reply.customer, reply.prices_withheld))
    return 0


def get_customer(c: Client, text: str) -> customer_pb2.GetCustomerResponse:
    request = customer_pb2.GetCustomerRequest(customer_id=c.resolve_customer(text))
    return c.call("customer", "GetCustomer", request)


CONTACT_FORMAT = "name:phone[:role]"
ADDRESS_FORMAT = "address[:label[:receiver[:phone]]][:default]"


def parse_contact(text: str) -> customer_pb2.Contact:
    parts = [x.strip() for x in text.replace("：", ":").split(":")]
    if not 2 <= len(parts) <= 3 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected {CONTACT_FORMAT}, e.g. 刘敏:138 0013 8000:采购 buyer"
        )
    return customer_pb2.Contact(name=parts[0], phone=parts[1], role=parts[2] if len(parts) > 2 else "")


def parse_address(text: str) -> customer_pb2.DeliveryAddress:
    """address[:label[:receiver[:phone]]][:default] — "default" (or 默认) last marks the default."""
    parts = [x.strip() for x in text.replace("：", ":").split(":")]
    is_default = len(parts) > 1 and parts[-1] in ("default", "默认")
    if is_default:
        parts = parts[:-1]
    if not 1 <= len(parts) <= 4 or not parts[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {ADDRESS_FORMAT}")
    parts += [""] * (4 - len(parts))
    return customer_pb2.DeliveryAddress(
        address=parts[0], label=parts[1], receiver=parts[2], phone=parts[3], is_default=is_default
    )


def cmd_customer_show(c: Client, a) -> int:
    return show_customer(c, a, get_customer(c, a.customer))


def cmd_customer_update(c: Client, a) -> int:
    """UpdateCustomer replaces every editable field: what is not typed is sent back as read."""
    if all(v is None for v in (a.name, a.tax_id, a.owner, a.since, a.contact, a.address)):
        raise UsageError("nothing to change: give --name, --tax-id, --owner, --since, --contact or --address")
    x = get_customer(c, a.customer).customer
    request = customer_pb2.UpdateCustomerRequest(
        customer_id=x.customer_id,
        expected_version=a.version or x.version,
        name=x.name if a.name is None else a.name,
        tax_id=x.tax_id if a.tax_id is None else a.tax_id.upper(),
        sales_owner=x.sales_owner if a.owner is None else a.owner,
        contacts=x.contacts if a.contact is None else a.contact,
        addresses=x.addresses if a.address is None else a.address,
    )
    if a.since:
        request.cooperation_since.CopyFrom(a.since)
    return show_customer(c, a, c.call("customer", "UpdateCustomer", request))


def cmd_customer_deactivate(c: Client, a) -> int:
    x = get_customer(c, a.customer).customer
    request = customer_pb2.DeactivateCustomerRequest(
        customer_id=x.customer_id, expected_version=a.version or x.version, reason=a.reason
    )
    return show_customer(c, a, c.call("customer", "DeactivateCustomer", request))


def cmd_customer_reactivate(c: Client, a) -> int:
    x = get_customer(c, a.customer).customer
    request = customer_pb2.ReactivateCustomerRequest(
        customer_id=x.customer_id, expected_version=a.version or x.version
    )
    return show_customer(c, a, c.call("customer", "ReactivateCustomer", request))


def cmd_customer_tiers(c: Client, a) -> int:
    request = customer_pb2.ListTierChangesRequest(customer_id=c.resolve_customer(a.customer))
    reply = c.call("customer", "ListTierChanges", request)
    if a.json:
        as_json(reply)
        return 0
    emit(
        d.table(
            ["时间 At", "等级 Tier", "合作年限 Years", "近12月采购 Purchases 12m", "版本 Ver", "原因 Reason"],
            [
                (
                    when(c, t, "at"),
                    f"{d.label(customer_pb2.Tier, t.from_tier)} → {d.label(customer_pb2.Tier, t.to_tier)}"
                    if t.from_tier
                    else d.label(customer_pb2.Tier, t.to_tier),
                    t.years_of_cooperation,
                    d.money(t.purchases_12m_fen, reply.prices_withheld),
                    t.version,
                    t.reason,
                )
                for t in reply.changes
            ],
            right={2, 3, 4},
        )
    )
    return 0


def price_scope(c: Client, a, request) -> None:
    """--customer CODE or --tier A: exactly one."""
    if bool(a.customer) == bool(a.tier):
        raise UsageError("name the price list: --customer CODE (its own prices) or --tier A|B|C (a tier's)")
    if a.customer:
        request.customer_id = c.resolve_customer(a.customer)
    else:
        request.tier = customer_pb2.Tier.Value(f"TIER_{a.tier.upper()}")


def price_rows(c: Client, prices, withheld: bool) -> list[tuple]:
    return [
        (
            x.product_model,
            d.money(x.unit_price_fen, withheld),
            d.day(x.valid_from),
            d.day(x.valid_to) if x.HasField("valid_to") else "不限 open",
            c.customer_name(x.customer_id) if x.customer_id else d.label(customer_pb2.Tier, x.tier),
            f"{when(c, x, 'updated_at')} {x.updated_by}",
        )
        for x in prices
    ]


PRICE_HEADERS = ["产品 Product", "单价 Price", "起 From", "止 To", "适用 For", "更新 Updated"]


def cmd_price_set(c: Client, a) -> int:
    request = customer_pb2.SetContractPriceRequest(
        product_model=a.model, unit_price_fen=a.price, valid_from=a.valid_from
    )
    price_scope(c, a, request)
    if a.valid_to:
        request.valid_to.CopyFrom(a.valid_to)
    reply = c.call("customer", "SetContractPrice", request)
    if a.json:
        as_json(reply)
    else:
        emit(d.table(PRICE_HEADERS, price_rows(c, [reply.contract_price], reply.prices_withheld), right={1}))
    return 0


def cmd_prices(c: Client, a) -> int:
    request = customer_pb2.ListContractPricesRequest(
        product_model=a.model or "", page_size=a.limit, page_token=a.page_token or ""
    )
    price_scope(c, a, request)
    reply = c.call("customer", "ListContractPrices", request)
    if a.json:
        as_json(list(reply.contract_prices))
    else:
        emit(d.table(PRICE_HEADERS, price_rows(c, reply.contract_prices, reply.prices_withheld), right={1}))
    more(reply.next_page_token, a.json)
    return 0


LINE_HEADERS = [
    "行 No",
    "产品 Product",
    "数量 Qty",
    "车间 Workshop",
    "颜色 Colour",
    "表面处理 Surface",
    "包装 Packaging",
    "单价 Price",
]


def line_rows(c: Client, lines, withheld: bool) -> list[tuple]:
    return [
        (
            x.line_no or d.NONE,
            x.product_model,
            d.quantity(x.quantity),
            " → ".join(c.workshop_name(w) for w in x.route) or c.workshop_name(x.workshop),
            x.colour or d.NONE,
            x.surface_treatment or d.NONE,
            x.packaging or d.NONE,
            d.NONE if withheld else d.price_fen(x.unit_price_fen),
        )
        for x in lines
    ]


def order_card(c: Client, o: order_pb2.Order, as_of: str = "") -> list[str]:
    approved = d.NONE
    if o.HasField("approved_at"):
        approved = f"{when(c, o, 'approved_at')} {o.approved_by}"
    fields: list[tuple[str, object]] = [
        ("订单 Order", o.order_no),
        ("客户 Customer", c.customer_label(o.customer_id)),
        ("状态 State", d.label(order_pb2.OrderState, o.state)),
        (
            "版本 Revision",
            f"{o.revision}  (自 since {when(c, o, 'revision_since')})" if o.revision else d.NONE,
        ),
        ("校验版本 Version", f"{o.version}  (for --version)"),
    ]
    if as_of:
        fields.insert(0, ("截至 As of", as_of))
    if o.pending_change_id:
        fields.append(
            (
                "待审变更 Pending change",
                f"{ch.short_id(o.pending_change_id)}  (omsctl order change show {o.order_no})",
            )
        )
    fields += [
        ("渠道 Channel", d.label(order_pb2.Channel, o.channel)),
        ("优先级 Priority", d.label(order_pb2.Priority, o.priority)),
        ("交期 Due", d.day(o.due_date)),
        ("金额 Total", d.money(o.total_fen, o.prices_withheld)),
    ]
    if o.price_review:
        fields.append(("价格偏离 Price review", "需经理审批 needs a manager's approval"))
    if o.materials_locked:
        fields.append(("原材料已锁定 Materials locked", f"规则 rule {o.lock_rule}"))
    if o.materials_short:
        fields.append(("缺料接单 Accepted short", "经理批准缺料 a manager accepted a material shortage"))
    if o.delivery_address:
        fields.append(("交货地址 Delivery address", o.delivery_address))
    fields += [(f"{f.key}", f.value) for f in o.custom_fields]
    fields += [
        ("创建 Created", f"{when(c, o, 'created_at')} {o.created_by}"),
        ("审批 Approved", approved),
        ("编号 ID", o.order_id),
    ]
    lines = d.card(fields)
    lines.append("明细 Lines")
    lines += [
        "  " + line
        for line in d.table(LINE_HEADERS, line_rows(c, o.lines, o.prices_withheld), right={0, 2, 7})
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
        draft=a.draft,
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
    request = order_pb2.GetOrderRequest(order_id=c.resolve_order(a.order))
    if a.as_of:
        request.as_of.CopyFrom(at(a.as_of, c.zone))
    order = c.call("order", "GetOrder", request).order
    if a.json:
        as_json(order)
    else:
        emit(order_card(c, order, as_of=moment_text(a.as_of, c.zone) if a.as_of else ""))
    return 0


def cmd_order_approve(c: Client, a) -> int:
    """Approve; materials are reserved as part of it (short ones refuse it, naming them, unless a
    manager accepts the shortage with --accept-shortage REASON)."""
    request = order_pb2.ApproveOrderRequest(
        order_id=c.resolve_order(a.order),
        expected_version=a.version,
        override_shortage=a.accept_shortage is not None,
        override_reason=a.accept_shortage or "",
    )
    return show_order(c, a, c.call("order", "ApproveOrder", request).order)


def cmd_order_submit(c: Client, a) -> int:
    request = order_pb2.SubmitOrderRequest(order_id=c.resolve_order(a.order), expected_version=a.version)
    return show_order(c, a, c.call("order", "SubmitOrder", request).order)


def cmd_order_cancel(c: Client, a) -> int:
    request = order_pb2.CancelOrderRequest(
        order_id=c.resolve_order(a.order), expected_version=a.version, reason=a.reason
    )
    return show_order(c, a, c.call("order", "CancelOrder", request).order)


def cmd_order_ship(c: Client, a) -> int:
    request = order_pb2.ShipOrderRequest(order_id=c.resolve_order(a.order), expected_version=a.version)
    return show_order(c, a, c.call("order", "ShipOrder", request).order)


def cmd_order_close(c: Client, a) -> int:
    request = order_pb2.CloseOrderRequest(order_id=c.resolve_order(a.order), expected_version=a.version)
    return show_order(c, a, c.call("order", "CloseOrder", request).order)


def cmd_order_reroute(c: Client, a) -> int:
    """A planner's override of one line's workshops (the tenant's routing is the default)."""
    route = [c.workshop_code(part.strip()) for part in a.route.replace("→", ",").split(",") if part.strip()]
    request = order_pb2.RerouteOrderLineRequest(
        order_id=c.resolve_order(a.order),
        expected_version=a.version,
        line_no=a.line,
        route=route,
        reason=a.reason,
    )
    return show_order(c, a, c.call("order", "RerouteOrderLine", request).order)


def states(from_state: int, to_state: int) -> str:
    """ "已审批 Approved → 变更待审 Pending change"; the first step has no state before it."""
    to = d.label(order_pb2.OrderState, to_state)
    return f"{d.label(order_pb2.OrderState, from_state)} → {to}" if from_state else to


def cmd_order_history(c: Client, a) -> int:
    request = order_pb2.ListOrderHistoryRequest(order_id=c.resolve_order(a.order))
    steps = c.call("order", "ListOrderHistory", request).transitions
    if a.json:
        as_json(list(steps))
        return 0
    emit(
        d.table(
            ["时间 Time", "动作 Action", "状态 State", "操作人 Actor", "版本 Ver", "原因 Reason"],
            [
                (
                    when(c, t, "at", seconds=True),
                    d.action_label(t.action),
                    states(t.from_state, t.to_state),
                    t.actor,
                    t.version,
                    t.reason or d.NONE,
                )
                for t in steps
            ],
            right={4},
            limits={5: 50},
        )
    )
    return 0


# --- change control ---


def change_card(c: Client, order_no: str, x: order_pb2.ChangeRequest, impact: bool = True) -> list[str]:
    """A change request with its diff and (unless `impact` is False) its impact preview, as the
    approver reads it."""
    decided = d.NONE
    if x.decided_by:
        decided = f"{when(c, x, 'decided_at')} {x.decided_by}" + (
            f"：{x.decision_note}" if x.decision_note else ""
        )
    target = "取消订单 cancel the order" if x.cancels_order else f"{x.base_revision} → {x.base_revision + 1}"
    lines = d.card(
        [
            ("变更 Change", f"{ch.short_id(x.change_id)}  ({x.change_id})"),
            ("订单 Order", order_no),
            ("状态 State", d.label(order_pb2.ChangeState, x.state)),
            ("版本 Revision", target),
            ("原因 Reason", x.reason),
            ("申请 Requested", f"{when(c, x, 'requested_at')} {x.requested_by}"),
            ("决定 Decided", decided),
        ]
    )
    lines.append("变更内容 Changes (before → after)")
    lines += ["  " + line for line in ch.diff_lines(x.diff, x.prices_withheld)]
    if impact:
        lines.append("影响评估 Impact")
        lines += ["  " + line for line in ch.impact_lines(x.impact, c.workshop_name, x.prices_withheld)]
    return lines


def order_no_of(c: Client, order_id: str, text: str) -> str:
    found = c.order(order_id)
    return found.order_no if found else text.upper()


def resolve_change(c: Client, order_id: str, text: str | None) -> str:
    """A change id, given its id or the first characters of it (as `order changes` shows them);
    none given: the order's pending change."""
    if text and is_uuid(text):
        return text
    if not text:
        order = c.call("order", "GetOrder", order_pb2.GetOrderRequest(order_id=order_id)).order
        if not order.pending_change_id:
            raise UsageError(
                f"order {order.order_no} has no pending change (omsctl order changes {order.order_no})"
            )
        return order.pending_change_id
    if not re.fullmatch(r"[0-9a-fA-F-]{4,36}", text):
        raise UsageError(
            f"{text!r} is not a change id (8 characters as `omsctl order changes` shows, or all 36)"
        )
    found = c.call("order", "ListOrderChanges", order_pb2.ListOrderChangesRequest(order_id=order_id)).changes
    matching = [x.change_id for x in found if x.change_id.startswith(text.lower())]
    if len(matching) != 1:
        order_no = order_no_of(c, order_id, order_id)
        say = "no change" if not matching else f"{len(matching)} changes"
        raise UsageError(f"order {order_no} has {say} starting {text} (omsctl order changes {order_no})")
    return matching[0]


def show_change(c: Client, a, order_no: str, reply, change: order_pb2.ChangeRequest, next_steps: bool) -> int:
    if a.json:
        as_json(reply)
        return 0
    emit(change_card(c, order_no, change))
    if next_steps and change.state == order_pb2.CHANGE_STATE_PENDING:
        short = ch.short_id(change.change_id)
        print(f"下一步 Next: omsctl order change approve {order_no} {short} [--note …]")
        print(f"             omsctl order change reject {order_no} {short} --note …")
    return 0


def cmd_order_change(c: Client, a) -> int:
    order_id = c.resolve_order(a.order)
    order = c.call("order", "GetOrder", order_pb2.GetOrderRequest(order_id=order_id)).order
    request = order_pb2.RequestOrderChangeRequest(
        order_id=order_id, expected_version=order.version, reason=a.reason
    )
    if a.cancel_order:
        if (
            a.line_edits
            or a.add_line
            or a.remove_line
            or a.priority
            or a.due is not None
            or a.address is not None
        ):
            raise UsageError("--cancel-order cancels the whole order: give no other change with it")
        request.cancel_order = True
    else:
        request.proposed.CopyFrom(
            ch.propose(
                order,
                c.options,
                edits=a.line_edits or [],
                add=a.add_line or [],
                remove=a.remove_line or [],
                due=a.due,
                priority=order_pb2.Priority.Value(f"PRIORITY_{a.priority.upper()}")
                if a.priority
                else order_pb2.PRIORITY_UNSPECIFIED,
                delivery_address=a.address,
            )
        )
    reply = c.call("order", "RequestOrderChange", request)
    return show_change(c, a, reply.order.order_no, reply, reply.change, next_steps=True)


def cmd_order_change_show(c: Client, a) -> int:
    order_id = c.resolve_order(a.order)
    change_id = resolve_change(c, order_id, a.change)
    reply = c.call(
        "order", "GetOrderChange", order_pb2.GetOrderChangeRequest(order_id=order_id, change_id=change_id)
    )
    return show_change(c, a, order_no_of(c, order_id, a.order), reply, reply.change, next_steps=True)


def cmd_order_change_decide(c: Client, a) -> int:
    """Approve or reject, against the order's version as read just now (or --version)."""
    order_id = c.resolve_order(a.order)
    change_id = resolve_change(c, order_id, a.change)
    version = (
        a.version or c.call("order", "GetOrder", order_pb2.GetOrderRequest(order_id=order_id)).order.version
    )
    if a.approve:
        reply = c.call(
            "order",
            "ApproveOrderChange",
            order_pb2.ApproveOrderChangeRequest(
                order_id=order_id, change_id=change_id, expected_version=version, note=a.note or ""
            ),
        )
    else:
        reply = c.call(
            "order",
            "RejectOrderChange",
            order_pb2.RejectOrderChangeRequest(
                order_id=order_id, change_id=change_id, expected_version=version, note=a.note
            ),
        )
    if a.json:
        as_json(reply)
        return 0
    emit(change_card(c, reply.order.order_no, reply.change, impact=False))
    print()
    emit(order_card(c, reply.order))
    return 0


def cmd_order_changes(c: Client, a) -> int:
    order_id = c.resolve_order(a.order)
    found = c.call("order", "ListOrderChanges", order_pb2.ListOrderChangesRequest(order_id=order_id)).changes
    if a.json:
        as_json(list(found))
        return 0
    emit(
        d.table(
            [
                "变更 Change",
                "状态 State",
                "版本 Revision",
                "申请 Requested",
                "决定 Decided",
                "变更项 Fields",
                "原因 Reason",
            ],
            [
                (
                    ch.short_id(x.change_id),
                    d.label(order_pb2.ChangeState, x.state),
                    "取消 cancel" if x.cancels_order else f"{x.base_revision} → {x.base_revision + 1}",
                    f"{when(c, x, 'requested_at')} {x.requested_by}",
                    f"{when(c, x, 'decided_at')} {x.decided_by}" if x.decided_by else d.NONE,
                    len(x.diff),
                    x.reason,
                )
                for x in found
            ],
            right={5},
            limits={6: 50},
        )
    )
    return 0


def revisions_of(c: Client, order_id: str) -> order_pb2.ListOrderRevisionsResponse:
    return c.call("order", "ListOrderRevisions", order_pb2.ListOrderRevisionsRequest(order_id=order_id))


def cmd_order_revisions(c: Client, a) -> int:
    reply = revisions_of(c, c.resolve_order(a.order))
    if a.json:
        as_json(reply)
        return 0
    emit(
        d.table(
            [
                "版本 Revision",
                "生效 Valid from",
                "失效 Valid to",
                "审批 Approved by",
                "变更 Change",
                "原因 Reason",
            ],
            [
                (
                    f"{r.revision} (当前 current)" if r.current else r.revision,
                    when(c, r, "valid_from", seconds=True),
                    when(c, r, "valid_to", seconds=True),
                    r.approved_by or d.NONE,
                    ch.short_id(r.change_id) or d.NONE,
                    r.reason or d.NONE,
                )
                for r in reply.revisions
            ],
            limits={5: 50},
        )
    )
    for r in reply.revisions:
        if r.diff:
            print(f"版本 Revision {r.revision} 相对 vs {r.revision - 1}:")
            emit(["  " + line for line in ch.diff_lines(r.diff, reply.prices_withheld)])
    return 0


def cmd_order_diff(c: Client, a) -> int:
    reply_id = c.resolve_order(a.order)
    reply = revisions_of(c, reply_id)
    by_number = {r.revision: r for r in reply.revisions}
    for n in (a.rev_a, a.rev_b):
        if n not in by_number:
            have = ", ".join(str(r) for r in sorted(by_number))
            raise UsageError(
                f"order {order_no_of(c, reply_id, a.order)} has no revision {n} (its revisions: {have})"
            )
    changes = ch.diff_contents(by_number[a.rev_a].content, by_number[a.rev_b].content)
    if a.json:
        as_json(changes)
        return 0
    print(f"版本 Revision {a.rev_a} → {a.rev_b}")
    emit(["  " + line for line in ch.diff_lines(changes, reply.prices_withheld)])
    return 0


def cmd_order_audit(c: Client, a) -> int:
    if bool(a.order) == bool(a.actor):
        raise UsageError("name an order or --actor NAME (one of them): omsctl order audit HW-20261125-00001")
    request = order_pb2.ListOrderAuditRequest(page_size=a.limit, page_token=a.page_token or "")
    if a.order:
        request.order_id = c.resolve_order(a.order)
    else:
        request.actor = a.actor
    if a.since:
        request.since.CopyFrom(at(a.since, c.zone))
    if a.until:
        request.until.CopyFrom(at(a.until, c.zone))
    reply = c.call("order", "ListOrderAudit", request)
    if a.json:
        as_json(list(reply.entries))
    else:
        emit(
            d.table(
                [
                    "时间 Time",
                    "订单 Order",
                    "动作 Action",
                    "操作人 Actor",
                    "状态 State",
                    "版本 Ver",
                    "原因 Reason",
                ],
                [
                    (
                        when(c, e, "at", seconds=True),
                        e.order_no,
                        d.action_label(e.action),
                        e.actor,
                        states(e.from_state, e.to_state),
                        e.version,
                        e.reason or d.NONE,
                    )
                    for e in reply.entries
                ],
                right={5},
                limits={6: 40},
            )
        )
        for e in reply.entries:
            if e.changes:
                print(f"{when(c, e, 'at', seconds=True)} {e.actor} {d.action_label(e.action)} {e.order_no}:")
                emit(["  " + line for line in ch.diff_lines(e.changes, reply.prices_withheld)])
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

    commands: Mapping[str, argparse.ArgumentParser] = {}  # the top-level parser's, by name

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


# Global options that take a value (the word after them is no command).
GLOBAL_VALUES = {"--addr", "--tenant", "--user", "--roles", "--token", "--timeout"}


def join_command_words(argv: list[str], commands) -> list[str]:
    """`order change show X` -> `order-change-show X`: the words of a command may be typed apart
    (three words before two, so `order change show` is not `order change` of an order "show")."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            break
        if word.startswith("-"):
            i += 2 if word in GLOBAL_VALUES else 1
            continue
        for n in (3, 2):
            name = "-".join(argv[i : i + n])
            if len(argv[i : i + n]) == n and name in commands:
                return [*argv[:i], name, *argv[i + n :]]
        break
    return argv


class LineAction(argparse.Action):
    """`--line N`: the field flags after it (--colour, --quantity, …) change line N."""

    def __call__(self, parser, namespace, values, option_string=None):
        edits = list(getattr(namespace, "line_edits", None) or [])
        edits.append(ch.LineEdit(line_no=int(values)))
        namespace.line_edits = edits


def line_field(field: str) -> type[argparse.Action]:
    """The action of a flag that sets `field` on the line the last --line named."""

    class LineFieldAction(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            edits = getattr(namespace, "line_edits", None)
            if not edits:
                raise argparse.ArgumentError(self, f"say which line first: --line N {option_string} {values}")
            setattr(edits[-1], field, values)

    return LineFieldAction


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


def build_parser() -> Parser:
    p = Parser(
        prog="omsctl",
        description="Zhongshu OMS command line (中枢 OMS 命令行). Order numbers and customer codes are "
        "accepted wherever an id is asked; global options may stand anywhere on the line; the words of "
        "a command may be typed apart (`omsctl order change show` is `omsctl order-change-show`).",
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

    def customer_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("customer", metavar="customer", help="customer code (MIDEA-SD) or id")

    customer_version = "the version you edited (default: as read just now)"
    sp = add("customer-show", cmd_customer_show, "one customer: tier, contacts, addresses (客户详情)")
    customer_arg(sp)
    sp.add_argument("--json", action="store_true")
    sp = add("customer-update", cmd_customer_update, "edit a customer's master data (修改客户)")
    sp.description = (
        "Edit a customer (修改客户). What you do not type is kept as read; --contact and --address, "
        "when given, replace the whole list (repeat them for several)."
    )
    customer_arg(sp)
    sp.add_argument("--name")
    sp.add_argument("--tax-id", help="统一社会信用代码, 18 letters and digits ('' to clear)")
    sp.add_argument("--owner", help="sales owner (销售负责人)")
    sp.add_argument("--since", type=parse_day, help="first day of cooperation (合作始于)")
    sp.add_argument("--contact", action="append", type=parse_contact, help=f"{CONTACT_FORMAT}; repeatable")
    sp.add_argument("--address", action="append", type=parse_address, help=f"{ADDRESS_FORMAT}; repeatable")
    sp.add_argument("--version", type=count, default=0, help=customer_version)
    sp.add_argument("--json", action="store_true")
    sp = add("customer-deactivate", cmd_customer_deactivate, "stop a customer's new orders (停用客户)")
    customer_arg(sp)
    sp.add_argument("--reason", required=True, help='why, e.g. "停止合作 cooperation ended"')
    sp.add_argument("--version", type=count, default=0, help=customer_version)
    sp.add_argument("--json", action="store_true")
    sp = add("customer-reactivate", cmd_customer_reactivate, "take a customer's orders again (启用客户)")
    customer_arg(sp)
    sp.add_argument("--version", type=count, default=0, help=customer_version)
    sp.add_argument("--json", action="store_true")
    sp = add("customer-tiers", cmd_customer_tiers, "a customer's tier changes with their reasons (等级变化)")
    customer_arg(sp)
    sp.add_argument("--json", action="store_true")
    tier = choice("TIER_", ["a", "b", "c"])
    sp = add("price-set", cmd_price_set, "set a contract price for a customer or a tier (合同价)")
    sp.add_argument("--customer", help="the customer's own price: code or id")
    sp.add_argument("--tier", type=tier, help="or the price of a tier: A, B or C")
    sp.add_argument("--model", required=True, help="product model, e.g. HB-2040 铰链 hinge")
    sp.add_argument("--price", required=True, type=parse_yuan, help="unit price in yuan, e.g. 0.85")
    sp.add_argument(
        "--from", dest="valid_from", required=True, type=parse_day, help="valid from (YYYY-MM-DD)"
    )
    sp.add_argument("--to", dest="valid_to", type=parse_day, help="valid to, inclusive (default: open-ended)")
    sp.add_argument("--json", action="store_true")
    sp = add("prices", cmd_prices, "contract prices of a customer or a tier (合同价列表)")
    sp.add_argument("--customer", help="a customer's own prices: code or id")
    sp.add_argument("--tier", type=tier, help="or a tier's: A, B or C")
    sp.add_argument("--model", help="only this product model")
    paging(sp, 100)
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
    sp.add_argument(
        "--draft", action="store_true", help="save as a draft (草稿), to send on with order submit"
    )
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
    sp.add_argument(
        "--as-of",
        type=parse_instant,
        metavar="TIME",
        help=f"the order as it stood at that moment: {INSTANT_HELP}",
    )
    sp.add_argument("--json", action="store_true")
    sp = add("order-approve", cmd_order_approve, "approve an order (审批订单)")
    sp.add_argument("order", metavar="order", help="order number (HW-20261125-00001) or id")
    sp.add_argument(
        "--version", type=count, default=0, help="the version you reviewed (optimistic check; 0 = none)"
    )
    sp.add_argument(
        "--accept-shortage",
        metavar="REASON",
        help="approve although materials are short, holding what is available (缺料接单, a manager; audited)",
    )
    sp.add_argument("--json", action="store_true")

    def order_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("order", metavar="order", help="order number (HW-20261125-00001) or id")

    version_help = "the version you reviewed (optimistic check; 0 = none)"
    for name, fn, help_ in (
        ("order-submit", cmd_order_submit, "send a draft to approval (提交草稿)"),
        ("order-ship", cmd_order_ship, "the warehouse shipped an order ready to ship (发货)"),
        ("order-close", cmd_order_close, "close a shipped order (关闭订单)"),
    ):
        sp = add(name, fn, help_)
        order_arg(sp)
        sp.add_argument("--version", type=count, default=0, help=version_help)
        sp.add_argument("--json", action="store_true")
    sp = add(
        "order-reroute",
        cmd_order_reroute,
        "change the workshops of one line of an approved order (planner; 改工艺路线)",
    )
    order_arg(sp)
    sp.add_argument("--line", type=count, required=True, help="the line's number (order show lists them)")
    sp.add_argument(
        "--route",
        required=True,
        help='workshops in sequence, by code or name: "stamping-2,welding" or "冲压二车间,焊接车间"',
    )
    sp.add_argument("--reason", required=True, help='why, e.g. "电镀线检修 plating line down"')
    sp.add_argument("--version", type=count, default=0, help=version_help)
    sp.add_argument("--json", action="store_true")
    sp = add(
        "order-cancel",
        cmd_order_cancel,
        "cancel a draft or an order waiting for approval (取消订单); an approved one: "
        "order change --cancel-order",
    )
    order_arg(sp)
    sp.add_argument("--reason", required=True, help='why, e.g. "客户取消 customer withdrew"')
    sp.add_argument("--version", type=count, default=0, help=version_help)
    sp.add_argument("--json", action="store_true")
    sp = add("order-history", cmd_order_history, "every lifecycle step of an order (订单历史)")
    order_arg(sp)
    sp.add_argument("--json", action="store_true")

    sp = add(
        "order-change",
        cmd_order_change,
        "request a change of an order (变更申请): shows the diff and the impact on the shop floor",
    )
    sp.description = (
        "Request a change (变更申请). omsctl reads the order, applies what you type and sends the "
        "whole proposed content with the version it read. Line changes: --line N, then what to "
        "set on line N (--colour, --treatment, --quantity, --packaging, --price); repeat for "
        "more lines, e.g. --line 1 --colour 金色 --quantity 6000 --line 2 --treatment 喷涂. "
        "Prints the change with its diff (before → after) and its impact preview (work orders, "
        "materials, scrap value)."
    )
    order_arg(sp)
    sp.add_argument("--reason", required=True, help='why, e.g. "客户改色 银色→金色"')
    sp.add_argument(
        "--line", type=line_number, action=LineAction, metavar="N", help="the line the flags after it change"
    )
    sp.add_argument(
        "--colour", "--color", action=line_field("colour"), metavar="COLOUR", help="new colour (name or code)"
    )
    sp.add_argument(
        "--treatment",
        action=line_field("surface_treatment"),
        metavar="TREATMENT",
        help="new surface treatment",
    )
    sp.add_argument(
        "--quantity", type=positive, action=line_field("quantity"), metavar="Q", help="new quantity"
    )
    sp.add_argument("--packaging", action=line_field("packaging"), metavar="PACKAGING", help="new packaging")
    sp.add_argument(
        "--price",
        type=parse_yuan,
        action=line_field("unit_price_fen"),
        metavar="YUAN",
        help="new unit price in yuan, e.g. 0.92",
    )
    sp.add_argument("--due", type=parse_day, help="new due date YYYY-MM-DD (交期)")
    sp.add_argument("--priority", choices=["normal", "high"], help="new priority")
    sp.add_argument("--address", help="new delivery address (交货地址)")
    sp.add_argument(
        "--add-line",
        action="append",
        type=parse_line,
        metavar="LINE",
        help=f"a new line, as order-create takes it: {LINE_FORMAT}; repeatable",
    )
    sp.add_argument(
        "--remove-line", action="append", type=line_number, metavar="N", help="remove line N; repeatable"
    )
    sp.add_argument(
        "--cancel-order",
        action="store_true",
        help="propose cancelling the whole order (its work orders are released)",
    )
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(line_edits=None)

    def change_arg(sp: argparse.ArgumentParser, pending: bool = False) -> None:
        help_ = "change id, or its first characters as `order changes` shows them (8 are plenty)"
        if pending:
            sp.add_argument("change", nargs="?", metavar="change", help=help_ + "; default: the pending one")
        else:
            sp.add_argument("change", metavar="change", help=help_)

    sp = add(
        "order-change-show",
        cmd_order_change_show,
        "show a change request with its diff and impact (变更详情)",
    )
    order_arg(sp)
    change_arg(sp, pending=True)
    sp.add_argument("--json", action="store_true")
    sp = add("order-changes", cmd_order_changes, "an order's change requests, newest first (变更记录)")
    order_arg(sp)
    sp.add_argument("--json", action="store_true")
    for name, approve, help_ in (
        ("order-change-approve", True, "approve a change: the order's next revision (批准变更)"),
        ("order-change-reject", False, "reject a change: the order goes back where it was (驳回变更)"),
    ):
        sp = add(name, cmd_order_change_decide, help_)
        order_arg(sp)
        change_arg(sp)
        sp.add_argument(
            "--note", required=not approve, help="kept with the decision" + ("" if approve else " (required)")
        )
        sp.add_argument(
            "--version", type=count, default=0, help="the order's version (default: as read just now)"
        )
        sp.add_argument("--json", action="store_true")
        sp.set_defaults(approve=approve)
    sp = add("order-revisions", cmd_order_revisions, "every revision of an order with its diff (订单版本)")
    order_arg(sp)
    sp.add_argument("--json", action="store_true")
    sp = add("order-diff", cmd_order_diff, "field-level diff between two revisions of an order (版本对比)")
    order_arg(sp)
    sp.add_argument("rev_a", metavar="rev-a", type=positive, help="revision number, e.g. 1")
    sp.add_argument("rev_b", metavar="rev-b", type=positive, help="revision number, e.g. 2")
    sp.add_argument("--json", action="store_true")
    sp = add("order-audit", cmd_order_audit, "the audit trail of an order or of one user (审计)")
    sp.add_argument("order", nargs="?", help="order number or id (or give --actor)")
    sp.add_argument("--actor", help='everything this user did, e.g. 陈丽 or "svc:production"')
    sp.add_argument("--since", type=parse_instant, help=f"from this moment on: {INSTANT_HELP}")
    sp.add_argument("--until", type=parse_instant, help="up to this moment (inclusive), written as --since")
    paging(sp, 100)

    production.register(add, paging)  # work-orders, work-order-show, stage (omsctl/production.py)
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
    planning.register(add, paging)  # batches, board, rule-dry-run: omsctl/planning.py
    materials.register(add, paging)  # stock, reservations, issue: omsctl/materials.py
    ingest.register(add, paging)  # shops, pull, review…, upload…, ingest-report: omsctl/ingest.py
    notify.register(add, paging)  # alerts, ack, deliveries: omsctl/notify.py
    users.register(add, paging)  # users, user-create, user-update, user-reset-password: omsctl/users.py
    add("token", cmd_token, "print a bearer token for the chosen tenant/user/roles")
    p.commands = sub.choices
    return p


HINTS = {
    grpc.StatusCode.ABORTED: "someone changed it since it was read: show it again (omsctl order show …) "
    "and retry with what it is now",
    grpc.StatusCode.PERMISSION_DENIED: "the roles you act with (--roles, or your token's) may not do this",
}


def explain(exc: grpc.RpcError) -> str:
    lines = [f"error: {exc.code().name}: {exc.details()}"]
    status = rpc_status.from_call(exc)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
    hint = HINTS.get(exc.code())
    if hint:
        lines.append(f"  提示 hint: {hint}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(
        join_command_words(sys.argv[1:] if argv is None else list(argv), parser.commands)
    )
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
