"""The board query (看板): one read-only unit of work, a handful of index-only reads."""

from __future__ import annotations

from datetime import UTC, datetime

from services.chassis.tenant_config import TenantConfig
from services.chassis.uow import UowFactory
from services.production.domain.board import LIST_LIMIT, Board, board_window, warning_hours
from services.production.service_layer.unit_of_work import ProductionUnitOfWork


def get_board(
    tenant: TenantConfig,
    uow: UowFactory[ProductionUnitOfWork],
    *,
    workshop: str = "",
    limit: int = 0,
    now: datetime | None = None,
) -> Board:
    window = board_window(
        now or datetime.now(UTC), tenant.line.tz, warning_hours(tenant.alerts.due_warning_hours)
    )
    with uow(read_only=True) as tx:
        return tx.board.board(window, workshop=workshop, limit=min(limit or LIST_LIMIT, 200))
