"""The work orders of the caller's orders as production's events told them (work_order_progress).
Written by the consumers (as the service, one event at a time), read for ListOrderProgress."""

from __future__ import annotations

import json

from sqlalchemy import Connection, select, update

from services.chassis import identity
from services.chassis.db import insert_for
from services.chassis.scoping import scoped
from services.order.adapters.tables import orders
from services.order.adapters.tables import work_order_progress as table
from services.order.domain.progress import WorkOrderProgress


class ProgressRepository:
    def __init__(self, db: Connection):
        self._db = db

    def made(self, wo: WorkOrderProgress, order_id: str, revision: int) -> None:
        """A work order was created (revision 1, with its step in the route) or revised: its
        lines and workshop, unless a later revision's are known (events may overtake each
        other); its stage only if no stage report came first."""
        lines = {
            "work_order_no": wo.work_order_no,
            "workshop": wo.workshop,
            "line_nos": json.dumps(sorted(wo.line_nos)),
            "revision": revision,
        }
        stmt = insert_for(self._db, table).values(
            work_order_id=wo.work_order_id,
            tenant_id=identity.current().tenant_id,
            order_id=order_id,
            step=wo.step,
            stage=wo.stage,
            cancelled=False,
            **lines,
        )
        newer = table.c.revision <= stmt.excluded.revision
        self._db.execute(
            stmt.on_conflict_do_update(index_elements=["work_order_id"], set_=lines, where=newer)
        )
        if wo.step:  # only the creation says where in the route it is
            self._db.execute(
                update(table).where(table.c.work_order_id == wo.work_order_id).values(step=wo.step)
            )

    def moved(self, work_order_id: str, order_id: str, work_order_no: str, workshop: str, stage: str) -> None:
        """A work order reached a stage (the newest report for it: the consumer drops older ones)."""
        stmt = insert_for(self._db, table).values(
            work_order_id=work_order_id,
            tenant_id=identity.current().tenant_id,
            order_id=order_id,
            work_order_no=work_order_no,
            workshop=workshop,
            step=0,
            stage=stage,
            line_nos="[]",
            revision=0,
            cancelled=False,
        )
        self._db.execute(stmt.on_conflict_do_update(index_elements=["work_order_id"], set_={"stage": stage}))

    def cancelled(self, work_order_id: str) -> None:
        self._db.execute(update(table).where(table.c.work_order_id == work_order_id).values(cancelled=True))

    def of_orders(self, order_ids: list[str]) -> dict[str, list[WorkOrderProgress]]:
        """The work orders of those of these orders the caller may see (a portal account: its own)."""
        visible = scoped(
            select(orders.c.order_id).where(orders.c.order_id.in_(order_ids)),
            orders,
            customer_column="customer_id",
        )
        rows = self._db.execute(
            select(table).where(
                table.c.order_id.in_(visible.scalar_subquery()),
                table.c.tenant_id == identity.current().tenant_id,
            )
        )
        out: dict[str, list[WorkOrderProgress]] = {}
        for r in rows:
            out.setdefault(r.order_id, []).append(
                WorkOrderProgress(
                    r.work_order_id,
                    r.work_order_no,
                    r.workshop,
                    r.step,
                    r.stage,
                    tuple(json.loads(r.line_nos)),
                    r.cancelled,
                )
            )
        return out
