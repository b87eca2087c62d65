"""Where each line of some orders is on the shop floor (services/order/domain/progress.py)."""

from __future__ import annotations

from services.order.domain.progress import LineProgress, line_progress
from services.order.service_layer.handlers import UowFactory


def progress_of(order_ids: list[str], uow: UowFactory) -> dict[str, list[LineProgress]]:
    """The orders the caller may see that production works on, by id (a portal account: its own)."""
    with uow(read_only=True) as tx:
        found = tx.progress.of_orders(order_ids)
    return {order_id: line_progress(routes, reported) for order_id, (routes, reported) in found.items()}
