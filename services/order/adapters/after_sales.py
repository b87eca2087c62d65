"""After-sales requests of the caller's tenant; a portal account's of its own customer only."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Row, Select, insert, select

from services.chassis import identity
from services.chassis.scoping import scoped
from services.order.adapters.tables import after_sales_requests as table
from services.order.domain.after_sales import AfterSalesRequest, Kind

LIMIT = 500


class AfterSalesRepository:
    def __init__(self, db: Connection, track: Callable):
        self._db = db
        self._track = track

    def _scoped(self, query: Select) -> Select:
        return scoped(query, table, customer_column="customer_id")

    def add(self, r: AfterSalesRequest) -> None:
        self._db.execute(
            insert(table).values(
                after_sales_id=r.after_sales_id,
                tenant_id=identity.current().tenant_id,
                order_id=r.order_id,
                order_no=r.order_no,
                customer_id=r.customer_id,
                kind=r.kind.value,
                description=r.description,
                submitted_by=r.submitted_by,
                submitted_at=r.submitted_at,
                request_id=r.request_id,
            )
        )
        self._track(r)

    def find_by_request_id(self, request_id: str) -> AfterSalesRequest | None:
        row = self._db.execute(self._scoped(select(table).where(table.c.request_id == request_id))).first()
        return _request(row) if row else None

    def list(self, order_id: str = "") -> list[AfterSalesRequest]:
        query = self._scoped(select(table))
        if order_id:
            query = query.where(table.c.order_id == order_id)
        rows = self._db.execute(query.order_by(table.c.submitted_at.desc()).limit(LIMIT))
        return [_request(r) for r in rows]


def _request(row: Row) -> AfterSalesRequest:
    return AfterSalesRequest(
        after_sales_id=row.after_sales_id,
        order_id=row.order_id,
        order_no=row.order_no,
        customer_id=row.customer_id,
        kind=Kind(row.kind),
        description=row.description,
        submitted_by=row.submitted_by,
        submitted_at=row.submitted_at,
        request_id=row.request_id,
    )
