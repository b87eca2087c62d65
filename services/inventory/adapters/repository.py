"""Stock levels of the caller's tenant."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from services.chassis import identity
from services.chassis.scoping import scoped
from services.inventory.adapters.tables import stock_levels
from services.inventory.domain.model import StockLevel


class StockRepository:
    def __init__(self, db: Connection, track):
        self._db = db

    def levels(self, models: Iterable[str]) -> dict[str, StockLevel]:
        rows = self._db.execute(
            scoped(select(stock_levels).where(stock_levels.c.product_model.in_(list(models))), stock_levels)
        )
        return {r.product_model: StockLevel(r.product_model, r.on_hand, r.reserved) for r in rows}

    def set_on_hand(self, product_model: str, on_hand: int) -> None:
        """Record what the WMS reports (upsert)."""
        tenant = identity.current().tenant_id
        now = datetime.now(UTC)
        done = self._db.execute(
            update(stock_levels)
            .where(
                stock_levels.c.tenant_id == tenant,
                stock_levels.c.product_model == product_model,
            )
            .values(on_hand=on_hand, synced_at=now)
        )
        if done.rowcount == 0:
            self._db.execute(
                insert(stock_levels).values(
                    tenant_id=tenant, product_model=product_model, on_hand=on_hand, reserved=0, synced_at=now
                )
            )
