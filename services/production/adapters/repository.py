"""Work orders of the caller's tenant."""

from __future__ import annotations

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, true, update

from services.chassis import identity
from services.chassis.errors import NotFound
from services.chassis.paging import decode_token, instant_part, keyset_page, matching
from services.chassis.scoping import Scoped, scoped
from services.production.adapters.tables import work_order_lines, work_orders
from services.production.domain.model import Stage, WorkOrder, WorkOrderLine


class WorkOrderRepository:
    def __init__(self, db: Connection, track):
        self._db = db
        self._track = track

    def add(self, wo: WorkOrder) -> None:
        self._db.execute(
            _INSERT_WORK_ORDER,
            dict(
                work_order_id=wo.work_order_id,
                tenant_id=identity.current().tenant_id,
                work_order_no=wo.work_order_no,
                order_id=wo.order_id,
                order_no=wo.order_no,
                workshop=wo.workshop,
                stage=wo.stage.value,
                due_date=wo.due_date,
                created_at=wo.created_at,
                order_version=wo.order_version,
            ),
        )
        self._insert_lines(wo)
        self._track(wo)

    def save(self, wo: WorkOrder) -> None:
        """Write a revised work order back: its lines replaced, its due date and version updated."""
        self._db.execute(
            update(work_orders)
            .where(work_orders.c.work_order_id == wo.work_order_id)
            .values(due_date=wo.due_date, order_version=wo.order_version, stage=wo.stage.value)
        )
        self._db.execute(delete(work_order_lines).where(work_order_lines.c.work_order_id == wo.work_order_id))
        self._insert_lines(wo)
        self._track(wo)

    def _insert_lines(self, wo: WorkOrder) -> None:
        self._db.execute(
            _INSERT_LINES,
            [
                dict(
                    work_order_id=wo.work_order_id,
                    line_no=i,
                    product_model=x.product_model,
                    quantity=x.quantity,
                    colour=x.colour,
                    surface_treatment=x.surface_treatment,
                )
                for i, x in enumerate(wo.lines)
            ],
        )

    def get(self, work_order_id: str) -> WorkOrder:
        found = self._find(work_orders.c.work_order_id == work_order_id, limit=1)
        if not found:
            raise NotFound(f"work order {work_order_id} not found")
        return found[0]

    def for_order(self, order_id: str) -> list[WorkOrder]:
        """The work orders of one order (every approval of an order asks this)."""
        return self._hydrate(self._db.execute(*_FOR_ORDER.bind(order_id=order_id)).all())

    def _find(self, condition, limit: int) -> list[WorkOrder]:
        query = scoped(select(work_orders), work_orders).where(condition)
        return self._hydrate(
            self._db.execute(
                query.order_by(work_orders.c.created_at.desc(), work_orders.c.work_order_no).limit(limit)
            ).all()
        )

    def _hydrate(self, rows) -> list[WorkOrder]:
        if not rows:
            return []
        lines: dict[str, list[WorkOrderLine]] = {r.work_order_id: [] for r in rows}
        for ln in self._db.execute(
            select(work_order_lines)
            .where(work_order_lines.c.work_order_id.in_(list(lines)))
            .order_by(work_order_lines.c.line_no)
        ):
            lines[ln.work_order_id].append(
                WorkOrderLine(ln.product_model, ln.quantity, ln.colour, ln.surface_treatment)
            )
        return [
            WorkOrder(
                r.work_order_id,
                r.work_order_no,
                r.order_id,
                r.order_no,
                r.workshop,
                r.due_date,
                lines[r.work_order_id],
                r.created_at,
                Stage(r.stage),
                r.order_version,
            )
            for r in rows
        ]

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(
        self,
        *,
        order_id: str = "",
        order_no: str = "",
        workshop: str = "",
        stage: Stage | None = None,
        page_size: int,
        page_token: str = "",
    ) -> tuple[list[WorkOrder], str]:
        """One keyset page, newest first and then by number: (created_at desc, work_order_no)."""
        conditions = []
        if order_id:
            conditions.append(work_orders.c.order_id == order_id)
        if order_no:
            conditions.append(work_orders.c.order_no == order_no)
        if workshop:
            conditions.append(work_orders.c.workshop == workshop)
        if stage is not None:
            conditions.append(work_orders.c.stage == stage.value)
        if page_token:
            created, number = decode_token(page_token, instant_part, _WORK_ORDER_NO)
            conditions.append(
                or_(
                    work_orders.c.created_at < created,
                    and_(work_orders.c.created_at == created, work_orders.c.work_order_no > number),
                )
            )
        found = self._find(and_(true(), *conditions), limit=page_size + 1)
        return keyset_page(found, page_size, lambda w: (w.created_at.isoformat(), w.work_order_no))


_INSERT_WORK_ORDER = insert(work_orders)
_INSERT_LINES = insert(work_order_lines)
_FOR_ORDER = Scoped(
    select(work_orders)
    .where(work_orders.c.order_id == bindparam("order_id"))
    .order_by(work_orders.c.created_at.desc(), work_orders.c.work_order_no)
    .limit(500),
    work_orders,
)
_WORK_ORDER_NO = matching(r"[A-Z0-9][A-Za-z0-9-]{0,47}")
