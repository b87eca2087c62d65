"""Untrusted input on every IngestService RPC, through the public gRPC API of a running embedded
stack (`python -m services`, pulling the marketplace simulator in this process): files that are no
workbook, a truncated one, a zip bomb, 10,001 rows, attachments that lie about their type or size,
ids and keys of every wrong shape, forged page tokens, impossible days, another tenant's review
items, shops, attachments and uploads, and callers without the role. The answer is always a status
the caller can act on (never INTERNAL or UNKNOWN), an INVALID_ARGUMENT names the field at fault,
and a refused file creates nothing."""

from __future__ import annotations

import base64
import io
import os
import struct
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta

import grpc
import openpyxl
import pytest
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from oms.customer.v1 import customer_pb2
from oms.ingest.v1 import ingest_pb2 as pb
from oms.order.v1 import order_pb2
from services.marketplace_simulator import samples
from services.marketplace_simulator.dev import sim_shop_key
from services.marketplace_simulator.gateways import beijing
from tests.e2e import scenario
from tests.e2e.ingest_scenario import PNG, agent_sheet, pull
from tests.e2e.test_embedded import embedded as embedded  # the same stack, started for this module
from tests.e2e.test_embedded import marketplace as marketplace  # which `embedded` pulls from
from tests.e2e.test_untrusted_input import NEVER, RANDOM_TEXT, TIMEOUT_S, status_of

pytestmark = pytest.mark.e2e

HW = scenario.Caller("hardware", "陈丽", ("sales",))
AP = scenario.Caller("autoparts", "赵主管", ("sales", "manager"))
ACCEPT, REJECT = pb.ResolveReviewItemRequest.DECISION_ACCEPT, pb.ResolveReviewItemRequest.DECISION_REJECT
BAD, MISSING, OK = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.OK
PDF = b"%PDF-1.4\n" + b"0" * 64
MB = 1024 * 1024


@pytest.fixture(scope="module")
def api(embedded) -> scenario.Api:
    return embedded[0]


@pytest.fixture(scope="module")
def hw(api, marketplace) -> dict[str, str]:
    """Hardware's own rows: two review items (Tmall trades of an unknown SKU, pulled from the
    simulator), a customer and a contract scan stored with a phone order."""
    tid = 4123456789012345678 + uuid.uuid4().int % 10**6 * 1000
    at = beijing(datetime.now(UTC) - timedelta(seconds=20))
    for n in (0, 100):
        trade = samples.tmall_trade(tid + n, at, [samples.tmall_sub_order(tid + n + 1, samples.PLATE, 1)])
        marketplace.put_order("tmall", sim_shop_key("hardware", "tmall_flagship"), trade)
    pull(api, "tmall_flagship")
    items = api.ingest.ListReviewItems(pb.ListReviewItemsRequest(page_size=500), metadata=HW.metadata()).items
    by_tid = {x.external_id: x.item_id for x in items}
    code, name = f"UG-{uuid.uuid4().hex[:8].upper()}", "不可信录入 Untrusted Ingest"
    request = customer_pb2.CreateCustomerRequest(code=code, name=name, sales_owner="陈丽")
    customer = api.customers.CreateCustomer(request, metadata=HW.metadata()).customer
    scan = pb.Attachment(filename="合同.png", content_type="image/png", data=PNG)
    form = api.ingest.SubmitPhoneOrder(phone(customer.customer_id, scan), metadata=HW.metadata())
    return dict(
        item=by_tid[str(tid)],
        fuzz_item=by_tid[str(tid + 100)],
        fuzz_line=str(tid + 101),  # its sub-order, which a resolution may map to a product
        customer_id=customer.customer_id,
        sha=form.attachments[0].sha256,
    )


def phone(customer_id: str, *attachments: pb.Attachment) -> pb.SubmitPhoneOrderRequest:
    return pb.SubmitPhoneOrderRequest(
        idempotency_key=f"phone-{uuid.uuid4().hex}",
        customer_id=customer_id,
        due_date=scenario.due(),
        lines=[scenario.line()],
        attachments=attachments,
    )


def code_of(call, request, caller: scenario.Caller = HW) -> grpc.StatusCode:
    code, exc, _ = status_of(call, request, caller.metadata())
    assert code not in NEVER, (code, exc and exc.details())
    return code


