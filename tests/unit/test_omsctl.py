"""omsctl as plant staff meet it: labels instead of enum names, times in the plant's zone to the
minute, columns that line up with Chinese text, one-line answers to mistyped arguments (exit
status 2, never a traceback), order numbers and customer codes wherever an id is asked, and
nothing but the public protos between omsctl and the services. No server: a fake client answers
the calls."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date

from oms.customer.v1 import customer_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from omsctl import __main__ as cli
from omsctl import display as d
from omsctl.client import Client, UsageError, match_option

ROOT = Path(__file__).resolve().parents[2]
ORDER_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
CUSTOMER_ID = "9b2f6c1e-0d7a-4c55-8e43-6f0f1d2a7b10"


def stamp(text: str) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime.fromisoformat(text))
    return ts


# --- labels, times, widths ---


@pytest.mark.parametrize(
    "enum",
    [order_pb2.OrderState, order_pb2.Priority, order_pb2.Channel, production_pb2.Stage, customer_pb2.Tier],
    ids=lambda e: e.DESCRIPTOR.name,
)
def test_every_state_stage_tier_priority_and_channel_reads_in_chinese_with_english_beside(enum):
    for value in enum.DESCRIPTOR.values:
        if value.number == 0:
            continue
        zh, _, en = d.label(enum, value.number).partition(" ")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), (value.name, zh)
        assert en and en.isascii() and not en.isupper(), (value.name, en)  # words, not an enum name


def test_labels_a_person_reads():
    assert d.label(order_pb2.OrderState, order_pb2.ORDER_STATE_PENDING_APPROVAL) == "待审批 Pending approval"
    assert d.label(order_pb2.OrderState, order_pb2.ORDER_STATE_APPROVED) == "已审批 Approved"
    assert d.label(production_pb2.Stage, production_pb2.STAGE_TO_SCHEDULE) == "待排产 To schedule"
    assert d.label(order_pb2.Priority, 0) == d.NONE  # unset
    assert d.label(order_pb2.Priority, 42) == "42"  # from a newer server: shown, not a crash


def test_times_are_shown_in_the_plants_zone_to_the_minute():
    at = stamp("2026-11-25T16:30:59.999+00:00")

    assert d.local_time(at, ZoneInfo("Asia/Shanghai")) == "2026-11-26 00:30"  # the plant's next day
    assert d.local_time(at, ZoneInfo("America/Sao_Paulo")) == "2026-11-25 13:30"
    assert d.local_time(at) == "2026-11-25 16:30"  # UTC when the zone is unknown
    assert d.local_time(None) == d.local_time(Timestamp()) == d.NONE


def test_days_and_money_read_plainly():
    assert d.day(Date(year=2026, month=1, day=5)) == "2026-01-05"
    assert d.day(Date()) == d.NONE
    assert d.price_fen(85) == "¥0.85" and d.price_fen(123456789) == "¥1,234,567.89"
    assert d.quantity(5000) == "5,000"


def test_columns_line_up_by_display_width_with_chinese_text():
    lines = d.table(
        ["代码 Code", "名称 Name", "等级 Tier"],
        [
            ("MIDEA-SD", "美的集团顺德基地 Midea Shunde", "A级 Tier A"),
            ("HS-TRADE", "Huashun", "C级 Tier C"),
            ("X", "螺丝 🔩 ＳＵＳ３０４", "B级 Tier B"),
        ],
    )

    # every tier starts at the same terminal column, whatever the names before it hold
    starts = {
        d.width(line[: line.index(tier)])
        for line, tier in zip(lines, ["等级", "A级", "C级", "B级"], strict=True)
    }
    assert len(starts) == 1, lines
    # and not at the same *character* index (which is what ljust would align)
    assert len({line.index(t) for line, t in zip(lines[1:], ["A级", "C级", "B级"], strict=True)}) > 1


def test_numbers_align_right_and_long_cells_are_clipped_to_their_column():
    lines = d.table(
        ["产品 Product", "数量 Qty"], [("铰链" * 30, "5,000"), ("X", "12")], right={1}, limits={0: 10}
    )

    assert lines[1].startswith("铰链铰链…")
    assert d.width(lines[1].split("  ")[0]) <= 10
    assert lines[1].endswith("5,000") and lines[2].endswith("   12")


def test_text_that_would_drive_the_terminal_is_not_printed_as_is():
    [_, row] = d.table(["名称 Name"], [("美的\x1b[2J\u202eevil\x07",)])

    assert "\x1b" not in row and "\u202e" not in row and "\x07" not in row
    assert row.startswith("美的\ufffd[2J\ufffdevil")


def test_an_empty_list_says_so():
    assert d.table(["a"], []) == ["(无 none)"]


# --- arguments ---

MISTYPED = {
    "a quantity with a letter": [
        "order-create",
        "--customer",
        "MIDEA-SD",
        "--due",
        "2026-12-20",
        "--line",
        "HB:5o0:w",
    ],
    "a quantity past int32": [
        "order-create",
        "--customer",
        "M",
        "--due",
        "2026-12-20",
        "--line",
        "HB:9" + "9" * 15 + ":w",
    ],
    "a line without a workshop": ["order-create", "--customer", "M", "--due", "2026-12-20", "--line", "HB:5"],
    "no such day": ["order-create", "--customer", "M", "--due", "2026-02-30", "--line", "HB:5:w"],
    "a day written backwards": ["orders", "--due-from", "20/12/2026"],
    "a limit that is no number": ["orders", "--limit", "fifty"],
    "a limit past 500": ["customers", "--limit", "501"],
    "an unknown state": ["orders", "--state", "lost"],
    "an unknown stage": ["work-orders", "--stage", "painted"],
    "years that are words": ["customer-create", "--code", "X1", "--name", "n", "--years", "many"],
    "a version below 0": ["order-approve", "HW-20261125-00001", "--version", "-1"],
    "an unknown command": ["frobnicate"],
    "a missing argument": ["order-show"],
    "an unknown option": ["orders", "--colour", "red"],
}


@pytest.mark.parametrize("argv", MISTYPED.values(), ids=MISTYPED.keys())
def test_every_argument_error_is_one_line_and_exit_status_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "error:" in err and "Traceback" not in err


def test_a_mistyped_quantity_names_the_line_and_the_value(capsys):
    with pytest.raises(SystemExit):
        cli.main(
            ["order-create", "--customer", "M", "--due", "2026-12-20", "--line", "HB-2040:5o00:stamping-1"]
        )

    assert "'HB-2040:5o00:stamping-1': quantity '5o00' is not a whole number" in capsys.readouterr().err


def test_as_a_process_a_mistyped_date_is_a_message_not_a_traceback():
    argv = ["order-create", "--customer", "MIDEA-SD", "--due", "2026-13-01", "--line", "HB-2040:5000:w"]
    done = subprocess.run(
        [sys.executable, "-m", "omsctl", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "omsctl order-create: error: argument --due: '2026-13-01' is not a calendar day: write "
        "YYYY-MM-DD, e.g. 2026-12-20 (see: omsctl order-create --help)"
    ]


def test_days_as_people_write_them():
    for text in ("2026-12-20", "2026/12/20", "2026.12.20", "20261220", " 2026-12-20 "):
        assert cli.parse_day(text) == Date(year=2026, month=12, day=20), text
    assert cli.parse_day("2026-1-5") == Date(year=2026, month=1, day=5)


def test_quantities_as_people_write_them():
    line = cli.parse_line("HB-2040 铰链 hinge：5,000：冲压一车间:银色:电镀:85")

    assert (line.product_model, line.quantity, line.workshop) == ("HB-2040 铰链 hinge", 5000, "冲压一车间")
    assert (line.colour, line.surface_treatment, line.unit_price_fen) == ("银色", "电镀", 85)


@pytest.mark.parametrize(
    "argv",
    [
        ["--tenant", "autoparts", "orders"],
        ["orders", "--tenant", "autoparts"],
        ["orders", "--state", "approved", "--tenant", "autoparts", "--limit", "5"],
        ["--tenant", "hardware", "orders", "--tenant", "autoparts"],  # the last one said wins
    ],
)
def test_the_tenant_may_stand_anywhere_on_the_line(argv):
    assert cli.build_parser().parse_args(argv).tenant == "autoparts"


def test_a_global_option_before_the_command_is_not_reset_by_the_command():
    args = cli.build_parser().parse_args(
        ["--tenant", "autoparts", "--addr", "h:1", "--roles", "sales", "orders"]
    )

    assert (args.tenant, args.addr, args.roles) == ("autoparts", "h:1", "sales")


def test_states_and_stages_may_be_typed_in_chinese_or_english():
    parser = cli.build_parser()
    assert parser.parse_args(["orders", "--state", "待审批"]).state == "pending_approval"
    assert parser.parse_args(["orders", "--state", "Pending approval"]).state == "pending_approval"
    assert parser.parse_args(["work-orders", "--stage", "待排产"]).stage == "to_schedule"
    assert parser.parse_args(["work-orders", "--stage", "in-process"]).stage == "in_process"


def test_one_address_for_the_whole_stack_and_per_service_overrides(monkeypatch):
    for key in ("OMS_ADDR", "OMS_ORDER_ADDR", "OMS_CUSTOMER_ADDR"):
        monkeypatch.delenv(key, raising=False)
    parse = cli.build_parser().parse_args
    assert Client(parse(["health"])).address("order") == "127.0.0.1:50050"

    monkeypatch.setenv("OMS_ADDR", "stack:7000")
    monkeypatch.setenv("OMS_CUSTOMER_ADDR", "customers:7001")
    client = Client(parse(["health"]))
    assert (client.address("order"), client.address("customer")) == ("stack:7000", "customers:7001")

    flagged = Client(parse(["health", "--addr", "other:7002"]))  # the command line wins
    assert flagged.address("order") == flagged.address("customer") == "other:7002"


# --- what people type, resolved through the API; what comes back, named ---


class FakeClient(Client):
    """Answers omsctl's calls from canned data, recording each request."""

    def __init__(self, argv=("orders",)):
        super().__init__(cli.build_parser().parse_args(list(argv)))
        self.calls: list[tuple[str, object]] = []
        self.customers = [
            customer_pb2.Customer(
                customer_id=CUSTOMER_ID, code="MIDEA-SD", name="美的集团顺德基地 Midea Shunde", tier=1
            )
        ]
        self.orders = [
            order_pb2.Order(
                order_id=ORDER_ID,
                order_no="HW-20261125-00001",
                customer_id=CUSTOMER_ID,
                state=order_pb2.ORDER_STATE_PENDING_APPROVAL,
                priority=order_pb2.PRIORITY_HIGH,
                due_date=Date(year=2026, month=12, day=20),
                created_at=stamp("2026-11-25T16:30:00+00:00"),
                version=1,
            )
        ]
        self.work_orders = [
            production_pb2.WorkOrder(
                work_order_no="WO-HW-20261125-00001-01",
                order_id=ORDER_ID,
                order_no="HW-20261125-00001",
                workshop="stamping-1",
                stage=production_pb2.STAGE_TO_SCHEDULE,
                due_date=Date(year=2026, month=12, day=20),
                lines=[production_pb2.WorkOrderLine(product_model="HB-2040 铰链 hinge", quantity=5000)],
            )
        ]

    def call(self, service, method, request):
        self.calls.append((method, request))
        if method == "GetTenantOptions":
            return order_pb2.GetTenantOptionsResponse(
                options=order_pb2.TenantOptions(
                    tenant_id="hardware",
                    time_zone="Asia/Shanghai",
                    colours=["本色 natural", "银色 silver"],
                    surface_treatments=["电镀 plating", "无 none"],
                    workshops=[
                        order_pb2.Workshop(code="stamping-1", name="冲压一车间 Stamping 1"),
                        order_pb2.Workshop(code="plating", name="电镀车间 Plating"),
                    ],
                )
            )
        if method == "ListOrders":
            found = [o for o in self.orders if not request.order_no or o.order_no == request.order_no]
            return order_pb2.ListOrdersResponse(orders=found)
        if method == "GetOrder":
            return order_pb2.GetOrderResponse(
                order=next(o for o in self.orders if o.order_id == request.order_id)
            )
        if method == "ListCustomers":
            found = [x for x in self.customers if not request.code or x.code == request.code]
            return customer_pb2.ListCustomersResponse(customers=found)
        if method == "GetCustomer":
            found = next(x for x in self.customers if x.customer_id == request.customer_id)
            return customer_pb2.GetCustomerResponse(customer=found)
        if method == "ListWorkOrders":
            return production_pb2.ListWorkOrdersResponse(work_orders=self.work_orders)
        raise AssertionError(method)

    def asked(self, method: str) -> list:
        return [request for m, request in self.calls if m == method]


