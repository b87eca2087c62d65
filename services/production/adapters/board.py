"""The board's queries over the caller's tenant's work orders: a few index-only reads, no lines.

The stage filters are SQL literals, the same text as the partial indexes' predicates
(tables.OPEN_WORK / UNFINISHED_WORK): PostgreSQL uses a partial index only when it can prove the
query implies its predicate, which it cannot from bound parameters under a generic plan.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, and_, func, select, text

from services.chassis import identity
from services.production.adapters.tables import (
    OPEN_WORK,
    UNFINISHED_WORK,
    work_order_stage_reports,
    work_orders,
)
from services.production.domain.board import Board, BoardCell, BoardItem, BoardWindow, Completion

_w = work_orders.c


class BoardQueries:
    def __init__(self, db: Connection):
        self._db = db

    def board(self, window: BoardWindow, *, workshop: str = "", limit: int) -> Board:
        tenant = identity.current().tenant_id
        mine = [_w.tenant_id == tenant, *([_w.workshop == workshop] if workshop else [])]
        cells = [
            BoardCell(r.workshop, r.stage, r.n)
            for r in self._db.execute(
                select(_w.workshop, _w.stage, func.count().label("n"))
                .where(*mine, text(OPEN_WORK))
                .group_by(_w.workshop, _w.stage)
                .order_by(_w.workshop, _w.stage)
            )
        ]
        overdue, at_risk = _overdue(window), _at_risk(window)
        risky = window.last_at_risk_day >= window.today
        overdue_total, at_risk_total = self._totals(mine, window)
        completed, completed_total = self._completed(mine, window, limit)
        return Board(
            window,
            cells,
            self._items([*mine, overdue], limit),
            overdue_total,
            self._items([*mine, at_risk], limit) if risky else [],
            at_risk_total if risky else 0,
            completed,
            completed_total,
        )

    def _completed(self, mine: list, window: BoardWindow, limit: int) -> tuple[list[Completion], int]:
        """Work orders that passed QC since today began (plant time), latest first: each once,
        at its latest pass (a change may send work back and it passes again)."""
        if window.today_from is None:
            return [], 0
        r = work_order_stage_reports.c
        passed = (
            # typed as the column: read back aware UTC times on SQLite too (an aggregate is untyped)
            select(r.work_order_id, func.max(r.reported_at, type_=r.reported_at.type).label("at"))
            .where(
                r.tenant_id == identity.current().tenant_id,
                r.to_stage == QC_PASSED,
                r.reported_at >= window.today_from,
            )
            .group_by(r.work_order_id)
            .subquery()
        )
        joined = (
            select(_w.work_order_no, _w.order_no, _w.workshop, _w.good_quantity, passed.c.at)
            .join(passed, passed.c.work_order_id == _w.work_order_id)
            .where(*mine, text("NOT cancelled"))
        )
        rows = self._db.execute(joined.order_by(passed.c.at.desc(), _w.work_order_no).limit(limit)).all()
        total = self._db.execute(select(func.count()).select_from(joined.subquery())).scalar_one()
        completions = [
            Completion(x.work_order_no, x.order_no, x.workshop, int(x.good_quantity), x.at) for x in rows
        ]
        return completions, int(total)

    def _items(self, conditions: list, limit: int) -> list[BoardItem]:
        rows = self._db.execute(
            select(_w.work_order_id, _w.work_order_no, _w.order_no, _w.workshop, _w.stage, _w.due_date)
            .where(*conditions, text(UNFINISHED_WORK))
            .order_by(_w.due_date, _w.work_order_no)
            .limit(limit)
        )
        return [
            BoardItem(r.work_order_id, r.work_order_no, r.order_no, r.workshop, r.stage, _day(r.due_date))
            for r in rows
        ]

    def _totals(self, mine: list, window: BoardWindow) -> tuple[int, int]:
        """Both totals from one range of the due-date index (everything due up to the last at-risk
        day), one round trip."""
        row = self._db.execute(
            select(
                func.count().filter(_overdue(window)).label("overdue"),
                func.count().filter(_at_risk(window)).label("at_risk"),
            )
            .select_from(work_orders)
            .where(*mine, _w.due_date <= max(window.last_at_risk_day, window.today), text(UNFINISHED_WORK))
        ).one()
        return int(row.overdue), int(row.at_risk)


# Due before today is overdue; due from today to the last at-risk day is at risk (one definition
# for the lists and their totals).
def _overdue(window: BoardWindow):
    return _w.due_date < window.today


def _at_risk(window: BoardWindow):
    return and_(_w.due_date >= window.today, _w.due_date <= window.last_at_risk_day)


QC_PASSED = "STAGE_QC_PASSED"


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
