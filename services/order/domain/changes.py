"""Change control (变更管理): what a change request asks for, the field-level diff between two
versions of an order's content, and the impact a change would have on the shop floor. Pure Python.

An order's *content* is what the customer agreed to: due date, priority and lines. A change
request proposes a whole new content (or cancelling the order); approving it makes that content
the order's next revision (版本) and keeps the old one readable. The diff is computed here, once,
and is what the audit trail, the `order_changed` event and `omsctl` show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from services.chassis.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: `path` for programs (lines[2].colour), `label` for people."""

    path: str
    label: str
    before: str
    after: str

    @property
    def is_price(self) -> bool:
        return self.path.endswith("unit_price_fen")

    def as_dict(self) -> dict:
        return {"path": self.path, "label": self.label, "before": self.before, "after": self.after}

    @classmethod
    def from_dict(cls, d: dict) -> FieldChange:
        return cls(str(d["path"]), str(d["label"]), str(d["before"]), str(d["after"]))


# Labels of line fields as the plant says them (Chinese first, English beside).
LINE_FIELDS: dict[str, str] = {
    "product_model": "型号 product model",
    "quantity": "数量 quantity",
    "colour": "颜色 colour",
    "surface_treatment": "表面处理 surface treatment",
    "workshop": "车间 workshop",
    "unit_price_fen": "单价(分) unit price (fen)",
    "packaging": "包装 packaging",
    "route": "工艺路线 route",
}


@dataclass(frozen=True)
class OrderLine:
    """A line of an order. `line_no` is its identity across versions (1, 2, …, given when the
    order is created; a line added by a change gets the next free number, a removed line's number
    is never reused); 0 on a line not yet numbered."""

    product_model: str
    quantity: int
    workshop: str
    colour: str = ""
    surface_treatment: str = ""
    unit_price_fen: int = 0
    line_no: int = 0
    packaging: str = ""
    # The workshops that make it, in sequence (from the tenant's routing; `workshop` is the
    # first). A planner may change it on the approved order.
    route: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderContent:
    due_date: date
    priority: str
    lines: tuple[OrderLine, ...]
    delivery_address: str = ""
    custom_fields: Mapping[str, str] = field(default_factory=dict)  # key -> normalised value
    batches: tuple = ()  # DeliveryBatch (batches.py), by batch number; none = one delivery

    def line(self, line_no: int) -> OrderLine | None:
        return next((x for x in self.lines if x.line_no == line_no), None)


def diff(before: OrderContent, after: OrderContent) -> list[FieldChange]:
    """Every field that differs, lines matched by line number, in a stable order."""
    out: list[FieldChange] = []
    if before.due_date != after.due_date:
        out.append(FieldChange("due_date", "交期 due date", str(before.due_date), str(after.due_date)))
    if before.priority != after.priority:
        out.append(FieldChange("priority", "优先级 priority", before.priority, after.priority))
    if before.delivery_address != after.delivery_address:
        out.append(
            FieldChange(
                "delivery_address",
                "交货地址 delivery address",
                before.delivery_address,
                after.delivery_address,
            )
        )
    for key in sorted(before.custom_fields.keys() | after.custom_fields.keys()):
        a, b = before.custom_fields.get(key, ""), after.custom_fields.get(key, "")
        if a != b:
            out.append(FieldChange(f"custom_fields.{key}", f"自定义字段 custom field {key}", a, b))
    from services.order.domain.batches import batch_diff  # batches.py builds on this module

    numbers = sorted({x.line_no for x in before.lines} | {x.line_no for x in after.lines})
    for n in numbers:
        old, new = before.line(n), after.line(n)
        if old is None and new is not None:
            out.append(FieldChange(f"lines[{n}]", f"第{n}行 line {n}", "", _describe(new)))
        elif new is None and old is not None:
            out.append(FieldChange(f"lines[{n}]", f"第{n}行 line {n}", _describe(old), ""))
        elif old is not None and new is not None:
            for name, label in LINE_FIELDS.items():
                a, b = _shown(getattr(old, name)), _shown(getattr(new, name))
                if a != b:
                    out.append(FieldChange(f"lines[{n}].{name}", f"第{n}行 line {n} {label}", a, b))
    return out + batch_diff(before.batches, after.batches)


