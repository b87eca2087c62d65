"""售后申请: raise an after-sales request about an order the caller may see, once per request_id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.chassis import identity
from services.chassis.errors import AlreadyExists, Duplicate
from services.order.domain.after_sales import AfterSalesRequest, Kind
from services.order.service_layer.handlers import Clock, UowFactory, utc_now


@dataclass(frozen=True)
class SubmitAfterSales:
    order_id: str
    kind: Kind
    description: str
    request_id: str


def submit(cmd: SubmitAfterSales, uow: UowFactory, clock: Clock = utc_now) -> AfterSalesRequest:
    """NotFound for an order the caller may not see (a portal account: another customer's). No
    look-up of request_id first: the insert itself finds a resubmission (its unique key), so the
    common case (a new request) costs one transaction."""
    caller = identity.current()
    try:
        with uow() as tx:
            order = tx.orders.get(cmd.order_id)  # scoped: the caller's tenant and customer
            request = AfterSalesRequest.raise_(
                after_sales_id=str(uuid.uuid4()),
                order_id=order.order_id,
                order_no=order.order_no,
                customer_id=order.customer_id,
                kind=cmd.kind,
                description=cmd.description,
                submitted_by=caller.user,
                submitted_at=clock(),
                request_id=cmd.request_id,
            )
            tx.after_sales.add(request)
            tx.commit()
            return request
    except Duplicate:  # sent again (after a lost answer, or twice at once): the first one made it
        made = _earlier(cmd, uow)
        if made is None:
            raise
        return made


def _earlier(cmd: SubmitAfterSales, uow: UowFactory) -> AfterSalesRequest | None:
    with uow(read_only=True) as tx:
        existing = tx.after_sales.find_by_request_id(cmd.request_id)
    if existing is None:
        return None
    if (existing.order_id, existing.kind, existing.description) != (
        cmd.order_id,
        cmd.kind,
        cmd.description.strip(),
    ):
        raise AlreadyExists(f"request_id {cmd.request_id!r} was used for another after-sales request")
    return existing


def list_requests(order_id: str, uow: UowFactory) -> list[AfterSalesRequest]:
    with uow(read_only=True) as tx:
        return tx.after_sales.list(order_id)
