"""The material_lock rule (动态锁料): which orders' materials are hard-locked at approval, and a
rule's replay on past reservations (dry-run). Pure Python; CEL lives in services/chassis/rules.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.bom import MaterialLine
from services.chassis.rules import CompiledRule


def order_variables(
    order_no: str, customer_id: str, priority: str, amount_fen: int, lines: Iterable[MaterialLine]
) -> dict[str, Any]:
    """What a material_lock rule sees as `order` (rules.py): the priority as the order contract names
    it ("PRIORITY_HIGH", as batch_merge rules see it too); the amount in yuan, as the plant states
    its thresholds (5万元)."""
    lines = list(lines)
    return {
        "order": {
            "order_no": order_no,
            "customer_id": customer_id,
            "priority": priority,
            "amount_cny": amount_fen / 100,
            "quantity": sum(x.quantity for x in lines),
            "lines": [
                {
                    "product_model": x.product_model,
                    "quantity": x.quantity,
                    "colour": x.colour,
                    "surface_treatment": x.surface_treatment,
                }
                for x in lines
            ],
        }
    }


@dataclass(frozen=True)
class PastOrder:
    """A reservation as the dry-run replays it: the order's facts at its reservation."""

    order_id: str
    order_no: str
    customer_id: str
    priority: str
    amount_fen: int
    lines: tuple[MaterialLine, ...]
    was_locked: bool


@dataclass(frozen=True)
class DryRunCase:
    order_id: str
    order_no: str
    amount_fen: int
    would_lock: bool
    was_locked: bool


@dataclass(frozen=True)
class DryRun:
    rule: str
    expression: str
    replayed: int
    would_lock: int
    was_locked: int
    differences: list[DryRunCase]


MAX_DIFFERENCES = 500  # orders listed where the two differ (the counts stay whole)


def replay(rule: CompiledRule, history: Iterable[PastOrder]) -> DryRun:
    """The rule on each past order, beside what was done then; RuleFailed if it fails on one."""
    cases = [
        DryRunCase(
            o.order_id,
            o.order_no,
            o.amount_fen,
            rule.matches(order_variables(o.order_no, o.customer_id, o.priority, o.amount_fen, o.lines)),
            o.was_locked,
        )
        for o in history
    ]
    return DryRun(
        rule=rule.name,
        expression=rule.expression,
        replayed=len(cases),
        would_lock=sum(c.would_lock for c in cases),
        was_locked=sum(c.was_locked for c in cases),
        differences=[c for c in cases if c.would_lock != c.was_locked][:MAX_DIFFERENCES],
    )