def test_an_order_number_is_taken_wherever_an_order_id_is():
    client = FakeClient()

    assert client.resolve_order("HW-20261125-00001") == ORDER_ID
    assert client.resolve_order("hw-20261125-00001") == ORDER_ID  # as typed in a hurry
    assert [r.order_no for r in client.asked("ListOrders")] == ["HW-20261125-00001"] * 2
    assert client.resolve_order(ORDER_ID) == ORDER_ID and len(client.asked("ListOrders")) == 2  # ids: no call


def test_a_customer_code_is_taken_wherever_a_customer_id_is():
    client = FakeClient()

    assert client.resolve_customer("midea-sd") == CUSTOMER_ID
    assert [r.code for r in client.asked("ListCustomers")] == ["MIDEA-SD"]
    assert client.resolve_customer(CUSTOMER_ID) == CUSTOMER_ID


@pytest.mark.parametrize(
    ("resolve", "text", "message"),
    [
        ("resolve_order", "HW-20990101-00009", "no order HW-20990101-00009 in business line hardware"),
        ("resolve_order", "../etc/passwd", "neither an order number"),
        ("resolve_customer", "NOBODY", "no customer with code NOBODY in business line hardware"),
        ("resolve_customer", "美的", "neither a customer code"),
    ],
)
def test_an_unknown_number_or_code_is_a_one_line_usage_error(resolve, text, message):
    with pytest.raises(UsageError, match=message):
        getattr(FakeClient(), resolve)(text)