def _shown(value: object) -> str:
    return " → ".join(value) if isinstance(value, tuple) else str(value)


def _describe(line: OrderLine) -> str:
    parts = [
        line.product_model,
        f"×{line.quantity}",
        line.colour,
        line.surface_treatment,
        line.packaging,
        line.workshop,
    ]
    return " ".join(p for p in parts if p) + f" @{line.unit_price_fen}"


def number_new_lines(
    current: OrderContent, proposed_lines: list[OrderLine], prefix: str = "proposed."
) -> tuple[OrderLine, ...]:
    """Lines of a proposal: a line naming an existing number keeps it; line_no 0 is a new line
    and gets the next number after every number the order has used. A number the order does not
    have, or one named twice, is refused."""
    known = {x.line_no for x in current.lines}
    next_no = max(known, default=0) + 1
    seen: set[int] = set()
    violations = []
    out = []
    for i, line in enumerate(proposed_lines):
        if line.line_no == 0:
            out.append(replace(line, line_no=next_no))
            next_no += 1
            continue
        if line.line_no not in known:
            violations.append(
                FieldViolation(f"{prefix}lines[{i}].line_no", f"the order has no line {line.line_no}")
            )
        elif line.line_no in seen:
            violations.append(
                FieldViolation(f"{prefix}lines[{i}].line_no", f"line {line.line_no} is named twice")
            )
        seen.add(line.line_no)
        out.append(line)
    if violations:
        raise InvalidArgument("the proposed lines do not match the order's lines", violations)
    return tuple(out)


class ChangeState(StrEnum):
    PENDING = "CHANGE_STATE_PENDING"
    APPROVED = "CHANGE_STATE_APPROVED"
    REJECTED = "CHANGE_STATE_REJECTED"


CHANGE_LABELS = {
    ChangeState.PENDING: "待审 pending",
    ChangeState.APPROVED: "已批准 approved",
    ChangeState.REJECTED: "已驳回 rejected",
}


@dataclass(frozen=True)
class ImpactedWorkOrder:
    work_order_no: str
    workshop: str
    stage: str  # production's stage name, e.g. STAGE_IN_PROCESS
    product_models: tuple[str, ...]
    quantity: int
    touched: bool  # does the change alter what this work order makes?
    # As production reports them (0 before anything is reported; impacts stored before these
    # existed read back with the defaults).
    good_quantity: int = 0
    scrap_quantity: int = 0
    revision: int = 0  # the work order's own revision
    frozen: bool = False  # a change of the order is pending: no stage moves, no material issue
    step: int = 0  # its place in the line's route, 1 = first

    def pieces_done(self) -> int:
        """Good pieces made so far: what production reported; with nothing reported, all of it
        once the work order is past processing, and all of it as an upper bound while in process
        (the approver sees what may be at stake); none before it started."""
        if self.good_quantity or self.scrap_quantity:
            return self.good_quantity
        return self.quantity if self.stage in WORK_DONE_STAGES else 0


@dataclass(frozen=True)
class ImpactedMaterial:
    material: str
    unit: str
    needed_before: float
    needed_after: float
    reserved: float
    issued: float  # already on the shop floor: what a change scraps first
    # Available to the order beyond what it holds; at risk: the change needs more than the order
    # holds plus that (approving it leaves the order short, e.g. gold plating solution).
    available: float = 0.0
    at_risk: bool = False


