"""The shop floor in omsctl: work orders (list, show with requirements, reports and revisions)
and 报工 (`omsctl stage WO-HW-20261125-00001-01 in-process --good 100 --scrap 2`).

Work-order numbers are taken wherever an id is asked; stages as their short name, Chinese or
English label (in-process, 加工中, "In process")."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from omsctl import display as d
from omsctl.client import Client, UsageError, is_uuid
from omsctl.output import as_json, more

STAGES = ["to_schedule", "in_process", "qc_passed", "ready_to_ship", "shipped"]
STAGE_HELP = (
    "to_schedule (待排产), in_process (加工中), qc_passed (质检完成), "
    "ready_to_ship (待发货), shipped (已发货)"
)


def stage_name(text: str) -> str:
    """A stage typed as its short name, its Chinese or English label, case and dashes aside."""
    wanted = text.strip().casefold().replace("-", "_").replace(" ", "_")
    for name in STAGES:
        zh, _, en = d.LABELS.get(f"STAGE_{name.upper()}", "").partition(" ")
        if wanted in (name, zh.casefold(), en.casefold().replace(" ", "_")):
            return name
    raise argparse.ArgumentTypeError(f"{text!r} is not one of: {', '.join(STAGES)}")


def pieces(text: str) -> int:
    cleaned = text.strip().replace(",", "").replace("_", "").replace("，", "")
    if not re.fullmatch(r"\d{1,8}", cleaned) or int(cleaned) > 10_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of pieces (0 to 10,000,000)")
    return int(cleaned)


def _stage_value(name: str) -> str:
    return f"STAGE_{name.upper()}"


def register(add: Callable[..., argparse.ArgumentParser], paging: Callable[..., None]) -> None:
    sp = add("work-orders", cmd_work_orders, "list work orders (生产工单)")
    sp.add_argument("--order", help="only this order's: order number or id")
    sp.add_argument("--workshop", help="only this workshop's: code or name")
    sp.add_argument("--stage", type=stage_name, help=STAGE_HELP)
    paging(sp, 100)
    sp = add(
        "work-order-show",
        cmd_work_order_show,
        "a work order: lines, material requirements, stage reports, revisions (工单详情)",
    )
    sp.add_argument("work_order", metavar="work-order", help="work order number (WO-…) or id")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add(
        "stage",
        cmd_stage,
        "report a work order's stage (报工): the next stage, or the same one with more pieces",
    )
    sp.add_argument("work_order", metavar="work-order", help="work order number (WO-…) or id")
    sp.add_argument("stage", type=stage_name, help=STAGE_HELP)
    sp.add_argument("--good", type=pieces, default=0, help="good pieces made (合格数)")
    sp.add_argument("--scrap", type=pieces, default=0, help="pieces scrapped (报废数)")
    sp.add_argument("--note", default="", help="a note for the record (备注)")
    sp.add_argument(
        "--revision", type=pieces, default=0, help="the revision you read (refused if revised since)"
    )
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")


def resolve_work_order(c: Client, text: str) -> str:
    """A work order id, given its id or its number (WO-HW-20261125-00001-01)."""
    if is_uuid(text):
        return text
    if not re.fullmatch(r"[A-Za-z0-9-]{1,48}", text):
        raise UsageError(f"{text!r} is neither a work order number (WO-HW-20261125-00001-01) nor an id")
    request = production_pb2.ListWorkOrdersRequest(work_order_no=text.upper(), page_size=1)
    reply = c.call("production", "ListWorkOrders", request)
    if not reply.work_orders:
        raise UsageError(f"no work order {text.upper()} in business line {c.tenant} (omsctl work-orders)")
    return reply.work_orders[0].work_order_id


def _product(line: production_pb2.WorkOrderLine) -> str:
    return " ".join(x for x in (line.product_model, line.colour, line.surface_treatment, line.packaging) if x)


def _state(w: production_pb2.WorkOrder) -> str:
    stage = d.label(production_pb2.Stage, w.stage)
    if w.cancelled:
        return f"已取消 Cancelled ({stage})"
    return f"{stage} 冻结 frozen" if w.frozen else stage


def cmd_work_orders(c: Client, a) -> int:
    request = production_pb2.ListWorkOrdersRequest(
        workshop=c.workshop_code(a.workshop) if a.workshop else "",
        stage=_stage_value(a.stage) if a.stage else "STAGE_UNSPECIFIED",
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
            workshop = c.workshop_name(w.workshop)
            first = (w.work_order_no, w.order_no, workshop, _state(w), priority, d.day(w.due_date))
            for i, line in enumerate(w.lines or [production_pb2.WorkOrderLine()]):
                product = " ".join(x for x in (line.product_model, line.colour, line.surface_treatment) if x)
                shown = first if i == 0 else ("",) * len(first)
                rows.append((*shown[:3], product or d.NONE, d.quantity(line.quantity), *shown[3:]))
        print(
            "\n".join(
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
        )
    more(reply.next_page_token, a.json)
    return 0


def work_order_card(c: Client, w: production_pb2.WorkOrder) -> list[str]:
    lines = d.card(
        [
            ("工单号 Work order", w.work_order_no),
            ("订单号 Order", w.order_no),
            ("车间 Workshop", f"{c.workshop_name(w.workshop)} (工序 step {w.step})"),
            ("阶段 Stage", _state(w)),
            ("修订 Revision", w.revision),
            ("交期 Due", d.day(w.due_date)),
            ("合格/报废 Good/scrap", f"{d.quantity(w.good_quantity)} / {d.quantity(w.scrap_quantity)}"),
        ]
    )
    lines += ["产品 Lines:"] + [f"  {_product(x)} × {d.quantity(x.quantity)}" for x in w.lines]
    if w.requirements:
        lines += ["物料需求 Materials:"] + [
            f"  {r.material}  {d.amount(r.quantity)} {r.unit}" for r in w.requirements
        ]
    return lines


def cmd_work_order_show(c: Client, a) -> int:
    work_order_id = resolve_work_order(c, a.work_order)
    request = production_pb2.GetWorkOrderRequest(work_order_id=work_order_id)
    reply = c.call("production", "GetWorkOrder", request)
    revisions = c.call(
        "production",
        "ListWorkOrderRevisions",
        production_pb2.ListWorkOrderRevisionsRequest(work_order_id=work_order_id),
    ).revisions
    if a.json:
        as_json(reply)
        return 0
    out = work_order_card(c, reply.work_order)
    if reply.stage_reports:
        out.append("报工 Stage reports:")
        for r in reply.stage_reports:
            when = d.local_time(r.reported_at, c.zone)
            move = d.label(production_pb2.Stage, r.to_stage)
            if r.from_stage != r.to_stage:
                move = f"{d.label(production_pb2.Stage, r.from_stage)} → {move}"
            note = f"  {r.note}" if r.note else ""
            out.append(
                f"  {when}  {r.reported_by}  {move}  +{d.quantity(r.good_quantity)}/"
                f"{d.quantity(r.scrap_quantity)}{note}"
            )
    if len(revisions) > 1:
        out.append("修订 Revisions:")
        for rev in revisions:
            what = ", ".join(f"{_product(x)} × {d.quantity(x.quantity)}" for x in rev.lines)
            since = "当前 current" if rev.current else f"superseded {d.local_time(rev.superseded_at, c.zone)}"
            out.append(f"  r{rev.revision}  {d.day(rev.due_date)}  {what}  ({since})")
    print("\n".join(out))
    return 0


def cmd_stage(c: Client, a) -> int:
    request = production_pb2.ReportStageRequest(
        work_order_id=resolve_work_order(c, a.work_order),
        stage=_stage_value(a.stage),
        good_quantity=a.good,
        scrap_quantity=a.scrap,
        note=a.note,
        expected_revision=a.revision,
    )
    reply = c.call("production", "ReportStage", request)
    if a.json:
        as_json(reply)
        return 0
    print("\n".join(["已报工 reported:", *work_order_card(c, reply.work_order)]))
    return 0