def test_workshops_colours_and_treatments_may_be_typed_by_name():
    client = FakeClient()

    assert client.workshop_code("冲压一车间") == "stamping-1"
    assert client.workshop_code("plating") == "plating"
    assert client.workshop_code("电镀车间 Plating") == "plating"
    assert client.workshop_code("welding") == "welding"  # unknown: the service names the problem
    assert client.workshop_name("stamping-1") == "冲压一车间 Stamping 1"
    assert match_option("Silver", ["本色 natural", "银色 silver"]) == "银色 silver"
    assert match_option("银色", ["本色 natural", "银色 silver"]) == "银色 silver"
    assert match_option("色", ["本色 natural", "银色 silver"]) == "色"  # no guessing


def run(client: FakeClient, argv: list[str], capsys) -> str:
    args = cli.build_parser().parse_args(argv)
    assert args.fn(client, args) == 0
    return capsys.readouterr().out


def test_orders_are_listed_with_their_customers_name_labels_and_plant_time(capsys):
    out = run(FakeClient(), ["orders"], capsys)

    [_, row] = out.splitlines()
    assert "美的集团顺德基地 Midea Shunde" in row and CUSTOMER_ID not in row
    assert "待审批 Pending approval" in row and "加急 High" in row and "ORDER_STATE" not in row
    assert "2026-12-20" in row and "2026-11-26 00:30" in row  # created 16:30 UTC = 00:30 in Shanghai


