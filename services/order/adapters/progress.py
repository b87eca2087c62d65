"""Each work order's stage as production's reports told it (work_order_progress), and the routes
of the caller's orders' lines, for ListOrderProgress."""

from __future__ import annotations

from sqlalchemy import Connection, select

from services.chassis import identity
from services.chassis.db import insert_for
from services.chassis.scoping import scoped
from services.order.adapters.tables import order_lines, orders
from services.order.adapters.tables import work_order_progress as table

# Orders production has work orders for: approved and on (a change pending included).
IN_PRODUCTION = (
    "ORDER_STATE_APPROVED",
    "ORDER_STATE_IN_PRODUCTION",
    "ORDER_STATE_QC_PASSED",
    "ORDER_STATE_READY_TO_SHIP",
    "ORDER_STATE_SHIPPED",
    "ORDER_STATE_CLOSED",
    "ORDER_STATE_PENDING_CHANGE",
)


class ProgressRepository:
    def __init__(self, db: Connection):
        self._db = db

    def moved(self, work_order_id: str, order_id: str, work_order_no: str, workshop: str, stage: str) -> None:
        """A work order reached a stage (its newest report: the consumer drops older ones)."""
        stmt = insert_for(self._db, table).values(
            work_order_id=work_order_id,
            tenant_id=identity.current().tenant_id,
            order_id=order_id,
            work_order_no=work_order_no,
            workshop=workshop,
            stage=stage,
        )
        self._db.execute(stmt.on_conflict_do_update(index_elements=["work_order_id"], set_={"stage": stage}))

    def of_orders(
        self, order_ids: list[str]
    ) -> dict[str, tuple[dict[int, tuple[str, ...]], dict[str, tuple[str, str]]]]:
        """For each of these orders the caller may see (a portal account: its own) that production
        has work orders for: its lines' routes and the stages reported by workshop."""
        visible = scoped(
            select(orders.c.order_id).where(
                orders.c.order_id.in_(order_ids), orders.c.state.in_(IN_PRODUCTION)
            ),
            orders,
            customer_column="customer_id",
        )
        ids = [r.order_id for r in self._db.execute(visible)]
        if not ids:
            return {}
        out: dict[str, tuple[dict[int, tuple[str, ...]], dict[str, tuple[str, str]]]] = {
            i: ({}, {}) for i in ids
        }
        lines = select(
            order_lines.c.order_id, order_lines.c.line_no, order_lines.c.workshop, order_lines.c.route
        )
        for r in self._db.execute(lines.where(order_lines.c.order_id.in_(ids))):
            out[r.order_id][0][r.line_no] = tuple(r.route or ()) or ((r.workshop,) if r.workshop else ())
        reports = select(table.c.order_id, table.c.workshop, table.c.stage, table.c.work_order_no)
        for r in self._db.execute(reports.where(table.c.order_id.in_(ids))):
            out[r.order_id][1][r.workshop] = (r.stage, r.work_order_no)
        return out