@dataclass(frozen=True)
class Impact:
    """What a change would touch, assembled from production and inventory when it was asked for.
    A peer that could not answer is named in `unavailable` (the request still goes ahead)."""

    work_orders: tuple[ImpactedWorkOrder, ...] = ()
    materials: tuple[ImpactedMaterial, ...] = ()
    scrap_value_fen: int = 0  # work already done on touched lines, at the order's unit prices
    unavailable: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "work_orders": [vars(w) | {"product_models": list(w.product_models)} for w in self.work_orders],
            "materials": [vars(m) for m in self.materials],
            "scrap_value_fen": self.scrap_value_fen,
            "unavailable": list(self.unavailable),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Impact:
        return cls(
            work_orders=tuple(
                ImpactedWorkOrder(**(w | {"product_models": tuple(w["product_models"])}))
                for w in d.get("work_orders", [])
            ),
            materials=tuple(ImpactedMaterial(**m) for m in d.get("materials", [])),
            scrap_value_fen=int(d.get("scrap_value_fen", 0)),
            unavailable=tuple(d.get("unavailable", [])),
            notes=tuple(d.get("notes", [])),
        )


# Stages at which work has been done on a work order: changing what it makes scraps that work.
WORK_DONE_STAGES = frozenset({"STAGE_IN_PROCESS", "STAGE_QC_PASSED", "STAGE_READY_TO_SHIP"})


def touched_models(before: OrderContent, after: OrderContent | None) -> set[str]:
    """Product models whose work a change alters: a line removed, reduced, or made differently
    (colour, treatment, model, workshop). Cancelling the order (after=None) touches every line."""
    if after is None:
        return {x.product_model for x in before.lines}
    touched = set()
    for old in before.lines:
        new = after.line(old.line_no)
        if new is None or new.quantity < old.quantity or not _same_make(old, new):
            touched.add(old.product_model)
    return touched


def scrap_value(
    before: OrderContent, after: OrderContent | None, work_orders: list[ImpactedWorkOrder]
) -> int:
    """An estimate, in fen, of the work a change throws away: for each touched model, the pieces
    already made of it (the furthest of its work orders: a piece stamped then plated is one
    piece, counted once), spread over the order's lines of that model in line order, less what
    the new revision still takes of the same line unchanged, at each line's unit price. An upper
    bound where production reported nothing yet (WorkOrder.pieces_done)."""
    touched = touched_models(before, after)
    done: dict[str, int] = {}
    for w in work_orders:
        for model in w.product_models:
            if model in touched:
                done[model] = max(done.get(model, 0), w.pieces_done())
    value = 0
    for line in before.lines:
        made = min(done.get(line.product_model, 0), line.quantity)
        if not made:
            continue
        done[line.product_model] -= made
        new = after.line(line.line_no) if after is not None else None
        kept = new.quantity if new is not None and _same_make(line, new) else 0
        value += max(0, made - kept) * line.unit_price_fen
    return value


def _same_make(old: OrderLine, new: OrderLine) -> bool:
    """Is a piece made for `old` still a piece of `new`?"""
    return (old.product_model, old.colour, old.surface_treatment, old.workshop) == (
        new.product_model,
        new.colour,
        new.surface_treatment,
        new.workshop,
    )


@dataclass(frozen=True)
class Revision:
    """One revision of an order's content: in force from `valid_from` until the next one's."""

    revision: int
    content: OrderContent
    valid_from: datetime
    change_id: str = ""  # the change that made it ("" for revision 1)
    reason: str = ""
    approved_by: str = ""
    diff: tuple[FieldChange, ...] = ()


@dataclass
class ChangeRequest:
    """A request to change (or cancel) an order, with its reason, diff and impact."""

    change_id: str
    order_id: str
    base_revision: int  # the revision it changes
    proposed: OrderContent | None  # None: cancel the order
    reason: str
    requested_by: str
    requested_at: datetime
    diff: list[FieldChange]
    impact: Impact = field(default_factory=Impact)
    state: ChangeState = ChangeState.PENDING
    decided_by: str = ""
    decided_at: datetime | None = None
    decision_note: str = ""

    @property
    def cancels_order(self) -> bool:
        return self.proposed is None

    def decide(self, state: ChangeState, actor: str, now: datetime, note: str) -> None:
        self.state, self.decided_by, self.decided_at, self.decision_note = state, actor, now, note
