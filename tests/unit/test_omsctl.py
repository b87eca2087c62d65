"""omsctl as plant staff meet it: labels instead of enum names, times in the plant's zone to the
minute, columns that line up with Chinese text, one-line answers to mistyped arguments (exit
status 2, never a traceback), order numbers and customer codes wherever an id is asked, and
nothing but the public protos between omsctl and the services. No server: a fake client answers
the calls."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date

from oms.customer.v1 import customer_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from omsctl import __main__ as cli
from omsctl import changes as ch
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


WORK_ORDER_ID = "5d1e8a4c-2b7f-4f0e-9c3a-7b6d5e4f3a21"


def shop_floor_client() -> FakeClient:
    """A FakeClient that also answers 报工 and a work order's details."""
    client = FakeClient()
    client.work_orders[0].work_order_id = WORK_ORDER_ID
    client.work_orders[0].requirements.add(
        material="SPCC 冷轧钢板 cold-rolled steel", unit="kg", quantity=600
    )

    def call(service, method, request, _real=client.call):
        if method == "ListWorkOrders" and request.work_order_no:
            client.calls.append((method, request))
            found = [w for w in client.work_orders if w.work_order_no == request.work_order_no]
            return production_pb2.ListWorkOrdersResponse(work_orders=found)
        if method == "ReportStage":
            client.calls.append((method, request))
            moved = production_pb2.WorkOrder()
            moved.CopyFrom(client.work_orders[0])
            moved.stage, moved.good_quantity, moved.scrap_quantity = request.stage, 100, 2
            return production_pb2.ReportStageResponse(work_order=moved)
        if method == "GetWorkOrder":
            client.calls.append((method, request))
            report = production_pb2.StageReport(
                reported_at=stamp("2026-11-26T01:00:00+00:00"),
                reported_by="王建国",
                from_stage=production_pb2.STAGE_TO_SCHEDULE,
                to_stage=production_pb2.STAGE_IN_PROCESS,
                good_quantity=100,
                scrap_quantity=2,
                note="首批",
            )
            return production_pb2.GetWorkOrderResponse(
                work_order=client.work_orders[0], stage_reports=[report]
            )
        if method == "ListWorkOrderRevisions":
            client.calls.append((method, request))
            return production_pb2.ListWorkOrderRevisionsResponse(
                revisions=[production_pb2.WorkOrderRevision(revision=1, current=True)]
            )
        return _real(service, method, request)

    client.call = call  # type: ignore[method-assign]
    return client