def violations(call, request, caller: scenario.Caller = HW) -> dict[str, str]:
    """The field violations of an INVALID_ARGUMENT answer: field -> description."""
    code, exc, _ = status_of(call, request, caller.metadata())
    assert code == BAD, (code, exc and exc.details())
    found = {}
    for detail in rpc_status.from_call(exc).details:
        if detail.Unpack(bad := error_details_pb2.BadRequest()):
            found |= {v.field: v.description for v in bad.field_violations}
    return found


def made_by_agents(api) -> tuple[int, int]:
    """Hardware's CHANNEL_AGENT orders and today's upload runs."""
    orders, token = [], ""
    while True:
        request = order_pb2.ListOrdersRequest(page_size=500, page_token=token)
        page = api.orders.ListOrders(request, metadata=HW.metadata(), timeout=TIMEOUT_S)
        orders += page.orders
        if not (token := page.next_page_token):
            break
    runs = api.ingest.GetIngestReport(pb.GetIngestReportRequest(), metadata=HW.metadata()).runs
    return sum(o.channel == order_pb2.CHANNEL_AGENT for o in orders), sum(r.source == "upload" for r in runs)


SHEET = "xl/worksheets/sheet1.xml"
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE z [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><workbook>&b;</workbook>'
)


def good_row(i: int) -> list[object]:
    hinge = ["HB-2040 铰链 hinge", i + 1, 0.85, "电镀 plating", "银色 silver", "纸箱 carton"]
    return ["MIDEA-SD", *hinge, "顺德北滘3号仓", date.today() + timedelta(days=15), ""]


VALID = agent_sheet(good_row(0))  # a title row, the header, one good row
HEADER = next(openpyxl.load_workbook(io.BytesIO(VALID)).active.iter_rows(2, 2, values_only=True))


def many_rows(n: int) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("订单")
    for row in [HEADER, *(good_row(i) for i in range(n))]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def repack(edits: dict[str, bytes | None], zeros_mb: int = 0) -> bytes:
    """VALID's package with parts replaced, removed (None) or added, and a member of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new, zipfile.ZipFile(io.BytesIO(VALID)) as good:
        for name, data in ({n: good.read(n) for n in good.namelist()} | edits).items():
            if data is not None:
                new.writestr(name, data)
        if zeros_mb:
            with new.open("xl/media/zeros.bin", "w") as member:
                for _ in range(zeros_mb):
                    member.write(bytes(MB))
    return out.getvalue()


def understated() -> bytes:
    """VALID with its sheet's declared size 10 bytes short (local header and central directory)."""
    data = bytearray(VALID)
    info = zipfile.ZipFile(io.BytesIO(VALID)).getinfo(SHEET)
    struct.pack_into("<I", data, info.header_offset + 22, info.file_size - 10)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        if data[central + 46 : central + 46 + len(SHEET)] == SHEET.encode():
            struct.pack_into("<I", data, central + 24, info.file_size - 10)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


# --- UploadAgentSheet: a refused file names `data` and creates nothing ---

