"""The review queue: a person accepts an item (naming the customer, the product of an unknown SKU,
the decrypted address) or rejects it with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.chassis.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.ingest.adapters.review_store import ReviewItem
from services.ingest.domain.market_rules import OrderLineDraft, Outcome, Overrides
from services.ingest.service_layer import market_intake
from services.ingest.service_layer.desk import Clock, TenantDesk, create_or_refusal, utc_now
from services.ingest.service_layer.market_intake import UowFactory
from services.ingest.service_layer.ports import OrderDesk


@dataclass(frozen=True)
class Resolution:
    item_id: str
    accept: bool
    note: str = ""
    customer_id: str = ""
    remember_buyer: bool = False
    delivery_address: str = ""
    lines: dict[str, OrderLineDraft] = field(default_factory=dict)


def resolve(
    cmd: Resolution, desk: TenantDesk, uow: UowFactory, orders: OrderDesk, clock: Clock = utc_now
) -> ReviewItem:
    with uow(read_only=True) as tx:
        item = tx.review.get(cmd.item_id)
    if item.state != "open":
        raise FailedPrecondition(f"review item {item.item_id} is already {item.state}")
    if not cmd.accept:
        if not cmd.note.strip():
            raise InvalidArgument(
                "a rejection needs a reason", [FieldViolation("note", "say why it is rejected")]
            )
        with uow() as tx:
            if not tx.review.close(item.item_id, "rejected", clock(), note=cmd.note):
                raise _decided_meanwhile(tx.review.get(item.item_id))
            if item.source == market_intake.SOURCE:
                tx.market.set_outcome(item.platform, item.shop, item.external_id, Outcome.REJECTED)
            tx.commit()
            return tx.review.get(item.item_id)
    if item.source != market_intake.SOURCE:
        raise FailedPrecondition(f"a {item.source} item cannot be accepted here; enter the order by hand")
    with uow(read_only=True) as tx:
        stored = tx.market.get(item.platform, item.shop, item.external_id)
    if stored is None:
        raise FailedPrecondition("the record could not be read; reject it and enter the order by hand")
    shop = desk.tenant.shops.get(item.shop)
    if shop is None:
        raise FailedPrecondition(f"shop {item.shop!r} is no longer in the tenant file")
    order = stored.order
    unknown = [x for x in cmd.lines if x not in {line.sub_order_id for line in order.lines}]
    if unknown:
        raise InvalidArgument(
            "lines name sub-orders the order does not have",
            [FieldViolation("lines", f"unknown sub_order_id {x[:40]!r}") for x in unknown[:10]],
        )
    if order.receiver.masked and not cmd.delivery_address.strip():
        raise InvalidArgument(
            "the receiver is masked",
            [FieldViolation("delivery_address", "give the decrypted delivery address (收货地址已加密)")],
        )
    overrides = Overrides(cmd.customer_id, cmd.delivery_address.strip(), cmd.lines)
    draft, problems = market_intake.draft_of(order, shop, desk, uow, overrides)
    order_id = order_no = ""
    if draft is not None:
        # The creating mark first (the item still open, under its lock): if the answer is lost or
        # the platform cancels meanwhile, a pull finishes or cancels what this may have made.
        with uow() as tx:
            if tx.review.get(item.item_id, lock=True).state != "open":
                raise _decided_meanwhile(tx.review.get(item.item_id))
            tx.market.set_outcome(item.platform, item.shop, item.external_id, Outcome.CREATING)
            tx.commit()
        order_id, order_no, problems = create_or_refusal(orders, draft)
    if problems:
        with uow() as tx:  # nothing was made: it waits for review as before
            tx.market.set_outcome(item.platform, item.shop, item.external_id, Outcome.REVIEW)
            tx.commit()
        raise FailedPrecondition(
            "the order cannot be made yet: " + "; ".join(f"{p.code}: {p.message}" for p in problems)[:600]
        )
    now = clock()
    with uow() as tx:
        if not tx.review.close(
            item.item_id, "accepted", now, note=cmd.note, order_id=order_id, order_no=order_no
        ):
            # A pull decided it meanwhile (withdrawn: the platform cancelled it, or a newer record
            # needed no review); it saw the creating mark and finished or cancelled the order.
            raise _decided_meanwhile(tx.review.get(item.item_id))
        tx.market.set_outcome(
            item.platform, item.shop, item.external_id, Outcome.CREATED, order_id=order_id, order_no=order_no
        )
        if cmd.remember_buyer and cmd.customer_id and order.buyer_id:
            tx.market.link_buyer(order.platform, order.shop, order.buyer_id, cmd.customer_id, now)
        tx.commit()
        return tx.review.get(item.item_id)


def _decided_meanwhile(item: ReviewItem) -> FailedPrecondition:
    return FailedPrecondition(
        f"review item {item.item_id} was decided meanwhile: {item.state}"
        + (f" ({item.note})" if item.note else "")
        + (f", order {item.order_no}" if item.order_no else "")
    )