def test_work_orders_are_listed_with_workshop_name_product_quantity_and_priority(capsys):
    client = FakeClient()
    out = run(client, ["work-orders", "--order", "HW-20261125-00001"], capsys)

    [request] = client.asked("ListWorkOrders")
    assert request.order_no == "HW-20261125-00001" and not request.order_id  # no order look-up needed
    [_, row] = out.splitlines()
    for shown in ("冲压一车间 Stamping 1", "HB-2040 铰链 hinge", "5,000", "加急 High", "待排产 To schedule"):
        assert shown in row


def test_order_create_takes_a_customer_code_and_workshop_and_colour_names(capsys):
    client = FakeClient()
    created = order_pb2.Order(order_id=ORDER_ID, order_no="HW-20261125-00002", customer_id=CUSTOMER_ID)

    def call(service, method, request, _real=client.call):
        if method == "CreateOrder":
            client.calls.append((method, request))
            return order_pb2.CreateOrderResponse(order=created)
        return _real(service, method, request)

    client.call = call
    out = run(
        client,
        [
            "order-create",
            "--customer",
            "MIDEA-SD",
            "--due",
            "2026/12/20",
            "--line",
            "HB-2040:5,000:冲压一车间:silver:电镀",
        ],
        capsys,
    )

    [request] = client.asked("CreateOrder")
    assert request.customer_id == CUSTOMER_ID
    assert request.due_date == Date(year=2026, month=12, day=20)
    [line] = request.lines
    assert (line.workshop, line.colour, line.surface_treatment, line.quantity) == (
        "stamping-1",
        "银色 silver",
        "电镀 plating",
        5000,
    )
    assert "HW-20261125-00002" in out


def test_omsctl_reaches_the_services_only_through_the_protos():
    """Outside `dead-letters` (RabbitMQ, by design), omsctl imports no service code: the public
    contracts are all it knows. (omsctl/tokens.py is the token issuer, shared with the tests and
    `make setup`: it takes the issuer name and key paths from the chassis that verifies them.)"""
    offenders = []
    for path in sorted((ROOT / "omsctl").glob("*.py")):
        if path.name == "tokens.py":
            continue
        tree = ast.parse(path.read_text())
        allowed = {
            id(node)
            for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef) and fn.name == "cmd_dead_letters"
            for node in ast.walk(fn)
        }
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.split(".")[0] == "services" for n in names) and id(node) not in allowed:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_the_help_lists_the_option_library_command():
    assert "options" in cli.build_parser().format_help()