FILES = {
    "random bytes": (lambda: os.urandom(4096), "file.not_spreadsheet"),
    "html": (lambda: b"<!DOCTYPE html><html><body><h1>502</h1></body></html>", "file.not_spreadsheet"),
    "truncated zip": (lambda: VALID[: len(VALID) // 2], "file.corrupt"),
    "zip header only": (lambda: VALID[:30], "file.corrupt"),
    "old .xls": (lambda: bytes.fromhex("d0cf11e0a1b11ae1") + bytes(4096), "file.xls"),
    "300 MB of zeros": (lambda: repack({}, zeros_mb=300), "file.zip_bomb"),
    "a part inflating past its size": (understated, "file.zip_bomb"),
    "1,001 parts": (lambda: repack({f"xl/media/{i}.png": b"" for i in range(1001)}), "file.zip_bomb"),
    "entities in workbook.xml": (lambda: repack({"xl/workbook.xml": LAUGHS}), "file.corrupt"),
    "no workbook.xml": (lambda: repack({"xl/workbook.xml": None}), "file.not_spreadsheet"),
    "10,001 rows": (lambda: many_rows(10_001), "file.too_many_rows"),
}


@pytest.mark.parametrize("name", FILES)
def test_a_hostile_file_is_refused_on_data_and_creates_nothing(api, name):
    data, reason = FILES[name][0](), FILES[name][1]
    assert len(data) < 4 * MB  # under gRPC's default message limit (see the test below)
    before = made_by_agents(api)
    request = pb.UploadAgentSheetRequest(filename="订单.xlsx", data=data)
    found = violations(api.ingest.UploadAgentSheet, request)
    assert list(found) == ["data"] and found["data"].startswith(f"{reason}: "), found
    assert made_by_agents(api) == (before[0], before[1] + 1)  # nothing made; the refusal is reported
    runs = api.ingest.GetIngestReport(pb.GetIngestReportRequest(), metadata=HW.metadata()).runs
    newest = next(r for r in runs if r.source == "upload")
    assert (newest.counts.rejected, newest.error.split(":")[0]) == (1, reason)


def test_the_good_file_the_hostile_ones_are_made_from_makes_its_order(api):
    before = made_by_agents(api)
    request = pb.UploadAgentSheetRequest(filename="好.xlsx", data=VALID)
    done = api.ingest.UploadAgentSheet(request, metadata=HW.metadata())
    assert (done.duplicate, done.rows_ok, done.rows_bad) == (False, 1, 0)
    assert made_by_agents(api) == (before[0] + 1, before[1] + 1)  # what the refusals are compared by


# --- phone forms: attachments are what they say and within 5 MB ---


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "field"),
    [
        ("合同.jpg", "image/jpeg", PNG, "attachments[0].data"),  # a PNG called a JPEG
        ("合同.png", "image/png", PDF, "attachments[0].data"),
        ("合同.pdf", "application/pdf", b"<html>" + PDF, "attachments[0].data"),
        ("合同.exe", "application/x-msdownload", b"MZ" + bytes(64), "attachments[0].content_type"),
        ("合同.pdf", "application/pdf", b"", "attachments[0].data"),
        ("合\n同.png", "image/png", PNG, "attachments[0].filename"),
    ],
)
def test_an_attachment_lying_about_its_type_is_refused_naming_it(
    api, hw, filename, content_type, data, field
):
    request = phone(hw["customer_id"], pb.Attachment(filename=filename, content_type=content_type, data=data))
    assert set(violations(api.ingest.SubmitPhoneOrder, request)) == {field}


def test_a_sub_order_mapped_twice_is_refused_naming_the_second(api, hw):
    line = pb.ReviewLine(
        sub_order_id="1", line=order_pb2.OrderLine(product_model="BK-310 支架 bracket", quantity=1)
    )
    request = pb.ResolveReviewItemRequest(item_id=hw["item"], decision=ACCEPT, lines=[line, line])
    assert set(violations(api.ingest.ResolveReviewItem, request)) == {"lines[1].sub_order_id"}


def test_a_review_item_id_in_capitals_is_the_same_item(api, hw):
    request = pb.GetReviewItemRequest(item_id=hw["item"].upper())
    assert api.ingest.GetReviewItem(request, metadata=HW.metadata()).item.item_id == hw["item"]


# The servers admit messages as large as the contract allows (services/chassis/server.py), so the
# contract's own limits answer, naming the field, instead of gRPC's 4 MiB default.
@pytest.mark.parametrize("case", ["attachment over 5 MB", "attachment of 4.5 MB", "upload of 5 MB"])
def test_messages_the_contract_allows_or_refuses_by_field_reach_the_checks(api, hw, case):
    scan = pb.Attachment(filename="合同.pdf", content_type="application/pdf", data=PDF)
    scan.data += bytes((5 * MB + 1 if "over" in case else int(4.5 * MB)) - len(PDF))
    if case == "upload of 5 MB":
        request = pb.UploadAgentSheetRequest(filename="大.xlsx", data=b"x" * (5 * MB))
        assert violations(api.ingest.UploadAgentSheet, request)["data"].startswith("file.not_spreadsheet: ")
    elif case == "attachment over 5 MB":
        request = phone(hw["customer_id"], scan)
        assert set(violations(api.ingest.SubmitPhoneOrder, request)) == {"attachments[0].data"}
    else:
        assert code_of(api.ingest.SubmitPhoneOrder, phone(hw["customer_id"], scan)) == OK


# --- ids, keys, tokens and days of every wrong shape ---

BAD_IDS = ["", "not-a-uuid", "0" * 32, f"{{{uuid.uuid4()}}}", "' OR 1=1 --", "\x00" * 36]


