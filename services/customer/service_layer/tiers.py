"""Tiers from what customers buy: a shipped order adds a purchase and reassesses its customer at
once; a daily pass reassesses every active customer, since purchases age out of the last 12
months and years of cooperation grow without any event."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from services.customer.domain.tiers import window_start
from services.customer.service_layer.handlers import Clock, TenantRules, UowFactory, utc_now
from services.customer.service_layer.unit_of_work import CustomerUnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordShipment:
    order_id: str
    order_no: str
    customer_id: str
    amount_fen: int
    shipped_at: datetime


def record_shipment(
    cmd: RecordShipment, tx: CustomerUnitOfWork, rules: TenantRules, clock: Clock = utc_now
) -> bool:
    """In the consumer's unit of work (it commits): False if the order was counted already.
    NotFound if the customer is not the tenant's."""
    customer = tx.customers.get(cmd.customer_id, for_update=True)
    counted = tx.purchases.record(
        customer.customer_id,
        order_id=cmd.order_id,
        order_no=cmd.order_no,
        amount_fen=cmd.amount_fen,
        occurred_at=cmd.shipped_at,
        occurred_on=rules.today(cmd.shipped_at),
    )
    if not counted:
        return False
    now = clock()
    today = rules.today(now)
    total = tx.purchases.total_after(customer.customer_id, window_start(today))
    if customer.reassess(purchases_12m_fen=total, rule=rules.tiers, today=today, now=now):
        tx.customers.save(customer)
    return True


def reassess_tiers(uow: UowFactory, rules: TenantRules, clock: Clock = utc_now, page: int = 500) -> int:
    """The daily pass over the caller's tenant: finds the active customers whose assessment
    moved (reading only), then reassesses each in its own short transaction, locked, from fresh
    numbers (a shipment may have come in between). Returns how many changed."""
    today = rules.today(clock())
    start = window_start(today)
    moved: list[str] = []
    with uow(read_only=True) as tx:
        totals = tx.purchases.totals_after(start)
        token = ""
        while True:
            customers, token = tx.customers.list(active=True, page_size=page, page_token=token)
            for c in customers:
                total = totals.get(c.customer_id, 0)
                if c.reassess(purchases_12m_fen=total, rule=rules.tiers, today=today, now=clock()):
                    moved.append(c.customer_id)
            if not token:
                break
    changed = 0
    for customer_id in moved:
        with uow() as tx:
            customer = tx.customers.get(customer_id, for_update=True)
            now = clock()
            total = tx.purchases.total_after(customer_id, window_start(rules.today(now)))
            if customer.reassess(purchases_12m_fen=total, rule=rules.tiers, today=rules.today(now), now=now):
                tx.customers.save(customer)
                tx.commit()
                changed += 1
    if changed:
        log.info("daily tier pass: %d customer(s) reassessed", changed)
    return changed
