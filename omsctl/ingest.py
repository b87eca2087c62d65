"""Order intake in omsctl (接单): the marketplace shops and their pulls, the review queue
(待审核), agents' spreadsheets (template out, filled-in file in, error report back) and the
ingest report."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from google.type import date_pb2

from oms.ingest.v1 import ingest_pb2
from oms.order.v1 import order_pb2
from omsctl import display as d
from omsctl.client import Client
from omsctl.output import as_json, emit, more

SHOP_HEADERS = [
    "店铺 Shop",
    "平台 Platform",
    "名称 Name",
    "已拉取至 Pulled until",
    "下次 Next",
    "失败 Failures",
    "错误 Error",
]
REVIEW_HEADERS = [
    "编号 Item",
    "来源 Source",
    "店铺 Shop",
    "平台单号 Platform order",
    "原因 Reasons",
    "时间 Opened",
]
COUNT_HEADERS = [
    "收到 Received",
    "新建 Created",
    "更新 Updated",
    "重复 Duplicates",
    "跳过 Skipped",
    "拒绝 Rejected",
    "待审 Review",
    "取消 Cancelled",
]
COUNTERS = ("received", "created", "updated", "duplicates", "skipped", "rejected", "review", "cancelled")
STATES = {
    "open": ingest_pb2.REVIEW_STATE_OPEN,
    "accepted": ingest_pb2.REVIEW_STATE_ACCEPTED,
    "rejected": ingest_pb2.REVIEW_STATE_REJECTED,
    "withdrawn": ingest_pb2.REVIEW_STATE_WITHDRAWN,
}


def register(add: Callable[..., argparse.ArgumentParser], paging: Callable[..., None]) -> None:
    sp = add("shops", cmd_shops, "marketplace shops and how far each is pulled (电商店铺)")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("pull", cmd_pull, "pull one shop's orders now (立即拉单)")
    sp.add_argument("shop", help="the shop's key in the tenant file, e.g. tmall_flagship")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("review", cmd_review, "the review queue: orders a person must decide (待审核)")
    sp.add_argument("--state", choices=sorted(STATES), default="open")
    sp.add_argument("--source", choices=["marketplace", "upload", "form"], default="")
    paging(sp, 50)
    sp = add("review-show", cmd_review_show, "one review item with its reasons and raw record")
    sp.add_argument("item", help="review item id")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("review-accept", cmd_review_accept, "accept a review item: the order is made (接受)")
    sp.add_argument("item", help="review item id")
    sp.add_argument("--customer", default="", help="bill this customer (code or id) instead of the shop's")
    sp.add_argument(
        "--remember-buyer", action="store_true", help="the buyer's later orders follow --customer"
    )
    sp.add_argument("--address", default="", help="the decrypted delivery address (masked receivers)")
    sp.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="SUB:MODEL:QTY[:PRICE_FEN[:COLOUR[:TREATMENT[:PACKAGING]]]]",
        help="make this sub-order as this product (an unknown SKU); repeatable",
    )
    sp.add_argument("--note", default="", help="why, e.g. 买家确认改为金色")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("review-reject", cmd_review_reject, "reject a review item, with the reason (拒绝)")
    sp.add_argument("item", help="review item id")
    sp.add_argument("--note", required=True, help="why it is rejected")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("upload-template", cmd_template, "save the agents' order template (.xlsx) (下载模板)")
    sp.add_argument("--out", default="", help="file to write (default: the name the server gives)")
    sp = add("upload", cmd_upload, "upload an agent's filled-in template; bad rows come back in a report")
    sp.add_argument("file", help="the .xlsx file")
    sp.add_argument(
        "--report", default="", help="where to write the error report (default: <file>.errors.xlsx)"
    )
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add(
        "ingest-report", cmd_report, "what came in and what became of it, per day and channel (接单报表)"
    )
    sp.add_argument("--from", dest="day_from", type=_day, help="first day, YYYY-MM-DD (default today)")
    sp.add_argument("--to", dest="day_to", type=_day, help="last day, YYYY-MM-DD (default today)")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")


def cmd_shops(c: Client, a) -> int:
    reply = c.call("ingest", "ListShops", ingest_pb2.ListShopsRequest())
    if a.json:
        as_json(reply)
        return 0
    rows = [
        [
            s.shop,
            s.platform,
            s.name + (" ★" if s.flagship else "") + ("" if s.enabled else " (停用 off)"),
            d.local_time(s.pulled_until if s.HasField("pulled_until") else None, c.zone),
            d.local_time(s.next_pull_at if s.HasField("next_pull_at") else None, c.zone),
            str(s.failures),
            s.last_error or d.NONE,
        ]
        for s in reply.shops
    ]
    emit(d.table(SHOP_HEADERS, rows, right={5}))
    return 0


def cmd_pull(c: Client, a) -> int:
    reply = c.call("ingest", "PullShop", ingest_pb2.PullShopRequest(shop=a.shop))
    if a.json:
        as_json(reply)
        return 0
    emit(_run_card(c, reply.run))
    return 1 if reply.run.error else 0


def cmd_review(c: Client, a) -> int:
    request = ingest_pb2.ListReviewItemsRequest(
        state=STATES[a.state], source=a.source, page_size=a.limit, page_token=a.page_token or ""
    )
    reply = c.call("ingest", "ListReviewItems", request)
    if a.json:
        as_json(list(reply.items))
    else:
        rows = [
            [
                x.item_id,
                x.source,
                x.shop or d.NONE,
                x.external_id,
                ", ".join(r.code for r in x.reasons),
                d.local_time(x.opened_at, c.zone),
            ]
            for x in reply.items
        ]
        emit(d.table(REVIEW_HEADERS, rows))
    more(reply.next_page_token, a.json)
    return 0


def cmd_review_show(c: Client, a) -> int:
    item = c.call("ingest", "GetReviewItem", ingest_pb2.GetReviewItemRequest(item_id=a.item)).item
    if a.json:
        as_json(item)
        return 0
    emit(_item_card(c, item))
    return 0


def cmd_review_accept(c: Client, a) -> int:
    customer = c.resolve_customer(a.customer) if a.customer else ""
    request = ingest_pb2.ResolveReviewItemRequest(
        item_id=a.item,
        decision=ingest_pb2.ResolveReviewItemRequest.DECISION_ACCEPT,
        customer_id=customer,
        remember_buyer=a.remember_buyer,
        delivery_address=a.address,
        lines=[_review_line(x) for x in a.line],
        note=a.note,
    )
    item = c.call("ingest", "ResolveReviewItem", request).item
    if a.json:
        as_json(item)
    else:
        emit([f"已接受 accepted: {item.order_no}"])
    return 0


def cmd_review_reject(c: Client, a) -> int:
    request = ingest_pb2.ResolveReviewItemRequest(
        item_id=a.item, decision=ingest_pb2.ResolveReviewItemRequest.DECISION_REJECT, note=a.note
    )
    item = c.call("ingest", "ResolveReviewItem", request).item
    if a.json:
        as_json(item)
    else:
        emit([f"已拒绝 rejected: {item.item_id}"])
    return 0


def cmd_template(c: Client, a) -> int:
    reply = c.call("ingest", "GetUploadTemplate", ingest_pb2.GetUploadTemplateRequest())
    path = Path(a.out or reply.filename)
    path.write_bytes(reply.data)
    emit([f"模板已保存 template saved: {path}"])
    return 0


def cmd_upload(c: Client, a) -> int:
    path = Path(a.file)
    reply = c.call(
        "ingest",
        "UploadAgentSheet",
        ingest_pb2.UploadAgentSheetRequest(filename=path.name, data=path.read_bytes()),
    )
    report = Path(a.report or f"{path}.errors.xlsx")
    if reply.error_report:
        report.write_bytes(reply.error_report)
    if a.json:
        as_json(reply)
        return 0 if not reply.rows_bad else 1
    lines = []
    if reply.duplicate:
        lines.append("此文件已上传过，未新建任何订单 this file was uploaded before; nothing new was created")
    lines.append(
        f"成功 good rows: {reply.rows_ok}   错误 bad rows: {reply.rows_bad}"
        f"   订单 orders: {len(reply.orders)}"
    )
    lines += [f"  {o.order_no}  rows {', '.join(str(r) for r in o.rows)}" for o in reply.orders]
    lines += [f"  ⚠ {w}" for w in reply.warnings[:50]]
    if reply.error_report:
        lines.append(f"错误报告 error report: {report}")
    emit(lines)
    return 0 if not reply.rows_bad else 1


def cmd_report(c: Client, a) -> int:
    request = ingest_pb2.GetIngestReportRequest(day_from=a.day_from, day_to=a.day_to)
    reply = c.call("ingest", "GetIngestReport", request)
    if a.json:
        as_json(reply)
        return 0
    rows = [
        [d.day(x.day), x.source, str(x.runs), *(str(getattr(x.counts, k)) for k in COUNTERS)]
        for x in reply.days
    ]
    rows.append(["合计 Total", "", "", *(str(getattr(reply.totals, k)) for k in COUNTERS)])
    emit(d.table(["日期 Day", "渠道 Channel", "批次 Runs", *COUNT_HEADERS], rows, right=set(range(2, 11))))
    emit([f"待审核 waiting for review: {reply.waiting_for_review}"])
    return 0


def _day(text: str) -> date_pb2.Date:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day like 2026-11-25") from None
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def _review_line(text: str) -> ingest_pb2.ReviewLine:
    parts = text.split(":")
    if len(parts) < 3:
        raise SystemExit(
            f"--line {text!r}: expected SUB:MODEL:QTY[:PRICE_FEN[:COLOUR[:TREATMENT[:PACKAGING]]]]"
        )
    sub, model, qty, *rest = parts
    rest += [""] * (4 - len(rest))
    try:
        quantity, price = int(qty), int(rest[0] or 0)
    except ValueError:
        raise SystemExit(f"--line {text!r}: QTY and PRICE_FEN are whole numbers") from None
    return ingest_pb2.ReviewLine(
        sub_order_id=sub,
        line=order_pb2.OrderLine(
            product_model=model,
            quantity=quantity,
            unit_price_fen=price,
            colour=rest[1],
            surface_treatment=rest[2],
            packaging=rest[3],
        ),
    )


def _run_card(c: Client, run: ingest_pb2.IngestRun) -> list[str]:
    pairs = zip(COUNT_HEADERS, COUNTERS, strict=True)
    counts = "  ".join(f"{h}: {getattr(run.counts, k)}" for h, k in pairs)
    started, finished = d.local_time(run.started_at, c.zone), d.local_time(run.finished_at, c.zone)
    lines = [
        f"{run.source} {run.ref}  {started} → {finished}",
        counts,
    ]
    if run.error:
        lines.append(f"中断 stopped: {run.error}")
    return lines


def _item_card(c: Client, item: ingest_pb2.ReviewItem) -> list[str]:
    lines = [
        f"{item.item_id}  {item.source} {item.platform}/{item.shop}  {item.external_id}",
        f"状态 state: {ingest_pb2.ReviewState.Name(item.state)}   {d.local_time(item.opened_at, c.zone)}",
        *(f"  · {r.code}: {r.message}" for r in item.reasons),
    ]
    if item.order_no:
        lines.append(f"订单 order: {item.order_no}")
    if item.note:
        lines.append(f"备注 note: {item.note}")
    lines += json.dumps(json.loads(item.raw_json or "{}"), ensure_ascii=False, indent=2).splitlines()
    return lines