def test_review_items_answer_not_found_or_name_the_bad_field(api, hw):
    resolve, get = api.ingest.ResolveReviewItem, api.ingest.GetReviewItem
    absent = str(uuid.uuid4())
    for decision, note in ((REJECT, "无此单 no such item"), (ACCEPT, "")):
        request = pb.ResolveReviewItemRequest(item_id=absent, decision=decision, note=note)
        assert code_of(resolve, request) == MISSING
    assert code_of(get, pb.GetReviewItemRequest(item_id=absent)) == MISSING
    for bad in BAD_IDS:
        request = pb.ResolveReviewItemRequest(item_id=bad, decision=REJECT, note="x")
        assert set(violations(resolve, request)) == {"item_id"}, repr(bad)
        assert set(violations(get, pb.GetReviewItemRequest(item_id=bad))) == {"item_id"}, repr(bad)
    for note in ("", "   "):
        request = pb.ResolveReviewItemRequest(item_id=hw["item"], decision=REJECT, note=note)
        assert set(violations(resolve, request)) == {"note"}, repr(note)
    assert set(violations(resolve, pb.ResolveReviewItemRequest(item_id=hw["item"], note="x"))) == {"decision"}
    item = get(pb.GetReviewItemRequest(item_id=hw["item"]), metadata=HW.metadata()).item
    assert item.state == pb.REVIEW_STATE_OPEN  # nothing of the above touched it


def test_a_bad_shop_key_or_sha_is_refused_and_an_unknown_one_is_not_found(api):
    assert code_of(api.ingest.PullShop, pb.PullShopRequest(shop="no_such_shop")) == MISSING
    for shop in ["TMALL_FLAGSHIP", "t" * 200, "tmall\x00flagship", "tmall\nflagship", "jd-pop", "", "商店"]:
        assert set(violations(api.ingest.PullShop, pb.PullShopRequest(shop=shop))) == {"shop"}, repr(shop)
    get = api.ingest.GetAttachment
    assert code_of(get, pb.GetAttachmentRequest(sha256=os.urandom(32).hex())) == MISSING
    for sha in ["", "A" * 64, "0" * 63, "0" * 65, "../../etc/passwd", "g" * 64, "0" * 63 + "\n"]:
        assert set(violations(get, pb.GetAttachmentRequest(sha256=sha))) == {"sha256"}, repr(sha)


def test_a_forged_page_token_and_an_impossible_day_are_refused(api):
    parts = [b"2026-11-25T00:00:00+00:00|not-a-uuid", f"yesterday|{uuid.uuid4()}".encode(), b"\xff|\x80"]
    for token in [
        "!!not base64!!",
        "QUJD",
        "A" * 201,
        *(base64.urlsafe_b64encode(x).decode() for x in parts),
    ]:
        request = pb.ListReviewItemsRequest(page_token=token)
        assert set(violations(api.ingest.ListReviewItems, request)) == {"page_token"}, token
    report = api.ingest.GetIngestReport
    for y, m, d in [(2026, 2, 30), (2026, 13, 1), (0, 1, 1), (10_000, 1, 1), (2026, 0, 0), (-1, -1, -1)]:
        day = date_pb2.Date(year=y, month=m, day=d)
        assert set(violations(report, pb.GetIngestReportRequest(day_from=day))) == {"day_from"}
        assert set(violations(report, pb.GetIngestReportRequest(day_to=day))) == {"day_to"}
    first, last = date_pb2.Date(year=1, month=1, day=1), date_pb2.Date(year=9999, month=12, day=31)
    assert code_of(report, pb.GetIngestReportRequest(day_from=first, day_to=last)) == OK


# --- another tenant sees nothing of hardware's; the wrong roles get nothing at all ---


def test_autoparts_never_sees_hardwares_review_items_shops_or_attachments(api, hw):
    for state in (0, 1, 2, 3, 4):
        listed = api.ingest.ListReviewItems(pb.ListReviewItemsRequest(state=state), metadata=AP.metadata())
        assert hw["item"] not in {x.item_id for x in listed.items}
    assert code_of(api.ingest.GetReviewItem, pb.GetReviewItemRequest(item_id=hw["item"]), AP) == MISSING
    reject = pb.ResolveReviewItemRequest(item_id=hw["item"], decision=REJECT, note="不是我的 not mine")
    assert code_of(api.ingest.ResolveReviewItem, reject, AP) == MISSING
    assert code_of(api.ingest.PullShop, pb.PullShopRequest(shop="tmall_flagship"), AP) == MISSING
    shops = api.ingest.ListShops(pb.ListShopsRequest(), metadata=AP.metadata()).shops
    assert not {s.shop for s in shops} & {"tmall_flagship", "jd_pop", "pdd_store"}
    assert code_of(api.ingest.GetAttachment, pb.GetAttachmentRequest(sha256=hw["sha"]), AP) == MISSING
    item = api.ingest.GetReviewItem(pb.GetReviewItemRequest(item_id=hw["item"]), metadata=HW.metadata()).item
    assert item.state == pb.REVIEW_STATE_OPEN