def test_a_stage_is_reported_by_work_order_number_with_good_and_scrap_pieces(capsys):
    client = shop_floor_client()
    out = run(client, ["stage", "wo-hw-20261125-00001-01", "加工中", "--good", "100", "--scrap", "2"], capsys)

    [look_up] = client.asked("ListWorkOrders")
    assert look_up.work_order_no == "WO-HW-20261125-00001-01"
    [sent] = client.asked("ReportStage")
    assert (sent.work_order_id, sent.stage, sent.good_quantity, sent.scrap_quantity) == (
        WORK_ORDER_ID,
        production_pb2.STAGE_IN_PROCESS,
        100,
        2,
    )
    assert "加工中 In process" in out and "100 / 2" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["stage", "WO-HW-20261125-00001-01", "painted"], "'painted' is not one of"),
        (["stage", "WO-HW-20261125-00001-01", "in-process", "--good", "-5"], "not a number of pieces"),
    ],
)
def test_a_stage_or_piece_count_mistyped_is_refused_before_any_call(argv, says, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(argv)
    assert says in capsys.readouterr().err


def test_an_unknown_work_order_number_is_a_usage_error():
    with pytest.raises(UsageError, match="no work order WO-HW-20990101-00001-01"):
        cli.production.resolve_work_order(shop_floor_client(), "WO-HW-20990101-00001-01")


def test_a_work_order_is_shown_with_its_materials_and_stage_reports(capsys):
    out = run(shop_floor_client(), ["work-order-show", "WO-HW-20261125-00001-01"], capsys)

    assert "SPCC 冷轧钢板 cold-rolled steel  600 kg" in out
    assert "王建国  待排产 To schedule → 加工中 In process  +100/2  首批" in out
    assert "2026-11-26 09:00" in out  # the plant's time


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


# --- change control, history and customers (issue 15) ---

NEW_MISTYPED = {
    "a change without a reason": ["order-change", "HW-20261125-00001", "--line", "1", "--colour", "gold"],
    "a colour before its --line": ["order-change", "X", "--colour", "gold", "--line", "1", "--reason", "r"],
    "a line number of 0": ["order-change", "X", "--line", "0", "--colour", "gold", "--reason", "r"],
    "a quantity of 0": ["order-change", "X", "--line", "1", "--quantity", "0", "--reason", "r"],
    "a price with three decimals": ["order-change", "X", "--line", "1", "--price", "0.855", "--reason", "r"],
    "an added line without a workshop": ["order-change", "X", "--add-line", "HB:5", "--reason", "r"],
    "an as-of that is no time": ["order-show", "X", "--as-of", "yesterday"],
    "a rejection without a note": ["order-change-reject", "X", "abcd1234"],
    "a cancellation without a reason": ["order-cancel", "X"],
    "a revision that is no number": ["order-diff", "X", "one", "2"],
    "an unknown tier": ["prices", "--tier", "D"],
    "a contact without a phone": ["customer-update", "M", "--contact", "刘敏"],
    "spaced words of an unknown command": ["order", "frobnicate", "X"],
}


@pytest.mark.parametrize("argv", NEW_MISTYPED.values(), ids=NEW_MISTYPED.keys())
def test_new_commands_refuse_mistakes_in_one_line_with_exit_status_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "error:" in err and "Traceback" not in err


def test_a_field_flag_before_any_line_says_which_line_to_name_first(capsys):
    with pytest.raises(SystemExit):
        cli.main(["order", "change", "X", "--colour", "金色", "--reason", "r"])

    assert capsys.readouterr().err == (
        "omsctl order-change: error: argument --colour/--color: say which line first: --line N --colour 金色 "
        "(see: omsctl order-change --help)\n"
    )


@pytest.mark.parametrize(
    ("typed", "joined"),
    [
        (["order", "change", "show", "HW-1", "ab12"], ["order-change-show", "HW-1", "ab12"]),
        (["order", "change", "HW-1", "--reason", "r"], ["order-change", "HW-1", "--reason", "r"]),
        (["order", "changes", "HW-1"], ["order-changes", "HW-1"]),
        (["order", "show", "HW-1"], ["order-show", "HW-1"]),  # the older commands too
        (["--tenant", "autoparts", "order", "submit", "X"], ["--tenant", "autoparts", "order-submit", "X"]),
        (["--user=陈丽", "price", "set", "--tier", "A"], ["--user=陈丽", "price-set", "--tier", "A"]),
        (["--tenant", "order", "orders"], ["--tenant", "order", "orders"]),  # "order" is a value here
        (["order-show", "change", "x"], ["order-show", "change", "x"]),  # typed joined: left alone
        (["customer", "tiers", "MIDEA-SD"], ["customer-tiers", "MIDEA-SD"]),
    ],
)
def test_the_words_of_a_command_may_be_typed_apart(typed, joined):
    assert cli.join_command_words(typed, cli.build_parser().commands) == joined


def test_line_changes_are_grouped_by_the_line_named_before_them():
    args = cli.build_parser().parse_args(
        cli.join_command_words(
            [
                "order", "change", "HW-1", "--reason", "改色",
                "--line", "1", "--colour", "金色", "--quantity", "6,000",
                "--line", "2", "--treatment", "喷涂", "--price", "¥1,234.5",
                "--remove-line", "3", "--add-line", "SP-08:300:plating:黑色:发黑:12",
                "--due", "2026/12/28",
            ],
            cli.build_parser().commands,
        )
    )  # fmt: skip

    assert args.line_edits == [
        ch.LineEdit(line_no=1, colour="金色", quantity=6000),
        ch.LineEdit(line_no=2, surface_treatment="喷涂", unit_price_fen=123450),
    ]
    assert args.remove_line == [3] and args.due == Date(year=2026, month=12, day=28)
    [added] = args.add_line
    assert (added.product_model, added.quantity, added.workshop, added.unit_price_fen) == (
        "SP-08",
        300,
        "plating",
        12,
    )


@pytest.mark.parametrize(
    ("typed", "fen"), [("0.85", 85), ("¥1,234.50", 123450), ("12元", 1200), ("￥0.9", 90), ("7", 700)]
)
def test_prices_are_typed_in_yuan_and_kept_exactly_in_fen(typed, fen):
    assert cli.parse_yuan(typed) == fen


def test_a_time_without_offset_is_the_plants_time():
    shanghai = ZoneInfo("Asia/Shanghai")

    assert cli.at(cli.parse_instant("2026-11-25 10:00"), shanghai) == stamp("2026-11-25T02:00:00+00:00")
    assert cli.at(cli.parse_instant("2026-11-25T10:00:00+08:00"), UTC) == stamp("2026-11-25T02:00:00+00:00")
    assert cli.at(cli.parse_instant("2026-11-25T02:00Z"), shanghai) == stamp("2026-11-25T02:00:00+00:00")
    assert cli.at(cli.parse_instant("2026-11-25"), shanghai) == stamp("2026-11-24T16:00:00+00:00")
    assert "without an offset" in cli.build_parser().commands["order-show"].format_help()
    assert "Asia/Shanghai" in cli.build_parser().commands["order-show"].format_help()


def test_money_reads_in_yuan_or_says_it_is_withheld():
    assert d.money(123450) == "¥1,234.50" and d.money(0) == "¥0.00"
    assert d.money(0, withheld=True) == "—（价格不可见 prices withheld）"
    assert (d.amount(1300.0), d.amount(0.5), d.amount(0.0), d.amount(12.3456)) == (
        "1,300",
        "0.5",
        "0",
        "12.346",
    )


OPTIONS = order_pb2.TenantOptions(
    tenant_id="hardware",
    time_zone="Asia/Shanghai",
    colours=["本色 natural", "银色 silver", "金色 gold", "黑色 black"],
    surface_treatments=["电镀 plating", "喷涂 spraying", "发黑 blackening", "无 none"],
    workshops=[
        order_pb2.Workshop(code="stamping-1", name="冲压一车间 Stamping 1"),
        order_pb2.Workshop(code="plating", name="电镀车间 Plating"),
        order_pb2.Workshop(code="assembly", name="装配车间 Assembly"),
    ],
)


def approved_order(**overrides) -> order_pb2.Order:
    order = order_pb2.Order(
        order_id=ORDER_ID,
        order_no="HW-20261125-00001",
        customer_id=CUSTOMER_ID,
        state=order_pb2.ORDER_STATE_APPROVED,
        priority=order_pb2.PRIORITY_NORMAL,
        due_date=Date(year=2026, month=12, day=20),
        version=2,
        revision=1,
        delivery_address="顺德北滘 3号仓",
        custom_fields=[order_pb2.CustomFieldValue(key="shipping_mark", value="MIDEA")],
        lines=[
            order_pb2.OrderLine(
                line_no=1,
                product_model="HB-2040 铰链 hinge",
                quantity=5000,
                workshop="stamping-1",
                route=["stamping-1"],
                colour="银色 silver",
                surface_treatment="电镀 plating",
                unit_price_fen=85,
            ),
            order_pb2.OrderLine(
                line_no=2,
                product_model="BK-310 支架 bracket",
                quantity=2000,
                workshop="assembly",
                route=["assembly"],
                colour="本色 natural",
                surface_treatment="无 none",
                unit_price_fen=120,
            ),
        ],
    )
    for key, value in overrides.items():
        setattr(order, key, value)
    return order


def test_a_change_proposes_the_whole_order_with_the_named_line_changed():
    order = approved_order()
    content = ch.propose(order, OPTIONS, edits=[ch.LineEdit(line_no=1, colour="gold")])

    assert content.due_date == order.due_date and content.priority == order_pb2.PRIORITY_NORMAL
    assert content.delivery_address == "顺德北滘 3号仓" and list(content.custom_fields) == list(
        order.custom_fields
    )
    expected = [order_pb2.OrderLine(), order_pb2.OrderLine()]
    for kept, line in zip(expected, order.lines, strict=True):
        kept.CopyFrom(line)
        del kept.route[:]  # not proposed: the service keeps it
    expected[0].colour = "金色 gold"  # typed "gold": the library's own value is sent
    assert list(content.lines) == expected
    assert [x.colour for x in order.lines] == ["银色 silver", "本色 natural"]  # the order read is untouched


def test_a_change_adds_removes_and_redates_lines_by_their_numbers():
    content = ch.propose(
        approved_order(),
        OPTIONS,
        edits=[ch.LineEdit(line_no=1, quantity=6000, unit_price_fen=90)],
        add=[cli.parse_line("SP-08 弹片 spring clip:300:电镀车间:black:发黑:12")],
        remove=[2],
        due=Date(year=2026, month=12, day=28),
        priority=order_pb2.PRIORITY_HIGH,
    )

    assert [(x.line_no, x.product_model, x.quantity, x.unit_price_fen) for x in content.lines] == [
        (1, "HB-2040 铰链 hinge", 6000, 90),
        (0, "SP-08 弹片 spring clip", 300, 12),  # new: the service numbers it
    ]
    new = content.lines[1]
    assert (new.workshop, new.colour, new.surface_treatment) == ("plating", "黑色 black", "发黑 blackening")
    assert (
        content.due_date == Date(year=2026, month=12, day=28) and content.priority == order_pb2.PRIORITY_HIGH
    )


def test_a_routed_line_is_proposed_without_its_workshop_so_the_routing_or_planner_decides():
    options = order_pb2.TenantOptions()
    options.CopyFrom(OPTIONS)
    options.routes.append(
        order_pb2.Route(product_model="HB-2040 铰链 hinge", workshops=["stamping-1", "plating"])
    )

    content = ch.propose(approved_order(), options, edits=[ch.LineEdit(line_no=2, quantity=2500)])

    assert [(x.line_no, x.workshop) for x in content.lines] == [(1, ""), (2, "assembly")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"edits": [ch.LineEdit(line_no=3, colour="gold")]},
            "order HW-20261125-00001 has no line 3 (its lines: 1, 2;",
        ),
        ({"remove": [7]}, "has no line 7"),
        ({"edits": [ch.LineEdit(line_no=2, quantity=1)], "remove": [2]}, "line 2 is both changed"),
        ({"edits": [ch.LineEdit(line_no=1)]}, "--line 1 changes nothing: follow it with one of --colour"),
        ({}, "nothing to change"),
        (
            {"remove": [1, 2]},
            "cannot remove every line: to cancel the order, omsctl order change HW-20261125-00001",
        ),
    ],
)
def test_a_change_that_cannot_be_built_is_a_one_line_usage_error(kwargs, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        ch.propose(approved_order(), OPTIONS, **kwargs)


def test_a_change_is_not_built_from_an_order_read_without_its_prices():
    withheld = approved_order(prices_withheld=True)
    for line in withheld.lines:
        line.unit_price_fen = 0

    with pytest.raises(UsageError, match="prices are withheld from you"):
        ch.propose(withheld, OPTIONS, edits=[ch.LineEdit(line_no=1, colour="gold")])


def test_the_diff_between_two_revisions_is_computed_field_by_field_matched_by_line_number():
    before = order_pb2.OrderContent(
        due_date=Date(year=2026, month=12, day=20),
        priority=order_pb2.PRIORITY_NORMAL,
        lines=approved_order().lines,
    )
    after = order_pb2.OrderContent()
    after.CopyFrom(before)
    after.due_date.day = 28
    after.lines[0].colour = "金色 gold"
    after.lines[0].unit_price_fen = 90
    del after.lines[1]
    after.lines.append(
        order_pb2.OrderLine(line_no=3, product_model="SP-08", quantity=300, workshop="plating")
    )

    changes = ch.diff_contents(before, after)

    assert [(f.path, f.before, f.after) for f in changes] == [
        ("due_date", "2026-12-20", "2026-12-28"),
        ("lines[1].colour", "银色 silver", "金色 gold"),
        ("lines[1].unit_price_fen", "85", "90"),
        ("lines[2]", "BK-310 支架 bracket ×2000 本色 natural 无 none assembly @120", ""),
        ("lines[3]", "", "SP-08 ×300 plating @0"),
    ]
    assert ch.diff_lines(changes) == [
        "交期 due date: 2026-12-20 → 2026-12-28",
        "第1行 line 1 颜色 colour: 银色 silver → 金色 gold",
        "第1行 line 1 单价 unit price: ¥0.85 → ¥0.90",
        "第2行 line 2: BK-310 支架 bracket ×2000 本色 natural 无 none assembly @¥1.20 → —",
        "第3行 line 3: — → SP-08 ×300 plating @¥0.00",
    ]
    assert ch.diff_contents(before, before) == []


def test_a_diff_shows_labels_quantities_and_withheld_prices_as_people_read_them():
    changes = [
        order_pb2.FieldChange(
            path="priority", label="优先级 priority", before="PRIORITY_NORMAL", after="PRIORITY_HIGH"
        ),
        order_pb2.FieldChange(
            path="lines[1].quantity", label="第1行 line 1 数量 quantity", before="5000", after="6000"
        ),
        order_pb2.FieldChange(path="lines[1].unit_price_fen", label="第1行 line 1 单价(分) unit price (fen)"),
    ]

    assert ch.diff_lines(changes, withheld=True) == [
        "优先级 priority: 常规 Normal → 加急 High",
        "第1行 line 1 数量 quantity: 5,000 → 6,000",
        "第1行 line 1 单价 unit price: —（价格不可见 prices withheld） → —（价格不可见 prices withheld）",
    ]


IMPACT = order_pb2.ChangeImpact(
    work_orders=[
        order_pb2.ImpactedWorkOrder(
            work_order_no="WO-HW-20261125-00001-01",
            workshop="stamping-1",
            stage="STAGE_IN_PROCESS",
            product_models=["HB-2040 铰链 hinge"],
            quantity=5000,
            touched=True,
        ),
        order_pb2.ImpactedWorkOrder(
            work_order_no="WO-HW-20261125-00001-02",
            workshop="assembly",
            stage="STAGE_TO_SCHEDULE",
            product_models=["BK-310 支架 bracket"],
            quantity=2000,
        ),
    ],
    materials=[
        order_pb2.ImpactedMaterial(
            material="镀银液 silver plating solution", unit="L", needed_before=10, reserved=10, issued=2.5
        ),
        order_pb2.ImpactedMaterial(material="镀金液 gold plating solution", unit="L", needed_after=10),
    ],
    scrap_value_fen=425000,
    unavailable=["inventory"],
    notes=["库存服务未应答 inventory did not answer: materials are missing"],
)


def test_the_impact_preview_lists_work_orders_materials_scrap_value_and_what_is_missing():
    names = {"stamping-1": "冲压一车间 Stamping 1", "assembly": "装配车间 Assembly"}

    assert ch.impact_lines(IMPACT, names.get) == [
        "生产工单 Work orders",
        "  工单号 Work order        车间 Workshop          阶段 Stage          "
        "产品 Product         数量 Qty  受影响 Touched",
        "  WO-HW-20261125-00001-01  冲压一车间 Stamping 1  加工中 In process   "
        "HB-2040 铰链 hinge      5,000  是 yes",
        "  WO-HW-20261125-00001-02  装配车间 Assembly      待排产 To schedule  "
        "BK-310 支架 bracket     2,000  否 no",
        "物料 Materials",
        "  物料 Material                   单位 Unit  "
        "变更前 Before  变更后 After  已锁 Reserved  已发料 Issued",
        "  镀银液 silver plating solution  L          "
        "           10             0             10            2.5",
        "  镀金液 gold plating solution    L          "
        "            0            10              0              0",
        "报废价值 Scrap value: ¥4,250.00",
        "不完整 Incomplete: inventory 未应答 did not answer; its part is missing",
        "注 Note: 库存服务未应答 inventory did not answer: materials are missing",
    ]
    assert (
        ch.impact_lines(IMPACT, names.get, withheld=True)[8]
        == "报废价值 Scrap value: —（价格不可见 prices withheld）"
    )


class ChangeClient(FakeClient):
    """FakeClient with an approved two-line order that answers change control."""

    def __init__(self, argv=("orders",)):
        super().__init__(argv)
        self.orders = [approved_order()]

    def call(self, service, method, request):
        if method == "RequestOrderChange":
            self.calls.append((method, request))
            pending = approved_order(
                state=order_pb2.ORDER_STATE_PENDING_CHANGE, version=3, pending_change_id="c" * 36
            )
            change = order_pb2.ChangeRequest(
                change_id="0db71f0e-071d-4351-ba74-e164439b5505",
                order_id=ORDER_ID,
                base_revision=1,
                state=order_pb2.CHANGE_STATE_PENDING,
                reason=request.reason,
                diff=ch.diff_contents(
                    order_pb2.OrderContent(lines=self.orders[0].lines),
                    order_pb2.OrderContent(lines=request.proposed.lines),
                ),
                impact=IMPACT,
                requested_by="陈丽",
                requested_at=stamp("2026-11-25T02:00:00+00:00"),
            )
            return order_pb2.RequestOrderChangeResponse(change=change, order=pending)
        if method == "GetTenantOptions":
            self.calls.append((method, request))
            return order_pb2.GetTenantOptionsResponse(options=OPTIONS)
        return super().call(service, method, request)


def test_order_change_sends_the_proposal_against_the_version_read_and_prints_diff_and_impact(capsys):
    client = ChangeClient()
    out = run(
        client,
        cli.join_command_words(
            [
                "order",
                "change",
                "HW-20261125-00001",
                "--line",
                "1",
                "--colour",
                "金色",
                "--reason",
                "客户改色",
            ],
            cli.build_parser().commands,
        ),
        capsys,
    )

    [request] = client.asked("RequestOrderChange")
    assert (request.order_id, request.expected_version, request.reason) == (ORDER_ID, 2, "客户改色")
    assert [(x.line_no, x.colour) for x in request.proposed.lines] == [(1, "金色 gold"), (2, "本色 natural")]
    lines = out.splitlines()
    assert lines[:7] == [
        "变更 Change     0db71f0e  (0db71f0e-071d-4351-ba74-e164439b5505)",
        "订单 Order      HW-20261125-00001",
        "状态 State      待审 Pending",
        "版本 Revision   1 → 2",
        "原因 Reason     客户改色",
        "申请 Requested  2026-11-25 10:00 陈丽",  # 02:00 UTC = 10:00 in Shanghai
        "决定 Decided    —",
    ]
    changes_at = lines.index("变更内容 Changes (before → after)")
    assert lines[changes_at + 1 : changes_at + 3] == [
        "  第1行 line 1 颜色 colour: 银色 silver → 金色 gold",
        "影响评估 Impact",
    ]
    assert (
        "    WO-HW-20261125-00001-01  冲压一车间 Stamping 1  加工中 In process   "
        "HB-2040 铰链 hinge      5,000  是 yes" in lines
    )
    assert "  报废价值 Scrap value: ¥4,250.00" in lines
    assert lines[-2:] == [
        "下一步 Next: omsctl order change approve HW-20261125-00001 0db71f0e [--note …]",
        "             omsctl order change reject HW-20261125-00001 0db71f0e --note …",
    ]


def test_order_show_as_of_asks_for_the_plants_moment_and_says_which_it_was(capsys):
    client = ChangeClient()
    out = run(client, ["order-show", "HW-20261125-00001", "--as-of", "2026-11-25 10:00"], capsys)

    [request] = client.asked("GetOrder")
    assert request.as_of == stamp("2026-11-25T02:00:00+00:00")
    card = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.splitlines()[:7])
    assert out.startswith("截至 As of ")
    assert card["截至 As of"] == "2026-11-25 10:00:00 Asia/Shanghai"
    assert card["版本 Revision"] == "1  (自 since —)"


