"""Inventory use cases."""

from __future__ import annotations

from services.chassis.uow import UowFactory as UowFactoryOf
from services.inventory.domain.model import Availability, check_availability
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork

UowFactory = UowFactoryOf[InventoryUnitOfWork]  # uow() or uow(read_only=True)


def availability(requested: dict[str, int], uow: UowFactory) -> list[Availability]:
    with uow(read_only=True) as tx:
        return check_availability(requested, tx.stock.levels(requested))


def record_stock(levels: dict[str, int], uow: UowFactory) -> None:
    with uow() as tx:
        for model, on_hand in levels.items():
            tx.stock.set_on_hand(model, on_hand)
        tx.commit()
