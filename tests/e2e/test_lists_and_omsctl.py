"""Contracts ready for an HTTP edge, and omsctl as plant staff use it, through a running embedded
stack (`python -m services`, its own process and port):

* every list RPC filters and pages by keyset: two pages, nothing twice, nothing missed, and a
  token the service did not write is INVALID_ARGUMENT naming page_token;
* GetTenantOptions answers the caller's option libraries, workshop names and time zone;
* dates are google.type.Date checked as real days, naming the field;
* omsctl, run as a process, shows labels, names and plant times, and takes order numbers and
  customer codes wherever an id is asked.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.type import date_pb2

from oms.customer.v1 import customer_pb2
from oms.ingest.v1 import ingest_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from tests.e2e import scenario
from tests.e2e.test_embedded import ROOT
from tests.e2e.test_embedded import embedded as embedded  # the same stack fixture, started for this module
from tests.e2e.test_embedded import marketplace as marketplace  # the simulator it pulls from

pytestmark = pytest.mark.e2e
TIMEOUT_S = 20


@pytest.fixture(scope="module")
def api(embedded) -> scenario.Api:
    return embedded[0]


@pytest.fixture(scope="module")
def md():
    return scenario.Caller("hardware").metadata()


def refused_fields(call, request, metadata) -> set[str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata, timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return scenario.bad_request_fields(caught.value)


def all_pages(call, request, field: str, metadata) -> list[list]:
    """Every page of a list, following next_page_token."""
    pages = []
    while True:
        reply = call(request, metadata=metadata, timeout=TIMEOUT_S)
        pages.append(list(getattr(reply, field)))
        if not reply.next_page_token:
            return pages
        request.page_token = reply.next_page_token
        assert len(pages) < 100, "paging does not end"


def new_customer(api, md, tag: str, n: int = 0) -> customer_pb2.Customer:
    return api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"PG-{tag}-{n}", name=f"分页客户 Paging {tag.lower()} {n}", sales_owner="陈丽"
        ),
        metadata=md,
        timeout=TIMEOUT_S,
    ).customer


def new_order(api, md, customer_id: str, days: int = 20, lines=None) -> order_pb2.Order:
    return api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer_id,
            channel=order_pb2.CHANNEL_DIRECT,
            priority=order_pb2.PRIORITY_HIGH,
            due_date=scenario.due(days),
            lines=lines or [scenario.line(qty=100)],
        ),
        metadata=md,
        timeout=TIMEOUT_S,
    ).order


# --- GetTenantOptions ---


def test_the_option_libraries_workshops_and_time_zone_of_the_callers_tenant(api, md):
    options = api.orders.GetTenantOptions(order_pb2.GetTenantOptionsRequest(), metadata=md).options

    assert (options.tenant_id, options.time_zone, options.number_prefix) == (
        "hardware",
        "Asia/Shanghai",
        "HW",
    )
    assert "银色 silver" in options.colours and "电镀 plating" in options.surface_treatments
    assert {w.code: w.name for w in options.workshops} == {
        "stamping-1": "冲压一车间 Stamping 1",
        "plating": "电镀车间 Plating",
        "assembly": "装配车间 Assembly",
    }
    other = api.orders.GetTenantOptions(
        order_pb2.GetTenantOptionsRequest(), metadata=scenario.Caller("autoparts").metadata()
    ).options
    assert other.tenant_id == "autoparts" and {w.code for w in other.workshops} != {
        w.code for w in options.workshops
    }


def test_tenant_options_are_for_staff_and_portal_accounts_not_for_a_token_without_roles(api):
    portal = scenario.Caller("hardware", "portal-user", ("customer",), customer_id=str(uuid.uuid4()))
    assert api.orders.GetTenantOptions(
        order_pb2.GetTenantOptionsRequest(), metadata=portal.metadata()
    ).options

    with pytest.raises(grpc.RpcError) as caught:
        api.orders.GetTenantOptions(
            order_pb2.GetTenantOptionsRequest(), metadata=scenario.Caller("hardware", roles=()).metadata()
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


# --- paging and filters ---


def test_customers_page_by_code_with_nothing_twice_and_nothing_missed(api, md):
    tag = uuid.uuid4().hex[:6].upper()
    made = {new_customer(api, md, tag, n).code for n in range(5)}

    # found by a word of the name, in lower case, across two pages
    pages = all_pages(
        api.customers.ListCustomers,
        customer_pb2.ListCustomersRequest(query=tag.lower(), page_size=3),
        "customers",
        md,
    )
    assert [len(p) for p in pages] == [3, 2]
    codes = [c.code for page in pages for c in page]
    assert codes == sorted(made) and len(set(codes)) == 5

    [exact] = api.customers.ListCustomers(
        customer_pb2.ListCustomersRequest(code=f"PG-{tag}-3"), metadata=md
    ).customers
    assert exact.name == f"分页客户 Paging {tag.lower()} 3"
    # the search text is matched literally: % and _ are no wildcards
    for literal in ("%", "_", f"PG{tag}"):
        assert not api.customers.ListCustomers(
            customer_pb2.ListCustomersRequest(query=literal), metadata=md
        ).customers


def test_orders_page_by_due_date_and_filter_by_customer_number_and_due_window(api, md):
    customer = new_customer(api, md, uuid.uuid4().hex[:6].upper())
    orders = [new_order(api, md, customer.customer_id, days) for days in (30, 10, 20)]

    pages = all_pages(
        api.orders.ListOrders,
        order_pb2.ListOrdersRequest(customer_id=customer.customer_id, page_size=2),
        "orders",
        md,
    )
    assert [len(p) for p in pages] == [2, 1]
    listed = [o.order_no for page in pages for o in page]
    by_due = sorted(orders, key=lambda o: (o.due_date.year, o.due_date.month, o.due_date.day))
    assert listed == [o.order_no for o in by_due]

    [one] = api.orders.ListOrders(
        order_pb2.ListOrdersRequest(order_no=orders[1].order_no), metadata=md
    ).orders
    assert one.order_id == orders[1].order_id
    window = api.orders.ListOrders(
        order_pb2.ListOrdersRequest(
            customer_id=customer.customer_id, due_from=scenario.due(15), due_to=scenario.due(25)
        ),
        metadata=md,
    ).orders
    assert [o.order_no for o in window] == [orders[2].order_no]


def test_work_orders_and_notifications_page_and_filter(api, md):
    customer = new_customer(api, md, uuid.uuid4().hex[:6].upper())
    order = new_order(
        api,
        md,
        customer.customer_id,
        lines=[
            scenario.line(qty=100),
            # routed (tenants/hardware.toml): HB-2040 stamping-1 → plating → assembly, the others stamping-1
            scenario.line("SP-08 弹片 spring clip", 100, "", "", ""),
            scenario.line("BK-310 支架 bracket", 50, "", "", ""),
        ],
    )
    api.orders.ApproveOrder(order_pb2.ApproveOrderRequest(order_id=order.order_id), metadata=md)
    deadline = time.monotonic() + 10
    while True:
        made = api.production.ListWorkOrders(
            production_pb2.ListWorkOrdersRequest(order_id=order.order_id), metadata=md
        ).work_orders
        if len(made) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(made) == 3

    pages = all_pages(
        api.production.ListWorkOrders,
        production_pb2.ListWorkOrdersRequest(order_no=order.order_no, page_size=2),
        "work_orders",
        md,
    )
    assert [len(p) for p in pages] == [2, 1]
    numbers = [w.work_order_no for page in pages for w in page]
    assert numbers == sorted(w.work_order_no for w in made)  # created together: by number
    [plating] = api.production.ListWorkOrders(
        production_pb2.ListWorkOrdersRequest(
            order_id=order.order_id, workshop="plating", stage=production_pb2.STAGE_TO_SCHEDULE
        ),
        metadata=md,
    ).work_orders
    assert [x.product_model for x in plating.lines] == ["HB-2040 铰链 hinge"]
    assert not api.production.ListWorkOrders(
        production_pb2.ListWorkOrdersRequest(order_id=order.order_id, stage=production_pb2.STAGE_SHIPPED),
        metadata=md,
    ).work_orders
    # the whole tenant, newest first, page by page, agrees with one big page
    everything = api.production.ListWorkOrders(
        production_pb2.ListWorkOrdersRequest(page_size=500), metadata=md
    ).work_orders
    paged = all_pages(
        api.production.ListWorkOrders, production_pb2.ListWorkOrdersRequest(page_size=2), "work_orders", md
    )
    assert [w.work_order_id for p in paged for w in p] == [w.work_order_id for w in everything]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # each lead told of each work order (asynchronously)
        told = {
            w.work_order_no: api.notify.ListNotifications(
                notify_pb2.ListNotificationsRequest(reference=w.work_order_no), metadata=md
            ).notifications
            for w in made
        }
        if all(told.values()):
            break
        time.sleep(0.05)
    notes = api.notify.ListNotifications(
        notify_pb2.ListNotificationsRequest(reference=plating.work_order_no, recipient="李秀英"), metadata=md
    ).notifications
    assert [n.recipient for n in notes] == ["李秀英"]
    assert not api.notify.ListNotifications(
        notify_pb2.ListNotificationsRequest(reference=plating.work_order_no, recipient="王建国"), metadata=md
    ).notifications
    one_page = api.notify.ListNotifications(
        notify_pb2.ListNotificationsRequest(page_size=500), metadata=md
    ).notifications
    paged = all_pages(
        api.notify.ListNotifications, notify_pb2.ListNotificationsRequest(page_size=1), "notifications", md
    )
    assert len(paged) == len(one_page) >= 3 and all(len(p) == 1 for p in paged)
    assert [n.notification_id for p in paged for n in p] == [n.notification_id for n in one_page]


def test_the_delivery_log_pages_filters_and_omsctl_shows_every_try(api, md, channels):
    """Each lead's notice of a new work order goes to the tenant's default channel (the webhook,
    which fails every message's first try): the log shows the failed try and the sent one, by
    work order, order and recipient, page by page; omsctl shows the same."""
    customer = new_customer(api, md, uuid.uuid4().hex[:6].upper())
    order = new_order(
        api, md, customer.customer_id, lines=[scenario.line("SP-08 弹片 spring clip", 80, "", "", "")]
    )
    api.orders.ApproveOrder(order_pb2.ApproveOrderRequest(order_id=order.order_id), metadata=md)

    def sent() -> list:
        found = api.notify.ListDeliveries(
            notify_pb2.ListDeliveriesRequest(order_no=order.order_no), metadata=md
        )
        done = [x for x in found.deliveries if x.state == notify_pb2.DELIVERY_STATE_SENT]
        return done if done and len(done) == len(found.deliveries) else []

    deadline = time.monotonic() + 30
    while not sent() and time.monotonic() < deadline:
        time.sleep(0.2)
    [delivery] = sent()  # one work order (stamping-1), its lead told on the default channel
    assert (delivery.recipient, delivery.channel, delivery.kind, delivery.urgent) == (
        "王建国",
        "plant_webhook",
        "work_order_created",
        False,
    )
    assert [(t.attempt, t.outcome, t.status) for t in delivery.tries] == [
        (1, "failed", 503),
        (2, "sent", 200),
    ]
    [hooked] = channels.webhook_messages(delivery.reference)
    assert (hooked["message_id"], hooked["recipient"]["name"]) == (delivery.notification_id, "王建国")
    by_reference = api.notify.ListDeliveries(
        notify_pb2.ListDeliveriesRequest(reference=delivery.reference, recipient="王建国"), metadata=md
    ).deliveries
    assert [x.delivery_id for x in by_reference] == [delivery.delivery_id]
    assert not api.notify.ListDeliveries(
        notify_pb2.ListDeliveriesRequest(order_no=order.order_no, recipient="李秀英"), metadata=md
    ).deliveries

    one_page = api.notify.ListDeliveries(
        notify_pb2.ListDeliveriesRequest(page_size=500), metadata=md
    ).deliveries
    paged = all_pages(
        api.notify.ListDeliveries, notify_pb2.ListDeliveriesRequest(page_size=1), "deliveries", md
    )
    assert [x.delivery_id for p in paged for x in p] == [x.delivery_id for x in one_page]
    assert refused_fields(api.notify.ListDeliveries, notify_pb2.ListDeliveriesRequest(state=99), md) == {
        "state"
    }

    shown = omsctl(
        "--addr",
        api.addresses["notify"],
        "--tenant",
        "hardware",
        "deliveries",
        "--reference",
        delivery.reference,
        "--tries",
    ).stdout
    assert "王建国" in shown and "plant_webhook" in shown and "已送达 sent" in shown
    assert "#1" in shown and "failed HTTP/SMTP 503" in shown and "#2" in shown


def forged_tokens() -> list[str]:
    b64 = base64.urlsafe_b64encode
    return [
        b64(b"2026-12-01|\x00' OR 1=1").decode(),  # base64, as the pattern asks; nonsense inside
        b64(b"MIDEA-SD|x|y").decode(),
        b64(b"\xff\xfe\xfd").decode(),
        "not a token!",  # refused by the contract's pattern before any decoding
    ]


@pytest.mark.parametrize("token", forged_tokens())
def test_a_page_token_the_service_did_not_write_is_invalid_argument_on_page_token(api, md, token):
    for call, request in (
        (api.customers.ListCustomers, customer_pb2.ListCustomersRequest(page_token=token)),
        (api.orders.ListOrders, order_pb2.ListOrdersRequest(page_token=token)),
        (api.production.ListWorkOrders, production_pb2.ListWorkOrdersRequest(page_token=token)),
        (api.notify.ListNotifications, notify_pb2.ListNotificationsRequest(page_token=token)),
        (api.notify.ListDeliveries, notify_pb2.ListDeliveriesRequest(page_token=token)),
    ):
        assert refused_fields(call, request, md) == {"page_token"}, type(request).__name__


def test_a_token_from_one_list_is_refused_by_another(api, md):
    tag = uuid.uuid4().hex[:6].upper()
    for n in range(2):
        new_customer(api, md, tag, n)
    token = api.customers.ListCustomers(
        customer_pb2.ListCustomersRequest(query=tag, page_size=1), metadata=md
    ).next_page_token
    assert token

    assert refused_fields(api.orders.ListOrders, order_pb2.ListOrdersRequest(page_token=token), md) == {
        "page_token"
    }


# --- dates ---


def test_dates_must_be_real_days_and_are_named_when_not(api, md):
    no_day = date_pb2.Date(year=2026, month=2, day=30)
    listing = order_pb2.ListOrdersRequest(due_from=no_day, due_to=date_pb2.Date(year=2026, month=13, day=1))
    assert refused_fields(api.orders.ListOrders, listing, md) == {"due_from", "due_to"}

    phone = ingest_pb2.SubmitPhoneOrderRequest(
        idempotency_key=f"phone-{uuid.uuid4()}", customer_id=str(uuid.uuid4()), lines=[scenario.line()]
    )
    assert refused_fields(api.ingest.SubmitPhoneOrder, phone, md) == {"due_date"}  # required
    phone.due_date.CopyFrom(date_pb2.Date(year=0, month=12, day=20))  # a date without a year
    assert refused_fields(api.ingest.SubmitPhoneOrder, phone, md) == {"due_date"}


def test_a_leap_day_is_a_due_date(api, md):
    customer = new_customer(api, md, uuid.uuid4().hex[:6].upper())
    leap = date_pb2.Date(year=2028, month=2, day=29)
    order = api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer.customer_id,
            channel=order_pb2.CHANNEL_DIRECT,
            due_date=leap,
            lines=[scenario.line(qty=10)],
        ),
        metadata=md,
    ).order

    assert order.due_date == leap
    [listed] = api.orders.ListOrders(
        order_pb2.ListOrdersRequest(customer_id=customer.customer_id, due_from=leap, due_to=leap), metadata=md
    ).orders
    assert listed.due_date == leap


# --- omsctl as a process ---


# A due date that stays in the future whenever the tests run (the plant's "today" + 25 days).
DUE = (date.today() + timedelta(days=25)).isoformat()


def omsctl(*argv: str, addr: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("OMS_") and k.endswith("_ADDR"))}
    if addr:
        env["OMS_ADDR"] = addr
    done = subprocess.run(
        [sys.executable, "-m", "omsctl", *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_omsctl_lists_a_tenants_option_libraries(api):
    out = omsctl("--addr", api.addresses["order"], "options").stdout

    assert "Asia/Shanghai" in out and "冲压一车间 Stamping 1" in out and "银色 silver" in out


def test_omsctl_from_order_to_work_orders_by_number_and_code_as_plant_staff_read_them(api, md):
    addr = api.addresses["order"]
    tag = uuid.uuid4().hex[:6].upper()
    customer = new_customer(api, md, tag)

    created = omsctl(
        "order-create",
        "--customer",
        customer.code.lower(),  # a code, as typed
        "--due",
        "2026/12/20",
        "--line",
        "HB-2040 铰链 hinge:5,000:冲压一车间:silver:电镀",
        "--priority",
        "high",
        "--tenant",
        "hardware",  # after the command
        addr=addr,  # OMS_ADDR: one variable for the whole stack
    ).stdout
    [order_no] = [w for w in created.split() if w.startswith("HW-")]
    [order] = api.orders.ListOrders(order_pb2.ListOrdersRequest(order_no=order_no), metadata=md).orders
    assert order.customer_id == customer.customer_id
    assert order.due_date == date_pb2.Date(year=2026, month=12, day=20)
    assert (order.lines[0].workshop, order.lines[0].colour) == ("stamping-1", "银色 silver")

    listed = omsctl("orders", "--customer", customer.code, addr=addr).stdout
    created_at = order.created_at.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    [row] = [line for line in listed.splitlines() if order_no in line]
    assert customer.name in row and "待审批 Pending approval" in row and "加急 High" in row
    assert f"{created_at:%Y-%m-%d %H:%M}" in row  # the plant's time, to the minute
    assert "ORDER_STATE" not in listed and customer.customer_id not in listed

    shown = omsctl("order-show", order_no, addr=addr).stdout
    assert order.order_id in shown and "冲压一车间 Stamping 1" in shown and "5,000" in shown

    approved = omsctl("order-approve", order_no.lower(), "--version", "1", addr=addr).stdout
    assert "已审批 Approved" in approved

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        work = omsctl("--addr", addr, "work-orders", "--order", order_no).stdout
        if f"WO-{order_no}-01" in work:
            break
        time.sleep(0.1)
    [row] = [line for line in work.splitlines() if f"WO-{order_no}-01" in line]
    for shown in ("冲压一车间 Stamping 1", "HB-2040 铰链 hinge", "5,000", "待排产 To schedule", "加急 High"):
        assert shown in row, work


def test_omsctl_tenant_anywhere_and_mistakes_as_one_line(api):
    addr = api.addresses["customer"]

    assert "GEELY-NB" in omsctl("customers", "--tenant", "autoparts", "--addr", addr).stdout
    assert "GEELY-NB" not in omsctl("customers", "--addr", addr).stdout

    for argv, says in (
        (["order-create", "--customer", "MIDEA-SD", "--due", "2026-12-20", "--line", "HB:lots:w"], "lots"),
        (["order-show", "HW-19990101-00001"], "no order HW-19990101-00001"),
        (["order-create", "--customer", "NOBODY", "--due", "2026-12-20", "--line", "HB:5:w"], "NOBODY"),
        (["orders", "--page-token", base64.urlsafe_b64encode(b"x|y").decode()], "page_token"),
    ):
        done = omsctl(*argv, addr=addr, check=False)
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr and says in done.stderr, done.stderr


def test_the_commands_make_run_prints_work_on_the_port_it_chose(embedded):
    """The banner of `python -m services` (what `make run` shows) names the port it listens on
    (a free one here, not the default): each omsctl line it prints runs as printed."""
    _api, data = embedded
    banner = (data / "stack.log").read_text(errors="replace")
    commands = [
        line.split("#")[0].split()
        for line in banner.splitlines()
        if line.strip().startswith(".venv/bin/omsctl")
    ]
    assert len(commands) >= 3, banner
    env = {k: v for k, v in os.environ.items() if not (k.startswith("OMS_") and k.endswith("ADDR"))}
    env["OMS_ADDR"] = "127.0.0.1:9"  # a stale address in the shell must not matter
    for argv in commands:
        done = subprocess.run(
            [str(ROOT / argv[0]), *argv[1:]], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (argv, done.stderr)


# --- change control with omsctl (issue 15) ---

SALES = ("--user", "陈丽", "--roles", "sales")
APPROVER = ("--user", "李经理", "--roles", "approver")


def cells(row: str) -> list[str]:
    """The cells of a table row (columns are at least two spaces apart)."""
    return re.split(r"\s{2,}", row.strip())


def rows_of(out: str, first_cell: str) -> list[list[str]]:
    return [cells(line) for line in out.splitlines() if cells(line)[0] == first_cell]


def test_omsctl_walks_a_colour_change_from_request_to_revisions_audit_and_as_of(api, md):
    addr = api.addresses["order"]
    customer = new_customer(api, md, uuid.uuid4().hex[:6].upper())
    created = omsctl(
        "order", "create", "--customer", customer.code, "--due", DUE,
        "--line", "HB-2040 铰链 hinge:5,000:冲压一车间:silver:电镀:85",
        "--line", "BK-310 支架 bracket:2,000:冲压一车间:本色:无:120",
        *SALES, addr=addr,
    ).stdout  # fmt: skip
    [order_no] = [w for w in created.split() if w.startswith("HW-")]
    assert "金额 Total        ¥6,650.00" in created.splitlines()  # 5000 × ¥0.85 + 2000 × ¥1.20
    omsctl("order", "approve", order_no, "--version", "1", *APPROVER, addr=addr)
    [order] = api.orders.ListOrders(order_pb2.ListOrdersRequest(order_no=order_no), metadata=md).orders
    deadline = time.monotonic() + 15
    while len(api.production.ListWorkOrders(
        production_pb2.ListWorkOrdersRequest(order_id=order.order_id), metadata=md
    ).work_orders) < 3:  # fmt: skip
        assert time.monotonic() < deadline, "no work orders 15 s after approval"
        time.sleep(0.1)
    time.sleep(1.1)  # the moment below (to the second) falls after the approval ...
    as_of = datetime.now(ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds")  # "…T10:00:00+08:00"
    time.sleep(1.1)  # ... and before the change

    asked = omsctl(
        "order", "change", order_no, "--line", "1", "--colour", "金色", "--reason", "客户改色 银色→金色",
        *SALES, addr=addr,
    ).stdout  # fmt: skip
    lines = asked.splitlines()
    [change_row] = [line for line in lines if line.startswith("变更 Change")]
    short = change_row.split()[2]
    assert re.fullmatch(r"[0-9a-f]{8}", short), change_row
    assert lines[1:5] == [
        f"订单 Order      {order_no}",
        "状态 State      待审 Pending",
        "版本 Revision   1 → 2",
        "原因 Reason     客户改色 银色→金色",
    ]
    at = lines.index("变更内容 Changes (before → after)")
    assert lines[at + 1 : at + 3] == [
        "  第1行 line 1 颜色 colour: 银色 silver → 金色 gold",
        "影响评估 Impact",
    ]
    # One work order per routed step: stamping makes both models, plating and assembly the hinge.
    assert rows_of(asked, f"WO-{order_no}-01") == [
        [
            f"WO-{order_no}-01",
            "冲压一车间 Stamping 1",
            "待排产 To schedule",
            "HB-2040 铰链 hinge、BK-310 支架 bracket",
            "7,000",
            "是 yes",
        ]
    ]
    for number, workshop in (("02", "电镀车间 Plating"), ("03", "装配车间 Assembly")):
        assert rows_of(asked, f"WO-{order_no}-{number}") == [
            [
                f"WO-{order_no}-{number}",
                workshop,
                "待排产 To schedule",
                "HB-2040 铰链 hinge",
                "5,000",
                "是 yes",
            ]
        ]
    assert rows_of(asked, "镀银液 silver plating solution")[0][:4] == [
        "镀银液 silver plating solution",
        "L",
        "10",
        "0",
    ]
    assert rows_of(asked, "镀金液 gold plating solution")[0][:4] == [
        "镀金液 gold plating solution",
        "L",
        "0",
        "10",
    ]
    assert "  报废价值 Scrap value: ¥0.00" in lines  # nothing made yet
    assert lines[-2].startswith(f"下一步 Next: omsctl order change approve {order_no} {short}")

    listed = omsctl("order", "changes", order_no, addr=addr).stdout
    assert [row[:3] for row in rows_of(listed, short)] == [[short, "待审 Pending", "1 → 2"]]

    decided = omsctl(
        "order", "change", "approve", order_no, short, "--note", "同意", *APPROVER, addr=addr
    ).stdout
    assert "状态 State      已批准 Approved" in decided.splitlines()
    assert re.search(r"^决定 Decided    \d{4}-\d\d-\d\d \d\d:\d\d 李经理：同意$", decided, re.M), decided
    assert re.search(r"^版本 Revision +2  \(自 since ", decided, re.M), decided

    revisions = omsctl("order-revisions", order_no, addr=addr).stdout  # the joined name works as well
    assert [(r[0], r[3]) for r in rows_of(revisions, "1")] == [("1", "—")]
    [current] = rows_of(revisions, "2 (当前 current)")
    assert (current[2], current[3], current[4], current[5]) == ("—", "李经理", short, "客户改色 银色→金色")
    assert revisions.splitlines()[-2:] == [
        "版本 Revision 2 相对 vs 1:",
        "  第1行 line 1 颜色 colour: 银色 silver → 金色 gold",
    ]
    assert omsctl("order", "diff", order_no, "1", "2", addr=addr).stdout.splitlines() == [
        "版本 Revision 1 → 2",
        "  第1行 line 1 颜色 colour: 银色 silver → 金色 gold",
    ]

    then = omsctl("order", "show", order_no, "--as-of", as_of, addr=addr).stdout
    card = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in then.splitlines()[:6])
    assert card["截至 As of"] == f"{as_of[:10]} {as_of[11:19]} Asia/Shanghai"
    assert card["状态 State"] == "已审批 Approved" and card["版本 Revision"].startswith("1  (自 since ")
    assert rows_of(then, "1")[0][4] == "银色 silver"
    assert rows_of(omsctl("order", "show", order_no, addr=addr).stdout, "1")[0][4] == "金色 gold"

    audit = omsctl("order", "audit", order_no, addr=addr).stdout
    steps = [cells(line)[2:4] for line in audit.splitlines() if order_no in line and not line.endswith(":")]
    assert steps == [
        ["创建 Create", "陈丽"],
        ["审批 Approve", "李经理"],
        ["申请变更 Request change", "陈丽"],
        ["批准变更 Approve change", "李经理"],
    ]
    assert audit.splitlines()[-1] == "  第1行 line 1 颜色 colour: 银色 silver → 金色 gold"
    mine = omsctl("order", "audit", "--actor", "李经理", "--since", as_of, addr=addr).stdout
    assert [
        cells(line)[1:4] for line in mine.splitlines() if order_no in line and not line.endswith(":")
    ] == [[order_no, "批准变更 Approve change", "李经理"]]


def test_omsctl_change_mistakes_are_one_line_and_change_nothing(api, md):
    addr = api.addresses["order"]
    order = new_order(api, md, new_customer(api, md, uuid.uuid4().hex[:6].upper()).customer_id)
    for argv, says in (
        (["--line", "3", "--colour", "金色"], f"order {order.order_no} has no line 3 (its lines: 1;"),
        (["--remove-line", "1"], "a change cannot remove every line"),
        (["--line", "1", "--colour", "紫色"], "proposed.lines[0].colour: '紫色' is not in"),  # the service's
    ):
        done = omsctl("order", "change", order.order_no, *argv, "--reason", "r", addr=addr, check=False)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert api.orders.GetOrder(
        order_pb2.GetOrderRequest(order_id=order.order_id), metadata=md
    ).order.version == order.version  # fmt: skip


def test_omsctl_edits_deactivates_and_prices_a_customer(api, md):
    addr = api.addresses["customer"]
    customer = new_customer(api, md, uuid.uuid4().hex[:6].upper())

    updated = omsctl(
        "customer", "update", customer.code, "--tax-id", "91440606MA4UJ2C35X",
        "--contact", "刘敏:138 0013 8000:采购 buyer",
        "--address", "广东省佛山市顺德区北滘镇美的大道6号:顺德总部:default",
        *SALES, addr=addr,
    ).stdout  # fmt: skip
    assert "税号 Tax ID               91440606MA4UJ2C35X" in updated.splitlines()
    assert rows_of(updated, "刘敏") == [["刘敏", "138 0013 8000", "采购 buyer"]]
    assert rows_of(updated, "顺德总部") == [
        ["顺德总部", "广东省佛山市顺德区北滘镇美的大道6号", "—", "—", "✓"]
    ]
    assert "版本 Version              2" in updated.splitlines()

    off = omsctl("customer", "deactivate", customer.code, "--reason", "停止合作", *SALES, addr=addr).stdout
    assert "状态 Status               停用 Inactive  停止合作" in off.splitlines()
    refused = omsctl(
        "order", "create", "--customer", customer.code, "--due", DUE, "--line", "HB:5:stamping-1",
        addr=addr, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "FAILED_PRECONDITION" in refused.stderr, refused.stderr
    on = omsctl("customer", "reactivate", customer.code, *SALES, addr=addr).stdout
    assert "状态 Status               在用 Active" in on.splitlines()

    # the assessment at registration is listed, with its reason
    tiers = omsctl("customer", "tiers", customer.code, addr=addr).stdout.splitlines()
    assert len(tiers) == 2 and cells(tiers[1])[1] == "C级 Tier C" and "登记" in tiers[1]

    omsctl(
        "price", "set", "--customer", customer.code, "--model", "HB-2040 铰链 hinge", "--price", "0.82",
        "--from", "2026-01-01", "--to", "2026-12-31", "--user", "刘经理", "--roles", "manager", addr=addr,
    )  # fmt: skip
    [row] = rows_of(omsctl("prices", "--customer", customer.code, addr=addr).stdout, "HB-2040 铰链 hinge")
    assert row[:5] == ["HB-2040 铰链 hinge", "¥0.82", "2026-01-01", "2026-12-31", customer.name]
    hidden = omsctl("prices", "--customer", customer.code, "--roles", "planner", addr=addr).stdout
    assert rows_of(hidden, "HB-2040 铰链 hinge")[0][1] == "—（价格不可见 prices withheld）"


def test_omsctl_reroutes_a_line_as_a_planner_and_the_audit_shows_it(api, md):
    addr = api.addresses["order"]
    order = new_order(api, md, new_customer(api, md, uuid.uuid4().hex[:6].upper()).customer_id)
    omsctl("order", "approve", order.order_no, "--version", str(order.version), *APPROVER, addr=addr)
    done = omsctl(
        "order", "reroute", order.order_no, "--line", "1", "--route", "冲压一车间,电镀车间",
        "--reason", "加镀层 plating added", "--user", "王计划", "--roles", "planner", addr=addr,
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    [again] = api.orders.ListOrders(order_pb2.ListOrdersRequest(order_no=order.order_no), metadata=md).orders
    assert list(again.lines[0].route) == ["stamping-1", "plating"]
    audit = omsctl("order", "audit", order.order_no, addr=addr).stdout
    assert "王计划" in audit and "stamping-1 → plating" in audit, audit
    refused = omsctl(
        "order", "reroute", order.order_no, "--line", "1", "--route", "stamping-1", "--reason", "x",
        "--roles", "sales", addr=addr, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr, refused.stderr


def test_omsctl_shows_stock_an_orders_reservation_and_issues_it(api, md):
    addr = api.addresses["order"]
    customer = new_customer(api, md, uuid.uuid4().hex[:6].upper())
    created = omsctl(
        "order", "create", "--customer", customer.code, "--due", DUE,
        "--line", "SP-08 弹片 spring clip:10,000::本色:无:5",
        *SALES, addr=addr,
    ).stdout  # fmt: skip
    [order_no] = [w for w in created.split() if w.startswith("HW-")]
    steel = "65Mn 弹簧钢带 spring steel strip"
    before = {r[0]: r for r in (cells(x) for x in omsctl("stock", addr=addr).stdout.splitlines()[1:])}
    on_hand = float(before[steel][2].replace(",", ""))
    omsctl("order", "approve", order_no, *APPROVER, addr=addr)

    card = omsctl("reservations", "--order", order_no, addr=addr).stdout
    assert re.search(r"^状态 State +已预留 Held$", card, re.M), card
    assert rows_of(card, steel) == [[steel, "kg", "100", "100", "0", "0"]]  # 10,000 × 0.01 kg
    assert order_no in omsctl("reservations", "--material", steel, addr=addr).stdout

    done = omsctl("issue", order_no, "--user", "仓库老张", "--roles", "warehouse", addr=addr).stdout
    assert re.search(r"^状态 State +已领料 Issued$", done, re.M), done
    assert rows_of(done, steel) == [[steel, "kg", "100", "0", "100", "0"]]
    after = {r[0]: r for r in (cells(x) for x in omsctl("stock", addr=addr).stdout.splitlines()[1:])}
    assert float(after[steel][2].replace(",", "")) == on_hand - 100  # left the warehouse
    # a second issue has nothing left to hand out
    again = omsctl("issue", order_no, "--roles", "warehouse", addr=addr, check=False)
    assert again.returncode != 0 and "FAILED_PRECONDITION" in again.stderr, again.stderr
    # sales may not issue material
    refused = omsctl("issue", order_no, *SALES, addr=addr, check=False)
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr, refused.stderr


def test_omsctl_works_the_shops_the_review_queue_and_an_agents_sheet(api, marketplace, tmp_path):
    from services.marketplace_simulator import samples
    from services.marketplace_simulator.dev import sim_shop_key
    from services.marketplace_simulator.gateways import beijing
    from tests.e2e.ingest_scenario import agent_sheet

    addr = api.addresses["ingest"]
    oid = f"3009{uuid.uuid4().int % 10**8:08d}"
    at = beijing(datetime.now(UTC) - timedelta(seconds=20))
    marketplace.put_order(
        "jd", sim_shop_key("hardware", "jd_pop"), samples.jd_order(oid, at, ((samples.PLATE, 2),))
    )
    deadline = time.monotonic() + TIMEOUT_S
    while True:  # the scheduled pull may hold the shop for a moment
        pulled = omsctl("pull", "jd_pop", *SALES, addr=addr, check=False)
        if (
            pulled.returncode == 0
            or "FAILED_PRECONDITION" not in pulled.stderr
            or time.monotonic() > deadline
        ):
            break
        time.sleep(0.3)
    shops = omsctl("shops", *SALES, addr=addr).stdout
    assert rows_of(shops, "jd_pop")[0][:3] == ["jd_pop", "jd", "京东POP店 JD POP store"], shops

    queue = omsctl("review", "--source", "marketplace", *SALES, addr=addr).stdout
    [row] = [cells(x) for x in queue.splitlines() if oid in x]
    item_id, reasons = row[0], row[4]
    assert reasons == "sku.unknown", queue
    shown = omsctl("review-show", item_id, *SALES, addr=addr).stdout
    assert "PL-0805-SS-200" in shown and "sku.unknown" in shown  # the raw record as received
    sub = re.search(r'"skuId": "?(\d+)', shown).group(1)  # JD's line id, from the raw record
    line = f"{sub}:BK-310 支架 bracket:100:120:黑色 black:发黑 blackening"
    accepted = omsctl(
        "review-accept", item_id, "--line", line, "--note", "客户同意改为支架", *SALES, addr=addr
    )
    assert accepted.stdout.startswith("已接受 accepted: HW-"), accepted.stdout

    template = tmp_path / "模板.xlsx"
    omsctl("upload-template", "--out", str(template), *SALES, addr=addr)
    assert template.read_bytes()[:2] == b"PK"
    sheet = tmp_path / "华顺11月.xlsx"
    day = date.today() + timedelta(days=12)
    sheet.write_bytes(
        agent_sheet(
            [
                "MIDEA-SD",
                "SP-08 弹片 spring clip",
                5000,
                "0.08",
                "无 none",
                "本色 natural",
                "散装 bulk",
                "顺德",
                day,
                "",
            ],
            [
                "MIDEA-SD",
                "SP-08 弹片 spring clip",
                "五千",
                "0.08",
                "无 none",
                "本色 natural",
                "散装 bulk",
                "顺德",
                day,
                "",
            ],
        )
    )
    done = omsctl("upload", str(sheet), *SALES, addr=addr, check=False)
    assert done.returncode == 1, done.stderr  # a bad row: the exit status says so
    assert "成功 good rows: 1   错误 bad rows: 1" in done.stdout and "rows 3" in done.stdout, done.stdout
    assert (tmp_path / "华顺11月.xlsx.errors.xlsx").exists()
    report = omsctl("ingest-report", *SALES, addr=addr).stdout
    assert re.search(r"^合计 Total", report, re.M) and "waiting for review" in report, report


def test_omsctl_creates_lists_disables_and_resets_users(api):
    """The plant's IT person manages the directory with omsctl; passwords come on stdin."""
    addr = ("--addr", api.addresses["identity"], "--tenant", "hardware")
    name = f"赵{uuid.uuid4().hex[:6]}"

    def run(*argv: str, password: str = "") -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not (k.startswith("OMS_") and k.endswith("_ADDR"))}
        return subprocess.run(
            [sys.executable, "-m", "omsctl", *addr, *argv],
            env=env,
            cwd=ROOT,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = run(
        "user-create",
        name,
        "sales,approver",
        "--display-name",
        "赵 (销售)",
        "--password-stdin",
        password="冲压件-2026-12",
    )
    assert made.returncode == 0, made.stderr
    assert "已创建 created" in made.stdout and "approver, sales" in made.stdout
    portal = run(
        "user-create",
        f"{name}-门户",
        "customer",
        "--customer",
        "NO-SUCH",
        "--password-stdin",
        password="冲压件-2026-12",
    )
    assert portal.returncode == 2 and "customer_code" in portal.stderr
    weak = run("user-create", f"{name}-2", "sales", "--password-stdin", password="short")
    assert weak.returncode == 2 and "password" in weak.stderr
    no_stdin = run("user-create", f"{name}-3", "sales")
    assert no_stdin.returncode == 2 and "--password-stdin" in no_stdin.stderr

    listed = run("users", "--search", name)
    assert name in listed.stdout and "启用 active" in listed.stdout
    off = run("user-update", name, "--disable")
    assert off.returncode == 0 and "已停用 disabled" in off.stdout, off.stderr
    reset = run("user-reset-password", name, "--password-stdin", password="新的密码-2027")
    assert reset.returncode == 0 and "密码已重置 password reset" in reset.stdout, reset.stderr
    as_sales = run("--roles", "sales", "users")
    assert as_sales.returncode == 2 and "PERMISSION_DENIED" in as_sales.stderr