def test_an_order_read_without_prices_says_so_instead_of_showing_zero(capsys):
    client = ChangeClient()
    client.orders = [approved_order(prices_withheld=True, total_fen=0)]
    for line in client.orders[0].lines:
        line.unit_price_fen = 0

    out = run(client, ["order-show", "HW-20261125-00001"], capsys)

    [total] = [line for line in out.splitlines() if line.startswith("金额 Total")]
    assert total.split(None, 2)[2].strip() == "—（价格不可见 prices withheld）"
    assert "¥0.00" not in out


def test_a_stale_version_is_explained_with_what_to_do():
    class Stale(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.ABORTED

        def details(self):
            return "order HW-20261125-00001 is at version 7, not 3; reload it"

        def trailing_metadata(self):
            return ()

    assert cli.explain(Stale()).splitlines() == [
        "error: ABORTED: order HW-20261125-00001 is at version 7, not 3; reload it",
        "  提示 hint: someone changed it since it was read: show it again (omsctl order show …) and retry "
        "with what it is now",
    ]


def test_the_help_lists_every_change_control_and_customer_command():
    listed = cli.build_parser().format_help()
    for name in (
        "order-submit", "order-cancel", "order-history", "order-ship", "order-close", "order-change",
        "order-change-show", "order-changes", "order-change-approve", "order-change-reject",
        "order-revisions", "order-diff", "order-audit", "customer-show", "customer-update",
        "customer-deactivate", "customer-reactivate", "customer-tiers", "price-set", "prices",
    ):  # fmt: skip
        assert name in listed, name


def test_contacts_and_addresses_as_people_type_them():
    assert cli.parse_contact("刘敏：138 0013 8000:采购 buyer") == customer_pb2.Contact(
        name="刘敏", phone="138 0013 8000", role="采购 buyer"
    )
    assert cli.parse_address("美的大道6号:顺德总部:default") == customer_pb2.DeliveryAddress(
        address="美的大道6号", label="顺德总部", is_default=True
    )
    assert cli.parse_address("美的大道6号:顺德总部:刘敏:138 0013 8000") == customer_pb2.DeliveryAddress(
        address="美的大道6号", label="顺德总部", receiver="刘敏", phone="138 0013 8000"
    )
