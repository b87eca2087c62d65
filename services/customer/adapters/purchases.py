"""Purchases the tiers count: shipped orders and opening balances, in integer fen."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Executable, func, select
from sqlalchemy.dialects import postgresql, sqlite

from services.chassis import identity
from services.customer.adapters.tables import purchases


class PurchaseRepository:
    def __init__(self, db: Connection):
        self._db = db

    def record(
        self,
        customer_id: str,
        *,
        order_id: str | None,
        order_no: str,
        amount_fen: int,
        occurred_at: datetime,
        occurred_on: date,
    ) -> bool:
        """Store one purchase; False (and nothing stored) if this order was counted already, so a
        re-shipped order or a redelivered event counts once. order_id None: an opening balance."""
        row = dict(
            customer_id=customer_id,
            tenant_id=identity.current().tenant_id,
            order_id=order_id,
            order_no=order_no,
            amount_fen=amount_fen,
            occurred_at=occurred_at,
            occurred_on=occurred_on,
            recorded_at=datetime.now(UTC),
        )
        return self._db.execute(_record_statement(self._db.dialect.name), row).first() is not None

    def total_after(self, customer_id: str, day: date) -> int:
        """One customer's purchases dated after `day` (the last 12 months: tiers.window_start)."""
        query = select(func.coalesce(func.sum(purchases.c.amount_fen), 0)).where(
            purchases.c.tenant_id == identity.current().tenant_id,
            purchases.c.customer_id == customer_id,
            purchases.c.occurred_on > day,
        )
        return int(self._db.execute(query).scalar_one())

    def totals_after(self, day: date) -> dict[str, int]:
        """Every customer's of the tenant with purchases dated after `day` (the daily pass)."""
        query = (
            select(purchases.c.customer_id, func.sum(purchases.c.amount_fen).label("total"))
            .where(purchases.c.tenant_id == identity.current().tenant_id, purchases.c.occurred_on > day)
            .group_by(purchases.c.customer_id)
        )
        return {r.customer_id: int(r.total) for r in self._db.execute(query)}


@functools.cache
def _record_statement(dialect: str) -> Executable:
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(purchases)
    return ins.on_conflict_do_nothing(index_elements=["tenant_id", "order_id"]).returning(purchases.c.id)
