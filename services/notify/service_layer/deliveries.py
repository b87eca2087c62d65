"""The delivery log as people and the edge query it (by order, work order, recipient, channel,
state), for the caller's tenant."""

from __future__ import annotations

from dataclasses import dataclass

from services.chassis.paging import page_size
from services.notify.adapters.delivery_store import DeliveryRecord
from services.notify.service_layer.handlers import UowFactory


@dataclass(frozen=True)
class DeliveryQuery:
    order_no: str = ""
    reference: str = ""
    recipient: str = ""
    channel: str = ""
    state: str = ""
    page_size: int = 0  # 0 = 100
    page_token: str = ""


def list_deliveries(uow: UowFactory, query: DeliveryQuery) -> tuple[list[DeliveryRecord], str]:
    with uow(read_only=True) as tx:
        return tx.deliveries.page(
            order_no=query.order_no,
            reference=query.reference,
            recipient=query.recipient,
            channel=query.channel,
            state=query.state,
            page_size=page_size(query.page_size, default=100),
            page_token=query.page_token,
        )
