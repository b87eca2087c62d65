"""omsctl's planning commands: batch tasks (合并生产批次), the shop-floor board (看板), and the rule
dry-run (a merge rule replays in production, a material-lock rule in inventory).

`register(add, paging)` adds them to the parser (omsctl/__main__.py build_parser)."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from oms.inventory.v1 import inventory_pb2
from oms.production.v1 import production_pb2
from omsctl import display as d
from omsctl.client import Client, UsageError
from omsctl.output import as_json, emit, more

STAGES = ["STAGE_TO_SCHEDULE", "STAGE_IN_PROCESS", "STAGE_QC_PASSED", "STAGE_READY_TO_SHIP"]
BATCH_LABELS = {"BATCH_STATE_PLANNED": "已合并 Planned", "BATCH_STATE_CANCELLED": "已取消 Cancelled"}


def register(
    add: Callable[..., argparse.ArgumentParser], paging: Callable[[argparse.ArgumentParser, int], None]
) -> None:
    sp = add(
        "batches", cmd_batches, "batch production tasks merged from same-configuration orders (合并生产批次)"
    )
    sp.add_argument(
        "--state", choices=["planned", "cancelled"], help="only planned (已合并) or cancelled ones"
    )
    paging(sp, 50)
    sp = add("board", cmd_board, "open work per workshop and stage, overdue and at-risk work (生产看板)")
    sp.add_argument("--workshop", help="only this workshop: code or name")
    sp.add_argument("--limit", type=_list_limit, default=20, help="work orders per list (1-200, 20)")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add(
        "rule-dry-run",
        cmd_rule_dry_run,
        "replay a merge or material-lock rule on the last days' orders, beside what happened (规则试运行)",
    )
    sp.add_argument(
        "name", nargs="?", default="", help="the rule's name in the tenant file, or a name for a candidate"
    )
    sp.add_argument(
        "--expression",
        default="",
        help="a candidate condition in CEL, e.g. 'orders.size() >= params.min_orders'",
    )
    sp.add_argument(
        "--params", default="", help="the candidate's params as a JSON object, e.g. '{\"min_orders\": 2}'"
    )
    sp.add_argument("--days", type=_days, default=30, help="how far back (1-365, 30)")
    sp.add_argument(
        "--kind",
        choices=["batch_merge", "material_lock"],
        help="the rule's kind (default: from the expression, or the tenant file's rule of that name)",
    )
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")


def _list_limit(text: str) -> int:
    if not re.fullmatch(r"\d{1,3}", text.strip()) or not 1 <= int(text) <= 200:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 1 and 200")
    return int(text)


def _days(text: str) -> int:
    if not re.fullmatch(r"\d{1,3}", text.strip()) or not 1 <= int(text) <= 365:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days between 1 and 365")
    return int(text)


def configuration_text(c: production_pb2.Configuration) -> str:
    return " / ".join(x for x in (c.product_model, c.surface_treatment, c.colour, c.packaging) if x) or d.NONE


# --- batches ---


def cmd_batches(c: Client, a) -> int:
    state = {"planned": production_pb2.BATCH_STATE_PLANNED, "cancelled": production_pb2.BATCH_STATE_CANCELLED}
    request = production_pb2.ListBatchTasksRequest(
        state=state[a.state] if a.state else production_pb2.BATCH_STATE_UNSPECIFIED,
        page_size=a.limit,
        page_token=a.page_token or "",
    )
    reply = c.call("production", "ListBatchTasks", request)
    if a.json:
        as_json(reply)
        return 0
    rows = []
    for t in reply.batch_tasks:
        orders = ", ".join(o.order_no + (" (已取消 cancelled)" if o.cancelled else "") for o in t.orders)
        rows.append(
            (
                t.batch_no,
                configuration_text(t.configuration),
                d.quantity(t.quantity),
                orders,
                d.day(t.due_date),
                BATCH_LABELS.get(production_pb2.BatchState.Name(t.state), d.NONE),
                d.local_time(t.created_at, c.zone),
            )
        )
    headers = [
        "批次号 Batch",
        "配置 Configuration",
        "数量 Qty",
        "订单 Orders",
        "交期 Due",
        "状态 State",
        "合并于 Merged",
    ]
    emit(d.table(headers, rows, right={2}, limits={1: 48, 3: 60}))
    more(reply.next_page_token, a.json)
    return 0


# --- board ---


def cmd_board(c: Client, a) -> int:
    request = production_pb2.GetBoardRequest(
        workshop=c.workshop_code(a.workshop) if a.workshop else "", limit=a.limit
    )
    reply = c.call("production", "GetBoard", request)
    if a.json:
        as_json(reply)
        return 0
    print("\n".join(board_lines(reply, c.workshop_name)))
    return 0


def board_lines(
    reply: production_pb2.GetBoardResponse, workshop_name: Callable[[str], str] = str
) -> list[str]:
    """The board as a table (workshops × stages), then the overdue and at-risk lists with totals."""
    counts: dict[str, dict[str, int]] = {}
    for cell in reply.cells:
        counts.setdefault(cell.workshop, {})[production_pb2.Stage.Name(cell.stage)] = cell.count
    rows = [
        (workshop_name(w), *(str(by_stage.get(s, 0)) for s in STAGES), str(sum(by_stage.values())))
        for w, by_stage in sorted(counts.items())
    ]
    if rows:
        rows.append(
            (
                "合计 Total",
                *(str(sum(b.get(s, 0) for b in counts.values())) for s in STAGES),
                str(sum(cell.count for cell in reply.cells)),
            )
        )
    headers = ["车间 Workshop", *(d.LABELS[s] for s in STAGES), "合计 Total"]
    out = [
        f"生产看板 Board — {d.day(reply.today)}",
        *d.table(headers, rows, right=set(range(1, len(STAGES) + 2))),
    ]
    for title, items, total in (
        (f"逾期 Overdue ({reply.overdue_total})", reply.overdue, reply.overdue_total),
        (
            f"临期 At risk, due within {reply.at_risk_hours:g} h ({reply.at_risk_total})",
            reply.at_risk,
            reply.at_risk_total,
        ),
    ):
        out += ["", title]
        out += d.table(
            ["工单号 Work order", "订单号 Order", "车间 Workshop", "阶段 Stage", "交期 Due"],
            [
                (
                    x.work_order_no,
                    x.order_no,
                    workshop_name(x.workshop),
                    d.label(production_pb2.Stage, x.stage),
                    d.day(x.due_date),
                )
                for x in items
            ],
        )
        if total > len(items):
            out.append(f"… 另有 {total - len(items)} 条 and {total - len(items)} more (--limit)")
    return out


# --- rule dry-run ---


def rule_kind(a) -> str:
    """The kind asked for, or what the expression reads: `orders` (a merge group) or `order`."""
    if a.kind:
        return a.kind
    if re.search(r"\borders\b", a.expression):
        return "batch_merge"
    if re.search(r"\border\b", a.expression):
        return "material_lock"
    return ""


def cmd_rule_dry_run(c: Client, a) -> int:
    if not a.name and not a.expression:
        raise UsageError(
            "name a rule of the tenant file (e.g. merge_same_configuration) or give --expression"
        )
    if a.params:
        try:
            if not isinstance(json.loads(a.params), dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise UsageError(
                f"--params is not a JSON object ({exc}); e.g. --params '{{\"min_orders\": 2}}'"
            ) from None
    kind = rule_kind(a)
    if kind in ("", "batch_merge"):
        try:
            return _show_merge(c, a)
        except grpc.RpcError as exc:
            # a name only, and production has no merge rule of that name: a lock rule, perhaps
            if kind or exc.code() != grpc.StatusCode.INVALID_ARGUMENT or "name" not in _violated_fields(exc):
                raise
    return _show_lock(c, a)


def _violated_fields(exc: grpc.RpcError) -> set[str]:
    status = rpc_status.from_call(exc)
    fields = set()
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields |= {v.field for v in bad.field_violations}
    return fields


def _show_merge(c: Client, a) -> int:
    reply = c.call(
        "production",
        "DryRunRule",
        production_pb2.DryRunRuleRequest(
            kind="batch_merge", name=a.name, expression=a.expression, params_json=a.params, days=a.days
        ),
    )
    if a.json:
        as_json(reply)
        return 0
    print("\n".join(merge_lines(reply)))
    return 0


def merge_lines(reply: production_pb2.DryRunRuleResponse) -> list[str]:
    out = d.card(
        [
            ("规则 Rule", f"{reply.rule}: {reply.expression}"),
            ("参数 Params", reply.params_json),
            (
                "回放 Replayed",
                f"{reply.replayed} 笔订单配置 order configurations of the last {reply.days} days",
            ),
            ("将合并 Would merge", f"{reply.would_merge} 笔 in {len(reply.would_have_made)} batches"),
            ("实际合并 Merged", f"{reply.did_merge} 笔 in {len(reply.made)} batches"),
            ("差异 Differences", str(len(reply.differences))),
        ]
    )
    if reply.rule_failures:
        out.append(f"规则出错 rule failed on {reply.rule_failures} groups (counted as no merge)")
    headers = ["批次 Batch", "配置 Configuration", "订单 Orders", "数量 Qty"]
    out += ["", "候选规则将合并 The candidate would have made:"]
    out += d.table(
        headers,
        [
            (f"#{i}", configuration_text(b.configuration), ", ".join(b.order_nos), d.quantity(b.quantity))
            for i, b in enumerate(reply.would_have_made, 1)
        ],
        right={3},
        limits={1: 48},
    )
    out += ["", "实际合并 Actually made:"]
    out += d.table(
        headers,
        [
            (b.batch_no, configuration_text(b.configuration), ", ".join(b.order_nos), d.quantity(b.quantity))
            for b in reply.made
        ],
        right={3},
        limits={1: 48},
    )
    if reply.differences:
        out += ["", "差异 Differences:"]
        out += d.table(
            ["订单号 Order", "配置 Configuration", "候选 Would", "实际 Did"],
            [
                (
                    x.order_no,
                    configuration_text(x.configuration),
                    f"#{x.would_batch}" if x.would_batch else "不合并 alone",
                    x.did_batch_no or "未合并 alone",
                )
                for x in reply.differences
            ],
            limits={1: 48},
        )
    return out


def _show_lock(c: Client, a) -> int:
    reply = c.call(
        "inventory",
        "DryRunRule",
        inventory_pb2.DryRunRuleRequest(
            kind="material_lock", name=a.name, expression=a.expression, params_json=a.params, days=a.days
        ),
    )
    if a.json:
        as_json(reply)
        return 0
    out = d.card(
        [
            ("规则 Rule", f"{reply.rule}: {reply.expression}"),
            ("回放 Replayed", f"{reply.replayed} 笔订单 orders of the last {a.days} days"),
            ("将锁料 Would lock", str(reply.would_lock)),
            ("实际锁料 Locked", str(reply.was_locked)),
        ]
    )
    out += ["", "差异 Differences:"]
    out += d.table(
        ["订单号 Order", "金额 Amount", "候选 Would lock", "实际 Was locked"],
        [
            (x.order_no, d.money(x.amount_fen), d.yes_no(x.would_lock), d.yes_no(x.was_locked))
            for x in reply.differences
        ],
        right={1},
    )
    print("\n".join(out))
    return 0
