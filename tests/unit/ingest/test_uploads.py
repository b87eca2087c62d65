"""An agent's spreadsheet through the ingest service layer (SQLite, as in the embedded mode): good
rows become orders grouped per customer, delivery day and address; bad, duplicate and malicious
rows come back in the error report; the same file twice creates nothing twice; a refused file
imports nothing."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from services.chassis.db import make_engine
from services.chassis.errors import Conflict, FieldViolation, InvalidArgument
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.ingest.adapters.tables import ingest_runs
from services.ingest.adapters.tables import uploads as uploads_table
from services.ingest.app import definition
from services.ingest.service_layer import uploads
from services.ingest.service_layer.desk import TenantDesk
from services.ingest.service_layer.ports import CustomerRef
from tests.unit.ingest.test_pulling import FakeOrders

HW = load_tenants(("hardware",))["hardware"]
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
HEADER = [
    "客户名称",
    "产品型号",
    "数量",
    "单价",
    "表面处理",
    "颜色",
    "包装方式",
    "交货地址",
    "交货日期",
    "备注",
]
MIDEA = CustomerRef("00000000-0000-0000-0000-00000000000a", "MIDEA-SD", "美的集团顺德基地 Midea Shunde")
SUPOR = CustomerRef("00000000-0000-0000-0000-00000000000b", "SUPOR-HZ", "苏泊尔杭州工厂 Supor Hangzhou")
TWIN = CustomerRef("00000000-0000-0000-0000-00000000000c", "TWIN-1", "同名贸易")
TWIN2 = CustomerRef("00000000-0000-0000-0000-00000000000d", "TWIN-2", "同名贸易")
HINGE, BRACKET = "HB-2040 铰链 hinge", "BK-310 支架 bracket"


class Customers:
    def by_code(self, code):
        return next((c for c in (MIDEA, SUPOR) if c.code == code), None)

    def by_name(self, name):
        return [c for c in (MIDEA, SUPOR, TWIN, TWIN2) if name in (c.name, c.code)]

    def by_phone(self, phone):
        return []


def sheet(*rows: list[object], title: str | None = "华顺五金 11月订单") -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    if title:
        ws.append([title])  # agents put a title above the header
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def good(
    customer=MIDEA.name,
    model=HINGE,
    qty=1000,
    price=0.45,
    day=date(2026, 12, 10),
    address="顺德北滘3号仓",
    note="",
):
    return [customer, model, qty, price, "电镀 plating", "银色 silver", "纸箱 carton", address, day, note]


@pytest.fixture
def ingest(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    orders = FakeOrders()
    with acting_as(Identity("hardware", "代理专员小周", frozenset({"sales"}))):
        yield uow, orders, TenantDesk(HW, Customers()), engine
    engine.dispose()


def upload(ingest, data: bytes, name: str = "华顺11月.xlsx"):
    uow, orders, desk, _ = ingest
    return uploads.upload(name, data, desk, uow, orders, clock=lambda: NOW)


def test_good_bad_duplicate_and_malicious_rows_give_exactly_the_expected_orders_and_errors(ingest):
    _uow, orders, _desk, engine = ingest
    data = sheet(
        good(qty=1000),  # row 3 \
        good(model=BRACKET, qty="２,０００", price="￥1.20"),  # row 4 -> one Midea order, 12-10
        good(qty=500, day="2026/12/20"),  # row 5 -> a second Midea order (another day)
        good(customer=SUPOR.name, qty=300),  # row 6 -> Supor's order
        good(qty=1000),  # row 7: the same as row 3
        good(qty="十二"),  # row 8: not a number
        good(customer='=HYPERLINK("http://x","点我")'),  # row 9: a formula cell (openpyxl writes one)
        good(customer="无名客户"),  # row 10: no such customer
        good(customer="同名贸易"),  # row 11: two customers have this name
        [],  # a blank row is skipped
        good(note="x" * 10_000),  # row 13: a huge note
        good(address="@SUM(A1:A9)"),  # row 14: text that becomes a formula when re-exported
    )
    result = upload(ingest, data)
    assert (result.duplicate, result.rows_ok, result.rows_bad) == (False, 4, 7)
    made = sorted((o["rows"], o["order_no"] != "") for o in result.orders)
    assert made == [([3, 4], True), ([5], True), ([6], True)]
    drafts = {tuple(x.product_model for x in d.lines): d for d in orders.created.values()}
    first = drafts[(HINGE, BRACKET)]
    assert (first.customer_id, first.channel, first.priority, first.due_date) == (
        MIDEA.customer_id,
        "CHANNEL_AGENT",
        "PRIORITY_NORMAL",
        date(2026, 12, 10),
    )
    assert [(x.quantity, x.unit_price_fen, x.colour) for x in first.lines] == [
        (1000, 45, "银色 silver"),
        (2000, 120, "银色 silver"),
    ]

    report = CalamineWorkbook.from_filelike(io.BytesIO(result.error_report)).get_sheet_by_index(0).to_python()
    header = report[0]
    at = {h: i for i, h in enumerate(header)}
    errors = sorted((int(r[at["行号"]]), r[at["错误代码"]]) for r in report[1:])
    assert [(n, code.split(".")[0]) for n, code in errors] == [
        (7, "row"),
        (8, "quantity"),
        (9, "cell"),
        (10, "customer"),
        (11, "customer"),
        (13, "note"),
        (14, "delivery_address"),
    ]
    codes = dict(errors)
    assert (codes[7], codes[10], codes[11]) == ("row.duplicate", "customer.unknown", "customer.ambiguous")
    assert all(len(str(c)) <= 300 for r in report[1:] for c in r)  # a huge value is never echoed whole
    assert codes[9] == "cell.formula"  # never evaluated, its cached value never used
    at_sign = next(r for r in report[1:] if int(r[at["行号"]]) == 14)
    assert at_sign[at["交货地址"]] == "@SUM(A1:A9)"  # written back as text, never a formula
    with engine.connect() as c:
        run = c.execute(select(ingest_runs)).one()
    assert (run.received, run.created, run.duplicates, run.rejected) == (11, 3, 1, 6)


def test_the_same_file_twice_creates_nothing_twice(ingest):
    data = sheet(good(), good(customer=SUPOR.name))
    first = upload(ingest, data)
    again = upload(ingest, data, name="renamed copy.xlsx")
    assert again.duplicate and again.orders == first.orders and again.run_id == first.run_id
    assert len(ingest[1].created) == 2
    with ingest[3].connect() as c:
        assert c.execute(select(func.count()).select_from(ingest_runs)).scalar_one() == 1
        assert c.execute(select(uploads_table.c.data)).scalar_one() == data  # archived as received


def test_an_upload_interrupted_half_way_completes_without_a_second_copy(ingest):
    uow, orders, _desk, _engine = ingest
    data = sheet(good(), good(customer=SUPOR.name))
    with uow() as tx:  # a first attempt claimed the file and created one order, then the pod died
        crashed_at = NOW - timedelta(hours=1)
        tx.uploads.start(__import__("hashlib").sha256(data).hexdigest(), "x.xlsx", "run-1", crashed_at)
        tx.commit()
    result = upload(ingest, data)
    assert len(result.orders) == 2 and len(orders.created) == 2
    assert len(upload(ingest, data).orders) == 2 and len(orders.created) == 2


def test_a_refused_file_imports_nothing(ingest):
    with pytest.raises(InvalidArgument) as refused:
        upload(ingest, b"PK\x03\x04 not really a zip")
    [violation] = refused.value.violations
    assert (violation.field, violation.description.split(":")[0]) == ("data", "file.corrupt")
    with pytest.raises(InvalidArgument):
        upload(ingest, "客户名称,数量\n美的,10\n".encode(), name="orders.xlsx")  # CSV renamed
    assert ingest[1].created == {}


class PickyOrders(FakeOrders):
    """Refuses a line of 7 pieces (naming the line, as the order service does)."""

    def create(self, draft):
        bad = [i for i, x in enumerate(draft.lines) if x.quantity == 7]
        if bad:
            raise InvalidArgument(
                "refused", [FieldViolation(f"lines[{i}].quantity", "7 is unlucky") for i in bad]
            )
        return super().create(draft)


def test_a_line_the_order_service_refuses_takes_out_only_its_row(ingest):
    uow, _orders, desk, _engine = ingest
    orders = PickyOrders()
    data = sheet(good(qty=1000), good(qty=7), good(qty=2000))
    result = uploads.upload("x.xlsx", data, desk, uow, orders, clock=lambda: NOW)
    assert (result.rows_ok, result.rows_bad, [o["rows"] for o in result.orders]) == (2, 1, [[3, 5]])
    report = CalamineWorkbook.from_filelike(io.BytesIO(result.error_report)).get_sheet_by_index(0).to_python()
    assert [(int(r[-5]), r[-3]) for r in report[1:]] == [(4, "order.refused")]
    assert [[x.quantity for x in d.lines] for d in orders.created.values()] == [[1000, 2000]]


def test_the_order_service_refusing_a_group_reports_its_rows(ingest):
    ingest[1].refuse = "'紫色' is not in the colour library"
    result = upload(ingest, sheet(good(), good(qty=7)))
    assert (result.rows_ok, result.rows_bad, result.orders) == (0, 2, [])
    report = CalamineWorkbook.from_filelike(io.BytesIO(result.error_report)).get_sheet_by_index(0).to_python()
    assert {r[-3] for r in report[1:]} == {"order.refused"}


def test_the_template_uploads_as_nothing(ingest):
    _, data = uploads.template(HW)
    result = upload(ingest, data)
    assert (result.rows_ok, result.rows_bad, result.orders) == (0, 0, [])


def test_the_same_file_while_it_is_being_uploaded_is_asked_to_wait(ingest):
    uow, orders, _desk, _engine = ingest
    data = sheet(good())
    with uow() as tx:  # someone's upload of this very file began a minute ago
        tx.uploads.start(
            __import__("hashlib").sha256(data).hexdigest(), "x.xlsx", "run-1", NOW - timedelta(minutes=1)
        )
        tx.commit()
    with pytest.raises(Conflict, match="being uploaded"):
        upload(ingest, data)
    assert orders.created == {}
