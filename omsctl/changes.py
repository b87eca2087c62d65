"""Change control as omsctl shows it: the proposal a change request sends (built from the order as
read and what was typed), the field-level diff between two revisions (computed here, lines
matched by their line number), and the lines people read for a diff and an impact preview.

Pure functions over proto messages and text: no calls, no printing (omsctl/__main__.py calls and
prints).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from google.type.date_pb2 import Date

from oms.order.v1 import order_pb2
from omsctl import display as d
from omsctl.client import UsageError, match_option

# What `order change` may set on one line (the attribute of LineEdit -> the flag that sets it).
LINE_EDIT_FLAGS = {
    "colour": "--colour",
    "surface_treatment": "--treatment",
    "quantity": "--quantity",
    "packaging": "--packaging",
    "unit_price_fen": "--price",
}


@dataclass
class LineEdit:
    """`--line N` and the field flags after it: what to set on line N (None = keep)."""

    line_no: int
    colour: str | None = None
    surface_treatment: str | None = None
    quantity: int | None = None
    packaging: str | None = None
    unit_price_fen: int | None = None

    def fields(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in LINE_EDIT_FLAGS if getattr(self, name) is not None}


def propose(
    order: order_pb2.Order,
    options: order_pb2.TenantOptions,
    *,
    edits: Sequence[LineEdit] = (),
    add: Sequence[order_pb2.OrderLine] = (),
    remove: Iterable[int] = (),
    due: Date | None = None,
    priority: order_pb2.Priority = order_pb2.PRIORITY_UNSPECIFIED,
    delivery_address: str | None = None,
) -> order_pb2.OrderContent:
    """The order's whole new content, as RequestOrderChange takes it: the order as read, with the
    edits applied to the lines they name (which keep their line_no), the removed lines left out
    and the added lines appended with line_no 0. Colours, treatments, packaging and workshops may
    be typed by name (the tenant's option libraries turn them into the values they hold).

    UsageError (one line, before anything is sent) for a line the order does not have, a line
    both changed and removed, a proposal without lines, nothing to change, or an order read
    without its prices (sending it back would set every price to 0)."""
    remove = sorted(set(remove))
    numbers = [x.line_no for x in order.lines]
    for n in [e.line_no for e in edits] + remove:
        if n not in numbers:
            raise UsageError(
                f"order {order.order_no} has no line {n} (its lines: {', '.join(map(str, numbers))}; "
                f"omsctl order show {order.order_no})"
            )
    both = sorted({e.line_no for e in edits} & set(remove))
    if both:
        raise UsageError(f"line {both[0]} is both changed (--line) and removed (--remove-line)")
    empty = [e.line_no for e in edits if not e.fields()]
    if empty:
        flags = ", ".join(LINE_EDIT_FLAGS.values())
        raise UsageError(f"--line {empty[0]} changes nothing: follow it with one of {flags}")
    if not (edits or add or remove or due is not None or priority or delivery_address is not None):
        raise UsageError(
            "nothing to change: give --line N with --colour/--treatment/--quantity/--packaging/--price, "
            "--due, --priority, --address, --add-line or --remove-line (or --cancel-order)"
        )
    if order.prices_withheld:
        raise UsageError(
            f"prices are withheld from you, so order {order.order_no} was read without them and a "
            "change built from it would set every price to 0: ask someone who may see prices "
            "(sales, approver, manager) to request it"
        )
    routed = {r.product_model for r in options.routes}
    content = order_pb2.OrderContent(
        due_date=due if due is not None else order.due_date,
        priority=priority or order.priority or order_pb2.PRIORITY_NORMAL,
        delivery_address=order.delivery_address if delivery_address is None else delivery_address,
        custom_fields=order.custom_fields,
    )
    by_line: dict[int, dict[str, object]] = {}
    for e in edits:
        by_line.setdefault(e.line_no, {}).update(e.fields())
    for line in order.lines:
        if line.line_no in remove:
            continue
        kept = order_pb2.OrderLine()
        kept.CopyFrom(line)
        del kept.route[:]  # the service keeps a line's route; it is not proposed
        if line.product_model in routed:
            kept.workshop = ""  # routed: the routing (or a planner's override) decides, not us
        for name, value in by_line.get(line.line_no, {}).items():
            setattr(kept, name, value)
        content.lines.append(_named(kept, options))
    for line in add:
        new = order_pb2.OrderLine()
        new.CopyFrom(line)
        new.line_no = 0  # a new line: the service numbers it
        new.workshop = _workshop_code(new.workshop, options)
        content.lines.append(_named(new, options))
    if not content.lines:
        raise UsageError(
            "a change cannot remove every line: to cancel the order, "
            f"omsctl order change {order.order_no} --cancel-order --reason …"
        )
    return content


def _named(line: order_pb2.OrderLine, options: order_pb2.TenantOptions) -> order_pb2.OrderLine:
    """Values typed by name ("gold", "金色") -> the option library's own ("金色 gold")."""
    for name, allowed in (
        ("colour", options.colours),
        ("surface_treatment", options.surface_treatments),
        ("packaging", options.packaging),
    ):
        value = getattr(line, name)
        if value and allowed:
            setattr(line, name, match_option(value, list(allowed)))
    return line


def _workshop_code(text: str, options: order_pb2.TenantOptions) -> str:
    by_name = {w.name: w.code for w in options.workshops}
    if not text or text in by_name.values():
        return text
    return by_name.get(match_option(text, list(by_name)), text)


# --- the diff between two revisions, computed here ---

LINE_FIELDS = {  # as the order service labels them in its own diffs
    "product_model": "型号 product model",
    "quantity": "数量 quantity",
    "colour": "颜色 colour",
    "surface_treatment": "表面处理 surface treatment",
    "workshop": "车间 workshop",
    "unit_price_fen": "单价(分) unit price (fen)",
    "packaging": "包装 packaging",
}


def describe_line(line: order_pb2.OrderLine) -> str:
    parts = [line.product_model, f"×{line.quantity}", line.colour, line.surface_treatment, line.packaging]
    return " ".join(p for p in [*parts, line.workshop] if p) + f" @{line.unit_price_fen}"


def diff_contents(a: order_pb2.OrderContent, b: order_pb2.OrderContent) -> list[order_pb2.FieldChange]:
    """Every field that differs from `a` to `b`, lines matched by line_no, in the order service's
    own paths and labels (so it reads like the diffs the service stores)."""
    out: list[order_pb2.FieldChange] = []

    def changed(path: str, label: str, before: str, after: str) -> None:
        if before != after:
            out.append(order_pb2.FieldChange(path=path, label=label, before=before, after=after))

    changed("due_date", "交期 due date", d.day(a.due_date), d.day(b.due_date))
    changed(
        "priority",
        "优先级 priority",
        order_pb2.Priority.Name(a.priority),
        order_pb2.Priority.Name(b.priority),
    )
    changed("delivery_address", "交货地址 delivery address", a.delivery_address, b.delivery_address)
    fields_a = {f.key: f.value for f in a.custom_fields}
    fields_b = {f.key: f.value for f in b.custom_fields}
    for key in sorted(fields_a.keys() | fields_b.keys()):
        changed(
            f"custom_fields.{key}",
            f"自定义字段 custom field {key}",
            fields_a.get(key, ""),
            fields_b.get(key, ""),
        )
    lines_a = {x.line_no: x for x in a.lines}
    lines_b = {x.line_no: x for x in b.lines}
    for n in sorted(lines_a.keys() | lines_b.keys()):
        old, new = lines_a.get(n), lines_b.get(n)
        if old is None or new is None:
            changed(
                f"lines[{n}]",
                f"第{n}行 line {n}",
                describe_line(old) if old else "",
                describe_line(new) if new else "",
            )
            continue
        for name, label in LINE_FIELDS.items():
            changed(
                f"lines[{n}].{name}",
                f"第{n}行 line {n} {label}",
                str(getattr(old, name)),
                str(getattr(new, name)),
            )
    return out


# --- what people read ---


def _value(path: str, text: str, withheld: bool) -> str:
    if path.endswith("unit_price_fen"):
        if withheld:
            return d.WITHHELD
        return d.price_fen(int(text)) if text.lstrip("-").isdigit() else (text or d.NONE)
    if not text:
        return d.NONE
    if path.endswith(".quantity") and text.isdigit():
        return d.quantity(int(text))
    if re.fullmatch(r"lines\[\d+\]", path):  # a whole line: "HB-2040 ×5000 … @85" (price in fen)
        return re.sub(r" @(\d+)$", lambda m: " @" + d.price_fen(int(m.group(1))), text)
    return d.name_label(text)


def diff_lines(changes: Iterable[order_pb2.FieldChange], withheld: bool = False) -> list[str]:
    """One line per field: "第1行 line 1 颜色 colour: 银色 silver → 金色 gold"."""
    out = []
    for f in changes:
        label = f.label.replace("单价(分) unit price (fen)", "单价 unit price")
        out.append(
            d.clean(f"{label}: {_value(f.path, f.before, withheld)} → {_value(f.path, f.after, withheld)}")
        )
    return out or ["(无 none)"]


def impact_lines(impact: order_pb2.ChangeImpact, workshop_name, withheld: bool = False) -> list[str]:
    """The impact preview: work orders (stage, touched or not), materials needed before and after
    the change, reserved and already issued, the value the change would scrap, and any peer that
    could not answer with the notes saying why. `workshop_name` turns a code into its name."""
    out = ["生产工单 Work orders"]
    out += [
        "  " + row
        for row in d.table(
            [
                "工单号 Work order",
                "车间 Workshop",
                "阶段 Stage",
                "产品 Product",
                "数量 Qty",
                "受影响 Touched",
            ],
            [
                (
                    w.work_order_no,
                    workshop_name(w.workshop),
                    d.name_label(w.stage),
                    "、".join(w.product_models) or d.NONE,
                    d.quantity(w.quantity),
                    d.yes_no(w.touched),
                )
                for w in impact.work_orders
            ],
            right={4},
            limits={3: 40},
        )
    ]
    out.append("物料 Materials")
    out += [
        "  " + row
        for row in d.table(
            ["物料 Material", "单位 Unit", "变更前 Before", "变更后 After", "已锁 Reserved", "已发料 Issued"],
            [
                (
                    m.material,
                    m.unit,
                    d.amount(m.needed_before),
                    d.amount(m.needed_after),
                    d.amount(m.reserved),
                    d.amount(m.issued),
                )
                for m in impact.materials
            ],
            right={2, 3, 4, 5},
        )
    ]
    out.append(f"报废价值 Scrap value: {d.money(impact.scrap_value_fen, withheld)}")
    if impact.unavailable:
        out.append(
            f"不完整 Incomplete: {'、'.join(impact.unavailable)} 未应答 did not answer; its part is missing"
        )
    out += [f"注 Note: {n}" for n in impact.notes]
    return [d.clean(x) for x in out]


def short_id(change_id: str) -> str:
    """What people type and read for a change: the first 8 characters of its id."""
    return change_id[:8]
