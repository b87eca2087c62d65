"""Delivery batches (分批交货): an order's lines delivered on several dates. Pure Python.

A batch says which quantity of which line goes on which day. When an order has batches, every
line's quantity is spread over its live batches exactly (nothing left unscheduled, nothing twice).
A batch is known by its order and number (HW-20261125-00001/2), so the order lists its batches
and a batch names its order. A change request may move a batch, change its quantities or cancel it
(cancelled batches stay in the order's content, marked, so their history is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.chassis.errors import FieldViolation, InvalidArgument
from services.order.domain.changes import FieldChange, OrderLine


@dataclass(frozen=True)
class DeliveryBatch:
    batch_no: int  # 1, 2, … within its order; never reused
    due_date: date
    quantities: tuple[tuple[int, int], ...]  # (line_no, quantity), by line number
    cancelled: bool = False

    def quantity_of(self, line_no: int) -> int:
        return sum(q for n, q in self.quantities if n == line_no)

    def as_dict(self) -> dict:
        """As stored and as events carry it (oms.order.v1.DeliveryBatchEntry)."""
        return {
            "batch_no": self.batch_no,
            "due_date": self.due_date.isoformat(),
            "lines": [{"line_no": n, "quantity": q} for n, q in self.quantities],
            "cancelled": self.cancelled,
        }

    @classmethod
    def from_dict(cls, d: dict) -> DeliveryBatch:
        return cls(
            int(d["batch_no"]),
            date.fromisoformat(d["due_date"]),
            tuple((int(x["line_no"]), int(x["quantity"])) for x in d["lines"]),
            bool(d.get("cancelled", False)),
        )


def batch_label(order_no: str, batch_no: int) -> str:
    return f"{order_no}/{batch_no}"


def check_batches(
    batches: Sequence[DeliveryBatch], lines: Sequence[OrderLine], today: date, prefix: str = ""
) -> tuple[DeliveryBatch, ...]:
    """Batches numbered (0 = a new one, given the next number) and checked against the lines:
    InvalidArgument naming every problem at once."""
    if not batches:
        return ()
    violations: list[FieldViolation] = []
    line_nos = {x.line_no for x in lines}
    next_no = max((b.batch_no for b in batches), default=0) + 1
    numbered, seen = [], set()
    for i, b in enumerate(batches):
        path = f"{prefix}batches[{i}]"
        if b.batch_no == 0:
            b = DeliveryBatch(next_no, b.due_date, b.quantities, b.cancelled)
            next_no += 1
        elif b.batch_no in seen:
            violations.append(FieldViolation(f"{path}.batch_no", f"batch {b.batch_no} is named twice"))
        seen.add(b.batch_no)
        if not b.cancelled and b.due_date < today:
            violations.append(FieldViolation(f"{path}.due_date", f"{b.due_date} is before today {today}"))
        counted: set[int] = set()
        for j, (line_no, qty) in enumerate(b.quantities):
            where = f"{path}.lines[{j}]"
            if line_no not in line_nos:
                violations.append(FieldViolation(f"{where}.line_no", f"the order has no line {line_no}"))
            elif line_no in counted:
                violations.append(
                    FieldViolation(f"{where}.line_no", f"line {line_no} is named twice in one batch")
                )
            if qty <= 0:
                violations.append(FieldViolation(f"{where}.quantity", "must be more than 0"))
            counted.add(line_no)
        numbered.append(b)
    live = [b for b in numbered if not b.cancelled]
    for line in lines:
        scheduled = sum(b.quantity_of(line.line_no) for b in live)
        if scheduled != line.quantity:
            violations.append(
                FieldViolation(
                    f"{prefix}batches",
                    f"line {line.line_no} ({line.product_model}) orders {line.quantity}, "
                    f"its batches deliver {scheduled}",
                )
            )
    if violations:
        raise InvalidArgument("the delivery batches do not add up to the order", violations)
    return tuple(
        DeliveryBatch(b.batch_no, b.due_date, tuple(sorted(b.quantities)), b.cancelled) for b in numbered
    )


def batch_diff(before: Sequence[DeliveryBatch], after: Sequence[DeliveryBatch]) -> list[FieldChange]:
    old, new = {b.batch_no: b for b in before}, {b.batch_no: b for b in after}
    out = []
    for n in sorted(old.keys() | new.keys()):
        a, b = old.get(n), new.get(n)
        label = f"第{n}批 batch {n}"
        if a is None or b is None:
            out.append(FieldChange(f"batches[{n}]", label, _describe(a), _describe(b)))
            continue
        if a.cancelled != b.cancelled:
            out.append(
                FieldChange(
                    f"batches[{n}].cancelled", f"{label} 取消 cancelled", str(a.cancelled), str(b.cancelled)
                )
            )
        if a.due_date != b.due_date:
            out.append(
                FieldChange(
                    f"batches[{n}].due_date", f"{label} 交期 due date", str(a.due_date), str(b.due_date)
                )
            )
        for line_no in sorted({q[0] for q in a.quantities} | {q[0] for q in b.quantities}):
            qa, qb = a.quantity_of(line_no), b.quantity_of(line_no)
            if qa != qb:
                out.append(
                    FieldChange(
                        f"batches[{n}].lines[{line_no}].quantity",
                        f"{label} 第{line_no}行 数量 quantity",
                        str(qa),
                        str(qb),
                    )
                )
    return out


def _describe(b: DeliveryBatch | None) -> str:
    if b is None:
        return ""
    parts = ", ".join(f"line {n} ×{q}" for n, q in b.quantities)
    return f"{b.due_date}: {parts}" + (" (cancelled)" if b.cancelled else "")
