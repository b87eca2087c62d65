"""The impact of a change on the shop floor (影响评估), assembled from production (work orders, their
stages and the pieces reported) and inventory (materials by BOM: reserved, issued, available, at
risk) when the change is asked for.

Either may be down: its part is left out and named in `unavailable`, with a note for the approver;
the change request itself never fails for it."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol

from services.chassis.errors import DomainError
from services.order.domain.changes import (
    Impact,
    ImpactedMaterial,
    ImpactedWorkOrder,
    OrderContent,
    OrderLine,
    scrap_value,
    touched_models,
)

log = logging.getLogger(__name__)


class ShopFloor(Protocol):
    def work_orders(self, order_id: str) -> list[ImpactedWorkOrder]:
        """The order's work orders (touched=False: the impact decides)."""
        ...

    def materials(
        self, order_id: str, before: tuple[OrderLine, ...], after: tuple[OrderLine, ...]
    ) -> list[ImpactedMaterial]: ...


def assess_impact(
    order_id: str, before: OrderContent, after: OrderContent | None, shop_floor: ShopFloor
) -> Impact:
    unavailable: list[str] = []
    notes: list[str] = []
    touched = touched_models(before, after)
    work_orders: list[ImpactedWorkOrder] = []
    materials: list[ImpactedMaterial] = []
    try:
        work_orders = [
            replace(w, touched=bool(touched & set(w.product_models)))
            for w in shop_floor.work_orders(order_id)
        ]
    except DomainError as exc:  # down, too slow, or refusing this caller: the approver is told
        log.warning("impact of a change to %s: production did not answer: %s", order_id, exc)
        unavailable.append("production")
        notes.append(f"生产服务未应答，工单未列出 production did not answer: {type(exc).__name__}")
    try:
        materials = shop_floor.materials(order_id, before.lines, after.lines if after else ())
    except DomainError as exc:
        log.warning("impact of a change to %s: inventory did not answer: %s", order_id, exc)
        unavailable.append("inventory")
        notes.append(f"库存服务未应答，物料未列出 inventory did not answer: {type(exc).__name__}")
    # Said in words too: approving leaves the order short of these (the approver may wait, or
    # approve and see the reservation come up short).
    notes += [
        f"缺料风险 {m.material} at risk: needs {m.needed_after:g} {m.unit}, holds {m.reserved:g}, "
        f"{m.available:g} more available"
        for m in materials
        if m.at_risk
    ]
    return Impact(
        work_orders=tuple(work_orders),
        materials=tuple(materials),
        scrap_value_fen=scrap_value(before, after, work_orders),
        unavailable=tuple(unavailable),
        notes=tuple(notes),
    )