def test_the_same_file_uploaded_by_two_tenants_is_two_uploads(api):
    data = api.ingest.GetUploadTemplate(pb.GetUploadTemplateRequest(), metadata=AP.metadata()).data
    request = pb.UploadAgentSheetRequest(filename="模板.xlsx", data=data)
    first = {c.tenant: api.ingest.UploadAgentSheet(request, metadata=c.metadata()) for c in (HW, AP)}
    assert [r.duplicate for r in first.values()] == [False, False]
    assert first["hardware"].run_id != first["autoparts"].run_id
    for caller, other in ((HW, "autoparts"), (AP, "hardware")):
        again = api.ingest.UploadAgentSheet(request, metadata=caller.metadata())
        assert (again.duplicate, again.run_id) == (True, first[caller.tenant].run_id)
        report = api.ingest.GetIngestReport(pb.GetIngestReportRequest(), metadata=caller.metadata())
        runs = {r.run_id for r in report.runs}
        assert first[caller.tenant].run_id in runs and first[other].run_id not in runs


PORTAL = scenario.Caller("hardware", "客户", ("customer",), customer_id=str(uuid.uuid4()))
LEAD = scenario.Caller("hardware", "孙志刚", ("workshop_lead",))


@pytest.mark.parametrize("caller", [PORTAL, LEAD], ids=["portal", "workshop_lead"])
def test_a_portal_account_or_a_workshop_lead_is_denied_every_ingest_rpc(api, hw, caller):
    every = {
        "SubmitPhoneOrder": phone(hw["customer_id"]),
        "GetAttachment": pb.GetAttachmentRequest(sha256=hw["sha"]),
        "ListShops": pb.ListShopsRequest(),
        "PullShop": pb.PullShopRequest(shop="tmall_flagship"),
        "ListReviewItems": pb.ListReviewItemsRequest(),
        "GetReviewItem": pb.GetReviewItemRequest(item_id=hw["item"]),
        "ResolveReviewItem": pb.ResolveReviewItemRequest(item_id=hw["item"], decision=REJECT, note="x"),
        "GetUploadTemplate": pb.GetUploadTemplateRequest(),
        "UploadAgentSheet": pb.UploadAgentSheetRequest(filename="订单.xlsx", data=many_rows(2)),
        "GetIngestReport": pb.GetIngestReportRequest(),
    }
    assert set(every) == set(pb.DESCRIPTOR.services_by_name["IngestService"].methods_by_name)
    before = made_by_agents(api)
    for rpc, request in every.items():
        code, exc, _ = status_of(getattr(api.ingest, rpc), request, caller.metadata())
        assert code == grpc.StatusCode.PERMISSION_DENIED, (rpc, code, exc and exc.details())
    assert made_by_agents(api) == before


# --- random bytes and random strings: never INTERNAL or UNKNOWN ---

FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
BYTES = st.one_of(
    st.binary(min_size=1, max_size=4096),
    st.builds(lambda tail: b"PK\x03\x04" + tail, st.binary(max_size=2048)),
    st.builds(lambda n: VALID[:n], st.integers(1, len(VALID) - 1)),  # every truncation of a good file
)


@FUZZ
@given(data=BYTES)
def test_random_bytes_in_an_upload_never_answer_internal(api, data):
    request = pb.UploadAgentSheetRequest(filename="x.xlsx", data=data)
    code = code_of(api.ingest.UploadAgentSheet, request)
    event(code.name)
    assert code in (BAD, OK)


@FUZZ
@given(data=st.data())
def test_random_strings_in_a_resolution_never_answer_internal(api, hw, data):
    def text(valid: str) -> str:
        return data.draw(st.one_of(st.just(valid), RANDOM_TEXT))

    line = scenario.line(model=text("HB-2040 铰链 hinge"), colour=text("银色 silver"))
    request = pb.ResolveReviewItemRequest(
        item_id=text(hw["fuzz_item"]),
        decision=data.draw(st.sampled_from([ACCEPT, REJECT])),
        customer_id=text(""),
        delivery_address=text(""),
        note=text("x"),
        lines=[pb.ReviewLine(sub_order_id=text(hw["fuzz_line"]), line=line)],
    )
    event(code_of(api.ingest.ResolveReviewItem, request).name)
