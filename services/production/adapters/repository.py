"""Work orders of the caller's tenant, and production's view of each order."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, or_, select, true, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from services.chassis import identity
from services.chassis.errors import NotFound
from services.chassis.paging import decode_token, instant_part, keyset_page, matching
from services.chassis.scoping import Scoped, scoped
from services.production.adapters.tables import (
    production_orders,
    work_order_lines,
    work_order_requirements,
    work_order_revisions,
    work_order_stage_reports,
    work_orders,
)
from services.production.domain.model import (
    ProductionOrder,
    Stage,
    StageReport,
    WorkOrder,
    WorkOrderLine,
    WorkOrderRevision,
)
from services.production.domain.requirements import Requirements


class WorkOrderRepository:
    def __init__(self, db: Connection, track):
        self._db = db
        self._track = track
        # The work orders each order had when its row was locked (order_for_update): nothing else
        # adds one while the lock is held, so save_order knows which to insert without a read.
        self._stored: dict[str, set[str]] = {}

    # production's view of an order (the aggregate every write goes through)

    def order_for_update(self, order_id: str, order_no: str = "") -> ProductionOrder:
        """The order's row, locked for this transaction (serialises its stage counter and its
        work orders' writes); made first if production has not seen the order yet, without a
        race between two first events of one order."""
        tenant = identity.current().tenant_id
        made = None
        if order_no:
            made = self._db.execute(
                _ensure_order_statement(self._db.dialect.name, production_orders),
                dict(
                    order_id=order_id,
                    tenant_id=tenant,
                    order_no=order_no,
                    order_version=0,
                    updated_at=datetime.now(UTC),
                ),
            ).first()
        # A row this transaction made is its own until commit (a second first event of the order
        # waits on it), so it needs no locking read; and it has no work orders yet: they are
        # written only through this locked row (save_order), and migration 0008 gave every order
        # that had some its row.
        row = made or self._db.execute(*_ORDER_FOR_UPDATE.bind(order_id=order_id)).one_or_none()
        if row is None:
            raise NotFound(f"order {order_id} has no work orders")
        work = [] if made else self.for_order(order_id)
        self._stored[order_id] = {wo.work_order_id for wo in work}
        po = ProductionOrder(
            row.order_id,
            row.order_no,
            row.order_version,
            row.revision,
            row.frozen,
            row.change_id,
            row.cancelled,
            row.stage_sequence,
            work,
        )
        self._track_order(po)
        return po

    def save_order(self, po: ProductionOrder) -> None:
        self._db.execute(
            _SAVE_ORDER,
            dict(
                key_order_id=po.order_id,
                order_version=po.order_version,
                revision=po.revision,
                frozen=po.frozen,
                change_id=po.change_id,
                cancelled=po.cancelled,
                stage_sequence=po.stage_sequence,
                updated_at=datetime.now(UTC),
            ),
        )
        existing = self._stored.get(po.order_id)
        if existing is None:  # not read through order_for_update in this unit of work
            existing = set(self._db.execute(_WORK_ORDER_IDS, {"order_id": po.order_id}).scalars())
        new = [wo for wo in po.work_orders if wo.work_order_id not in existing]
        for wo in po.work_orders:
            if wo.work_order_id in existing:
                self.save(wo)
        self._add_all(new)
        existing.update(wo.work_order_id for wo in new)
        self._stored[po.order_id] = existing
        self._track_order(po)

    def _track_order(self, po: ProductionOrder) -> None:
        # Work orders first: their events (created, revised) come before the order's own
        # (requirements changed) in the outbox.
        for wo in po.work_orders:
            self._track(wo)
        self._track(po)

    # work orders

    def add(self, wo: WorkOrder) -> None:
        self._add_all([wo])

    def _add_all(self, wos: list[WorkOrder]) -> None:
        """New work orders, each table written in one statement (an order makes several)."""
        if not wos:
            return
        tenant = identity.current().tenant_id
        self._db.execute(
            _INSERT_WORK_ORDER,
            [
                dict(
                    work_order_id=wo.work_order_id,
                    tenant_id=tenant,
                    work_order_no=wo.work_order_no,
                    order_id=wo.order_id,
                    order_no=wo.order_no,
                    workshop=wo.workshop,
                    stage=wo.stage.value,
                    due_date=wo.due_date,
                    created_at=wo.created_at,
                    order_version=wo.order_version,
                    step=wo.step,
                    revision=wo.revision,
                    order_revision=wo.order_revision,
                    frozen=wo.frozen,
                    cancelled=wo.cancelled,
                    good_quantity=wo.good_quantity,
                    scrap_quantity=wo.scrap_quantity,
                )
                for wo in wos
            ],
        )
        self._insert_lines(wos)
        self._insert_requirements(wos)
        for wo in wos:
            self._write_history(wo)
            self._track(wo)

    def save(self, wo: WorkOrder) -> None:
        """Write a work order back; a revised one gets its new lines and requirements, and the
        revisions it superseded are kept."""
        self._db.execute(
            _SAVE_WORK_ORDER,
            dict(
                key_work_order_id=wo.work_order_id,
                due_date=wo.due_date,
                order_version=wo.order_version,
                stage=wo.stage.value,
                step=wo.step,
                revision=wo.revision,
                order_revision=wo.order_revision,
                frozen=wo.frozen,
                cancelled=wo.cancelled,
                good_quantity=wo.good_quantity,
                scrap_quantity=wo.scrap_quantity,
            ),
        )
        if wo.superseded:
            self._db.execute(_DELETE_LINES, {"work_order_id": wo.work_order_id})
            self._insert_lines([wo])
            self._insert_requirements([wo])
        self._write_history(wo)
        self._track(wo)

    def _write_history(self, wo: WorkOrder) -> None:
        tenant = identity.current().tenant_id
        if wo.superseded:
            self._db.execute(
                _INSERT_REVISIONS,
                [
                    dict(
                        work_order_id=r.work_order_id,
                        revision=r.revision,
                        tenant_id=tenant,
                        order_revision=r.order_revision,
                        due_date=r.due_date,
                        lines=[x.as_dict() for x in r.lines],
                        stage=r.stage.value,
                        superseded_at=r.superseded_at,
                        change_id=r.change_id,
                    )
                    for r in wo.superseded
                ],
            )
            wo.superseded.clear()
        if wo.new_reports:
            self._db.execute(
                _INSERT_STAGE_REPORTS,
                [
                    dict(
                        tenant_id=tenant,
                        work_order_id=r.work_order_id,
                        revision=r.revision,
                        reported_at=r.reported_at,
                        reported_by=r.reported_by,
                        from_stage=r.from_stage.value,
                        to_stage=r.to_stage.value,
                        good_quantity=r.good_quantity,
                        scrap_quantity=r.scrap_quantity,
                        note=r.note,
                    )
                    for r in wo.new_reports
                ],
            )
            wo.new_reports.clear()

    def _insert_lines(self, wos: list[WorkOrder]) -> None:
        rows = [
            dict(
                work_order_id=wo.work_order_id,
                line_no=i,
                product_model=x.product_model,
                quantity=x.quantity,
                colour=x.colour,
                surface_treatment=x.surface_treatment,
                packaging=x.packaging,
                order_line_no=x.line_no,
            )
            for wo in wos
            for i, x in enumerate(wo.lines)
        ]
        if rows:
            self._db.execute(_INSERT_LINES, rows)

    def _insert_requirements(self, wos: list[WorkOrder]) -> None:
        tenant = identity.current().tenant_id
        rows = [
            dict(
                work_order_id=wo.work_order_id,
                revision=wo.revision,
                material=material,
                unit=unit,
                tenant_id=tenant,
                quantity=quantity,
            )
            for wo in wos
            for (material, unit), quantity in wo.requirements.items()
        ]
        if rows:
            self._db.execute(_INSERT_REQUIREMENTS, rows)

    def get(self, work_order_id: str) -> WorkOrder:
        found = self._find(work_orders.c.work_order_id == work_order_id, limit=1)
        if not found:
            raise NotFound(f"work order {work_order_id} not found")
        return found[0]

    def for_order(self, order_id: str) -> list[WorkOrder]:
        """The work orders of one order, by number."""
        found = self._hydrate(self._db.execute(*_FOR_ORDER.bind(order_id=order_id)).all())
        return sorted(found, key=lambda w: w.work_order_no)

    def stage_reports(self, work_order_id: str, latest: int = 200) -> list[StageReport]:
        """Its stage reports, oldest first: the `latest` ones (progress reports can come every
        few minutes for weeks; every stage move is among the few of a work order's last ones)."""
        newest = (
            scoped(select(work_order_stage_reports), work_order_stage_reports)
            .where(work_order_stage_reports.c.work_order_id == work_order_id)
            .order_by(work_order_stage_reports.c.id.desc())
            .limit(latest)
        )
        rows = sorted(self._db.execute(newest).all(), key=lambda r: r.id)
        return [
            StageReport(
                r.work_order_id,
                r.revision,
                r.reported_at,
                r.reported_by,
                Stage(r.from_stage),
                Stage(r.to_stage),
                r.good_quantity,
                r.scrap_quantity,
                r.note,
            )
            for r in rows
        ]

    def revisions(self, work_order_id: str) -> list[WorkOrderRevision]:
        """The superseded revisions, oldest first, each with the requirements it had."""
        rows = self._db.execute(
            scoped(select(work_order_revisions), work_order_revisions)
            .where(work_order_revisions.c.work_order_id == work_order_id)
            .order_by(work_order_revisions.c.revision)
        ).all()
        needed = self._requirements([work_order_id])
        return [
            WorkOrderRevision(
                r.work_order_id,
                r.revision,
                r.order_revision,
                r.due_date,
                [WorkOrderLine.from_dict(x) for x in r.lines],
                Stage(r.stage),
                r.superseded_at,
                r.change_id,
                needed.get((work_order_id, r.revision), {}),
            )
            for r in rows
        ]

    def _requirements(
        self, ids: list[str], revisions: list[tuple[str, int]] | None = None
    ) -> dict[tuple[str, int], Requirements]:
        """Requirements by (work order, revision): of every revision of `ids`, or only of the
        (work order, revision) pairs in `revisions` (a list shows the current ones: the older
        revisions' rows grow with every change and are read only by ListWorkOrderRevisions)."""
        R = work_order_requirements
        where = (
            R.c.work_order_id.in_(ids)
            if revisions is None
            else tuple_(R.c.work_order_id, R.c.revision).in_(revisions)
        )
        out: dict[tuple[str, int], Requirements] = {}
        for r in self._db.execute(select(R).where(where)):
            out.setdefault((r.work_order_id, r.revision), {})[(r.material, r.unit)] = r.quantity
        return out

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
                WorkOrderLine(
                    ln.product_model,
                    ln.quantity,
                    ln.colour,
                    ln.surface_treatment,
                    ln.packaging,
                    ln.order_line_no,
                )
            )
        needed = self._requirements(list(lines), [(r.work_order_id, r.revision) for r in rows])
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
                step=r.step,
                revision=r.revision,
                order_revision=r.order_revision,
                frozen=r.frozen,
                cancelled=r.cancelled,
                good_quantity=r.good_quantity,
                scrap_quantity=r.scrap_quantity,
                requirements=needed.get((r.work_order_id, r.revision), {}),
            )
            for r in rows
        ]

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(
        self,
        *,
        order_id: str = "",
        order_no: str = "",
        work_order_no: str = "",
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
        if work_order_no:
            conditions.append(work_orders.c.work_order_no == work_order_no)
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


@functools.cache
def _ensure_order_statement(dialect: str, table: Table):
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    # The row when this statement made it, nothing when it was there already.
    return ins.on_conflict_do_nothing(index_elements=["order_id"]).returning(*table.c)


_INSERT_WORK_ORDER = insert(work_orders)
_INSERT_LINES = insert(work_order_lines)
_INSERT_REQUIREMENTS = insert(work_order_requirements)
_INSERT_REVISIONS = insert(work_order_revisions)
_INSERT_STAGE_REPORTS = insert(work_order_stage_reports)
_ORDER_FOR_UPDATE = Scoped(
    select(production_orders).where(production_orders.c.order_id == bindparam("order_id")).with_for_update(),
    production_orders,
)
# SET takes the other parameters' names (order_version=…, frozen=…); the key has a name of its own.
_SAVE_ORDER = update(production_orders).where(production_orders.c.order_id == bindparam("key_order_id"))
_SAVE_WORK_ORDER = update(work_orders).where(work_orders.c.work_order_id == bindparam("key_work_order_id"))
_DELETE_LINES = delete(work_order_lines).where(work_order_lines.c.work_order_id == bindparam("work_order_id"))
_WORK_ORDER_IDS = select(work_orders.c.work_order_id).where(work_orders.c.order_id == bindparam("order_id"))
_FOR_ORDER = Scoped(
    select(work_orders)
    .where(work_orders.c.order_id == bindparam("order_id"))
    .order_by(work_orders.c.created_at.desc(), work_orders.c.work_order_no)
    .limit(500),
    work_orders,
)
_WORK_ORDER_NO = matching(r"[A-Z0-9][A-Za-z0-9-]{0,47}")
