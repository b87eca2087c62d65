"""Ingest end to end through the public gRPC API, in both run modes: JD, Pinduoduo and Tmall
shops pulled from the marketplace simulator (in each platform's own API shape), an agent's
spreadsheet, and phone forms with a signed contract scan. Every order is made exactly once, the
review queue holds exactly the expected items with their reasons, a cancellation on the platform
cancels the OMS order, and the report counts it all."""

from __future__ import annotations

import io
import json
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta

import grpc
import openpyxl
from python_calamine import CalamineWorkbook

from oms.customer.v1 import customer_pb2
from oms.ingest.v1 import ingest_pb2
from oms.order.v1 import order_pb2
from services.marketplace_simulator import samples
from services.marketplace_simulator.dev import sim_shop_key
from services.marketplace_simulator.gateways import beijing
from tests.e2e.scenario import Api, Caller, bad_request_fields, due, line

DESK = Caller("hardware", "陈丽", ("sales",))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def put(sim_url: str, platform: str, shop: str, record: dict) -> None:
    body = json.dumps(
        {"platform": platform, "shop": sim_shop_key("hardware", shop), "record": record}
    ).encode()
    request = urllib.request.Request(
        f"{sim_url}/_sim/orders", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def pull(api: Api, shop: str) -> ingest_pb2.IngestRun:
    """PullShop, waiting out the scheduled pull if it holds the shop at this moment."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return api.ingest.PullShop(ingest_pb2.PullShopRequest(shop=shop), metadata=DESK.metadata()).run
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def retail_orders(api: Api) -> dict[str, order_pb2.Order]:
    retail = api.customers.ListCustomers(
        customer_pb2.ListCustomersRequest(code="ONLINE-RETAIL"), metadata=DESK.metadata()
    ).customers[0]
    found = api.orders.ListOrders(
        order_pb2.ListOrdersRequest(customer_id=retail.customer_id, page_size=100), metadata=DESK.metadata()
    ).orders
    return {o.order_no: o for o in found}


def open_items(api: Api) -> dict[str, ingest_pb2.ReviewItem]:
    items = api.ingest.ListReviewItems(
        ingest_pb2.ListReviewItemsRequest(source="marketplace", page_size=100), metadata=DESK.metadata()
    ).items
    return {x.external_id: x for x in items}


def check_marketplace_pulls(api: Api, sim_url: str) -> None:
    # Modified moments ago, as a live shop's orders are: a pull that already ran (the schedule
    # starts with the stack) covers them in its overlap.
    now = datetime.now(UTC)
    at = [beijing(now - timedelta(seconds=s)) for s in (50, 40, 30, 20)]
    hinge, bracket, clip, plate = samples.HINGE, samples.BRACKET, samples.CLIP, samples.PLATE
    tid = 4123456789012345678 + uuid.uuid4().int % 10**6 * 1000  # above 2^53
    records = [
        (
            "tmall",
            "tmall_flagship",
            samples.tmall_trade(tid, at[0], [samples.tmall_sub_order(tid + 1, hinge, 2)], message=""),
        ),
        (
            "tmall",
            "tmall_flagship",
            samples.tmall_trade(
                tid + 100,
                at[1],
                [
                    samples.tmall_sub_order(tid + 101, hinge, 1),
                    samples.tmall_sub_order(
                        tid + 102, clip, 20, refund_status="SUCCESS", status="TRADE_CLOSED"
                    ),
                ],
                message="",
            ),
        ),
        (
            "tmall",
            "tmall_flagship",
            samples.tmall_trade(tid + 200, at[2], [samples.tmall_sub_order(tid + 201, plate, 1)], message=""),
        ),
        ("jd", "jd_pop", samples.jd_order("300099000001", at[0], ((bracket, 3),))),
        ("jd", "jd_pop", samples.jd_order("300099000002", at[1], ((hinge, 1),), remark=samples.MESSAGE)),
        ("jd", "jd_pop", samples.jd_order("300099000003", at[2], ((clip, 1),), state="TRADE_CANCELED")),
        ("pdd", "pdd_store", samples.pdd_order("261126-000000000001", at[0], ((clip, 2),))),
        ("pdd", "pdd_store", samples.pdd_order("261126-000000000002", at[1], ((hinge, 6),), masked=True)),
        (
            "pdd",
            "pdd_store",
            samples.pdd_order("261126-000000000003", at[2], ((hinge, 1),), confirm_status=0),
        ),
    ]
    for platform, shop, record in records:
        put(sim_url, platform, shop, record)
    runs = {shop: pull(api, shop) for shop in ("tmall_flagship", "jd_pop", "pdd_store")}
    assert all(not r.error for r in runs.values()), runs

    orders = retail_orders(api)
    assert len(orders) == 4, (sorted(orders), runs, {k: v.reasons for k, v in open_items(api).items()})
    by_quantity = sorted(
        (o.channel, o.priority, [(x.product_model, x.quantity, x.unit_price_fen) for x in o.lines])
        for o in orders.values()
    )
    assert by_quantity == sorted(
        [
            (order_pb2.CHANNEL_MARKETPLACE, order_pb2.PRIORITY_HIGH, [("HB-2040 铰链 hinge", 200, 45)]),
            (order_pb2.CHANNEL_MARKETPLACE, order_pb2.PRIORITY_HIGH, [("HB-2040 铰链 hinge", 100, 45)]),
            (order_pb2.CHANNEL_MARKETPLACE, order_pb2.PRIORITY_NORMAL, [("BK-310 支架 bracket", 150, 120)]),
            (order_pb2.CHANNEL_MARKETPLACE, order_pb2.PRIORITY_NORMAL, [("SP-08 弹片 spring clip", 1000, 8)]),
        ]
    )
    tmall_first = next(o for o in orders.values() if o.lines[0].quantity == 200)
    assert tmall_first.delivery_address.endswith("天童南路５８８号 🏭 三号楼")  # byte for byte

    items = open_items(api)
    assert {k: [r.code for r in v.reasons] for k, v in items.items()} == {
        str(tid + 200): ["sku.unknown"],
        "300099000002": ["buyer.change_request"],
        "261126-000000000002": ["receiver.masked"],
    }
    assert json.loads(items[str(tid + 200)].raw_json)["tid"] == tid + 200  # the raw record, id exact

    # Pulled again: nothing new is made.
    for shop in ("tmall_flagship", "jd_pop", "pdd_store"):
        assert pull(api, shop).counts.created == 0
    assert len(retail_orders(api)) == 4

    # The first Tmall trade is cancelled on the platform: its OMS order is cancelled.
    later = beijing(datetime.now(UTC) - timedelta(seconds=10))
    put(
        sim_url,
        "tmall",
        "tmall_flagship",
        samples.tmall_trade(
            tid,
            later,
            [samples.tmall_sub_order(tid + 1, hinge, 2)],
            status="TRADE_CLOSED_BY_TAOBAO",
            message="",
        ),
    )
    assert pull(api, "tmall_flagship").counts.cancelled == 1
    cancelled = retail_orders(api)[tmall_first.order_no]
    assert cancelled.state == order_pb2.ORDER_STATE_CANCELLED

    # The unknown SKU is mapped by hand; the colour change request is rejected.
    sub = str(tid + 201)
    accepted = api.ingest.ResolveReviewItem(
        ingest_pb2.ResolveReviewItemRequest(
            item_id=items[str(tid + 200)].item_id,
            decision=ingest_pb2.ResolveReviewItemRequest.DECISION_ACCEPT,
            lines=[
                ingest_pb2.ReviewLine(
                    sub_order_id=sub,
                    line=line("BK-310 支架 bracket", 200, colour="黑色 black", surface="发黑 blackening"),
                )
            ],
            note="安装板按支架发货 customer agreed to brackets",
        ),
        metadata=DESK.metadata(),
    ).item
    assert accepted.state == ingest_pb2.REVIEW_STATE_ACCEPTED and accepted.order_no in retail_orders(api)
    rejected = api.ingest.ResolveReviewItem(
        ingest_pb2.ResolveReviewItemRequest(
            item_id=items["300099000002"].item_id,
            decision=ingest_pb2.ResolveReviewItemRequest.DECISION_REJECT,
            note="买家改色，请重新下单 buyer must reorder in gold",
        ),
        metadata=DESK.metadata(),
    ).item
    assert (rejected.state, rejected.resolved_by) == (ingest_pb2.REVIEW_STATE_REJECTED, "陈丽")
    assert set(open_items(api)) == {"261126-000000000002"}

    shops = {
        s.shop: s for s in api.ingest.ListShops(ingest_pb2.ListShopsRequest(), metadata=DESK.metadata()).shops
    }
    assert all(s.HasField("pulled_until") and s.failures == 0 for s in shops.values()), shops
    report = api.ingest.GetIngestReport(ingest_pb2.GetIngestReportRequest(), metadata=DESK.metadata())
    assert report.waiting_for_review >= 1 and report.totals.created >= 4 and report.totals.cancelled == 1


def check_phone_form_with_a_contract_scan(api: Api, customer_id: str) -> None:
    form = ingest_pb2.SubmitPhoneOrderRequest(
        idempotency_key=f"phone-{uuid.uuid4().hex}",
        customer_id=customer_id,
        due_date=due(),
        lines=[line()],
        attachments=[ingest_pb2.Attachment(filename="合同.png", content_type="image/png", data=PNG)],
        location=ingest_pb2.Location(latitude=29.87, longitude=121.54, accuracy_m=12),
    )
    first = api.ingest.SubmitPhoneOrder(form, metadata=DESK.metadata())
    again = api.ingest.SubmitPhoneOrder(form, metadata=DESK.metadata())
    assert (again.order_no, again.duplicate, first.duplicate) == (first.order_no, True, False)
    scan = first.attachments[0]
    back = api.ingest.GetAttachment(
        ingest_pb2.GetAttachmentRequest(sha256=scan.sha256), metadata=DESK.metadata()
    )
    assert (back.content_type, back.data, scan.size) == ("image/png", PNG, len(PNG))
    # A JPEG that is not one is refused, naming the field; nothing is made.
    bad = ingest_pb2.SubmitPhoneOrderRequest()
    bad.CopyFrom(form)
    bad.idempotency_key = f"phone-{uuid.uuid4().hex}"
    bad.attachments[0].content_type = "image/jpeg"
    try:
        api.ingest.SubmitPhoneOrder(bad, metadata=DESK.metadata())
        raise AssertionError("a PNG declared as JPEG was accepted")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_request_fields(exc) == {"attachments[0].data"}


def agent_sheet(*rows: list[object]) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["华顺五金 十一月订单"])  # a title row above the header, as agents make them
    ws.append(
        [
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
    )
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def check_agent_spreadsheet(api: Api) -> None:
    template = api.ingest.GetUploadTemplate(ingest_pb2.GetUploadTemplateRequest(), metadata=DESK.metadata())
    first_row = CalamineWorkbook.from_filelike(io.BytesIO(template.data)).get_sheet_by_index(0).to_python()[0]
    assert first_row[:3] == ["客户名称", "产品型号", "数量"] and template.filename.endswith(".xlsx")

    agent = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"AG-{uuid.uuid4().hex[:6].upper()}",
            name=f"宁波甬顺五金 {uuid.uuid4().hex[:4]}",
            sales_owner="周强",
        ),
        metadata=DESK.metadata(),
    ).customer
    day = date.today() + timedelta(days=15)
    hinge = ["HB-2040 铰链 hinge", "电镀 plating", "银色 silver", "纸箱 carton"]
    data = agent_sheet(
        ["MIDEA-SD", hinge[0], 3000, 0.85, *hinge[1:], "顺德北滘3号仓", day, ""],  # row 3 \ one order
        [
            "MIDEA-SD",
            "BK-310 支架 bracket",
            "1,500",
            "1.20",
            "发黑 blackening",
            "黑色 black",
            "纸箱 carton",
            "顺德北滘3号仓",
            day,
            "",
        ],
        [
            agent.name,
            hinge[0],
            "２０００",
            0.9,
            *hinge[1:],
            "宁波江北",
            day.strftime("%Y/%m/%d"),
            "加急",
        ],  # row 5
        [
            "MIDEA-SD",
            hinge[0],
            3000,
            0.85,
            *hinge[1:],
            "顺德北滘3号仓",
            day,
            "",
        ],  # row 6: a duplicate of row 3
        [agent.name, hinge[0], "很多", 0.9, *hinge[1:], "宁波江北", day, ""],  # row 7: not a number
        ["不存在的客户", hinge[0], 10, 0.9, *hinge[1:], "宁波", day, ""],  # row 8: no such customer
    )
    request = ingest_pb2.UploadAgentSheetRequest(filename="甬顺11月.xlsx", data=data)
    result = api.ingest.UploadAgentSheet(request, metadata=DESK.metadata())
    assert (result.duplicate, result.rows_ok, result.rows_bad) == (False, 3, 3)
    assert sorted(list(o.rows) for o in result.orders) == [[3, 4], [5]]
    for made in result.orders:
        order = api.orders.GetOrder(
            order_pb2.GetOrderRequest(order_id=made.order_id), metadata=DESK.metadata()
        ).order
        assert (order.order_no, order.channel) == (made.order_no, order_pb2.CHANNEL_AGENT)
    report = CalamineWorkbook.from_filelike(io.BytesIO(result.error_report)).get_sheet_by_index(0).to_python()
    at = {h: i for i, h in enumerate(report[0])}
    assert sorted((int(r[at["行号"]]), r[at["错误代码"]]) for r in report[1:]) == [
        (6, "row.duplicate"),
        (7, "quantity.not_a_number"),
        (8, "customer.unknown"),
    ]
    again = api.ingest.UploadAgentSheet(request, metadata=DESK.metadata())
    assert again.duplicate and [o.order_no for o in again.orders] == [o.order_no for o in result.orders]

    try:
        api.ingest.UploadAgentSheet(
            ingest_pb2.UploadAgentSheetRequest(
                filename="订单.xlsx", data="客户名称,数量\n美的,10\n".encode()
            ),
            metadata=DESK.metadata(),
        )
        raise AssertionError("a CSV renamed .xlsx was accepted")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT and bad_request_fields(exc) == {"data"}
