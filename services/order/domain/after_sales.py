"""售后申请 after-sales requests: a customer says something is wrong with one of its orders (a
quality problem, a shortage, damage in transport, a late delivery). Kept beside the order, told
to the customer's sales owner and the order desk; what happens next is people's work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.chassis.errors import FieldViolation, InvalidArgument
from services.chassis.events import DomainEvent


class Kind(StrEnum):
    QUALITY = "AFTER_SALES_KIND_QUALITY"
    SHORTAGE = "AFTER_SALES_KIND_SHORTAGE"
    DAMAGE = "AFTER_SALES_KIND_DAMAGE"
    DELIVERY = "AFTER_SALES_KIND_DELIVERY"
    OTHER = "AFTER_SALES_KIND_OTHER"


@dataclass(frozen=True)
class AfterSalesRequested(DomainEvent):
    event_type = "after_sales_requested"
    after_sales_id: str
    order_id: str
    order_no: str
    customer_id: str
    kind: str
    description: str
    submitted_by: str
    submitted_at: str


@dataclass
class AfterSalesRequest:
    after_sales_id: str
    order_id: str
    order_no: str
    customer_id: str
    kind: Kind
    description: str
    submitted_by: str
    submitted_at: datetime
    request_id: str
    events: list[DomainEvent] = field(default_factory=list)

    @classmethod
    def raise_(cls, **fields) -> AfterSalesRequest:
        description = fields["description"].strip()
        if not description:
            raise InvalidArgument(
                "description: say what is wrong", [FieldViolation("description", "must not be blank")]
            )
        request = cls(**{**fields, "description": description})
        request.events.append(
            AfterSalesRequested(
                after_sales_id=request.after_sales_id,
                order_id=request.order_id,
                order_no=request.order_no,
                customer_id=request.customer_id,
                kind=request.kind.value,
                description=request.description,
                submitted_by=request.submitted_by,
                submitted_at=request.submitted_at.isoformat(),
            )
        )
        return request
