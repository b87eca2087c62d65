"""One marketplace record through the rules (services/ingest/domain/market_rules.py) to its end:
an OMS order, a review item, a cancellation, or a logged skip.

Crash safety: the record is archived and its verdict stored in one transaction after any call to
the order service. A crash between the two leaves the record unstored, so the next pull (its
window starts before the checkpoint) takes it again; the order service's request_id, derived
from the record's identity, returns the order already made instead of a second one. A call to the
order service that fails for a reason of its own (unreachable) raises: the pull stops, the
checkpoint stays, and the window is pulled again later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from services.chassis.errors import FailedPrecondition
from services.chassis.tenant_config import Shop
from services.chassis.uow import UowFactory as UowFactoryOf
from services.ingest.domain import market_rules
from services.ingest.domain.market_rules import Decision, Known, Outcome, Overrides, Reason, Verdict
from services.ingest.domain.marketplace import BEIJING, MarketOrder, Unreadable
from services.ingest.domain.report import RunCounts
from services.ingest.service_layer.desk import TenantDesk, create_or_refusal, priority_facts, request_id
from services.ingest.service_layer.ports import DraftLine, OrderDesk, OrderDraft
from services.ingest.service_layer.unit_of_work import IngestUnitOfWork

log = logging.getLogger(__name__)
UowFactory = UowFactoryOf[IngestUnitOfWork]
SOURCE = "marketplace"


def take(
    record: MarketOrder | Unreadable,
    shop: Shop,
    desk: TenantDesk,
    uow: UowFactory,
    orders: OrderDesk,
    now: datetime,
    run_id: str = "",
) -> RunCounts:
    """What became of the record, counted into the run `run_id` in the same transaction that
    stores it (the report never counts a record that was not stored, nor misses one that was)."""
    counts = RunCounts(received=1)
    if isinstance(record, Unreadable):
        counts.review = 1
        _unreadable(record, uow, now, run_id, counts)
        return counts
    with uow(read_only=True) as tx:
        known = tx.market.known(*record.identity, lock=False)
    decision = market_rules.decide(record, known, desk.screening)
    verdict = decision.verdict
    order_id, order_no, note = "", "", decision.note
    reasons = list(decision.reasons)
    expected = known  # what the store must still hold when this record's verdict is written
    if verdict == Verdict.CREATE:
        draft, problems = draft_of(decision.order, shop, desk, uow, Overrides())
        if draft is not None:
            expected = _mark_creating(decision.order, uow, now)
            order_id, order_no, problems = create_or_refusal(orders, draft)
        if problems:
            verdict, reasons = Verdict.REVIEW, problems
    elif verdict == Verdict.CANCEL and known is not None:
        order_id = known.order_id
        if not order_id:  # a create that may have happened (the mark): ask what it made
            made = orders.find(order_request_id(decision.order))
            order_id, order_no = made if made else ("", "")
        try:
            done = (
                orders.cancel(order_id, _cancel_reason(decision.order)) if order_id else "nothing to cancel"
            )
            note = f"{done}: {decision.note}"
        except FailedPrecondition as exc:
            verdict, reasons = (
                Verdict.REVIEW,
                [Reason("cancel.by_hand", f"平台已取消，需人工处理 cancelled on the platform: {exc}")],
            )
    with uow() as tx:
        tx.market.archive(record.platform, _ref(record), record.raw, now)
        # Stored meanwhile by someone else (a PullShop beside the job)? Then this verdict is stale;
        # a create is still stored (the request_id made it the same order).
        if tx.market.known(*record.identity) != expected and verdict != Verdict.CREATE:
            verdict = Verdict.DUPLICATE
        _count(counts, verdict)
        _store(tx, decision, verdict, reasons, order_id, order_no, note, known, now)
        if run_id:
            tx.runs.add(run_id, counts)
        tx.commit()
    if verdict in (Verdict.SKIP, Verdict.WAIT):
        log.info("ingest %s/%s %s: %s", record.platform, record.shop, record.platform_order_id, note)
    return counts


def _store(tx, decision: Decision, verdict: Verdict, reasons, order_id, order_no, note, known, now) -> None:
    order = decision.order
    key = (SOURCE, order.platform, order.shop, order.platform_order_id)
    if verdict == Verdict.DUPLICATE:
        return
    if verdict == Verdict.REVIEW:
        outcome = (
            Outcome.CREATED if known is not None and known.outcome == Outcome.CREATED else Outcome.REVIEW
        )
        tx.market.save(order, outcome, now, left_out=decision.left_out, note=note)
        tx.review.open(
            SOURCE, order.platform_order_id, reasons, _raw_of(order), now, order.platform, order.shop
        )
        return
    open_item = tx.review.open_item_of(*key)
    outcome = {
        Verdict.CREATE: Outcome.CREATED,
        Verdict.WAIT: Outcome.WAITING,
        Verdict.SKIP: Outcome.SKIPPED,
        Verdict.CANCEL: Outcome.CANCELLED,
    }.get(verdict, known.outcome if known is not None else Outcome.SKIPPED)
    tx.market.save(
        order, outcome, now, order_id=order_id, order_no=order_no, left_out=decision.left_out, note=note
    )
    if open_item and verdict in (Verdict.CREATE, Verdict.SKIP, Verdict.CANCEL):
        # A newer record needed no review (made as it is), or the platform cancelled it meanwhile.
        tx.review.close(
            open_item, "withdrawn", now, note=note or "superseded", order_id=order_id, order_no=order_no
        )


def _mark_creating(order: MarketOrder, uow: UowFactory, now: datetime) -> Known | None:
    """Before the order service is asked: whatever happens to the answer, the record is known."""
    with uow() as tx:
        tx.market.save(order, Outcome.CREATING, now, note="creating")
        tx.commit()
        return tx.market.known(*order.identity, lock=False)


def _count(counts: RunCounts, verdict: Verdict) -> None:
    field = {
        Verdict.CREATE: "created",
        Verdict.REVIEW: "review",
        Verdict.WAIT: "skipped",
        Verdict.SKIP: "skipped",
        Verdict.CANCEL: "cancelled",
        Verdict.UPDATE: "updated",
        Verdict.DUPLICATE: "duplicates",
    }[verdict]
    setattr(counts, field, 1)
    if verdict == Verdict.DUPLICATE:
        counts.received = 0  # a repeat (the pulls overlap) brings nothing new: not counted again


def draft_of(
    order: MarketOrder, shop: Shop, desk: TenantDesk, uow: UowFactory, overrides: Overrides
) -> tuple[OrderDraft | None, list[Reason]]:
    """The order to create, or why it cannot be made as it stands."""
    customer_id = overrides.customer_id
    customer_code = ""
    if not customer_id:
        with uow(read_only=True) as tx:
            customer_id = tx.market.linked_customer(order.platform, order.shop, order.buyer_id)
    receiver = order.receiver
    if not customer_id and receiver.phone and not receiver.masked:
        # A buyer who is also a registered customer (a plant buying through the shop), by phone.
        known = [c for c in desk.customers_with_phone(receiver.phone) if c.active]
        if len(known) == 1:
            customer_id, customer_code = known[0].customer_id, known[0].code
    if not customer_id:
        ref = desk.customer_by_code(shop.customer)
        if ref is None:
            return None, [
                Reason(
                    "customer.unknown", f"店铺客户 {shop.customer} 不存在 the shop's customer does not exist"
                )
            ]
        customer_id, customer_code = ref.customer_id, ref.code
    missing = [
        x.sub_order_id for x in order.lines
        if x.sub_order_id not in overrides.lines and x.sku_code.strip() not in desk.screening.catalogue
    ]  # fmt: skip
    if missing:
        return None, [
            Reason("sku.unknown", f"商品行 {', '.join(missing)[:80]} 需指定产品 lines need a product")
        ]
    lines = market_rules.order_lines(order, desk.screening.catalogue, overrides)
    priority = desk.priority(
        priority_facts(
            "CHANNEL_MARKETPLACE",
            [(x.quantity, x.unit_price_fen) for x in lines],
            platform=order.platform,
            shop=order.shop,
            flagship=shop.flagship,
            customer_code=customer_code,
        )
    )
    paid = (order.paid_at or order.created_at or order.modified_at).astimezone(BEIJING).date()
    draft = OrderDraft(
        request_id=order_request_id(order),
        customer_id=customer_id,
        channel="CHANNEL_MARKETPLACE",
        priority=priority,
        due_date=paid + timedelta(days=shop.lead_days),
        lines=[
            DraftLine(
                x.product_model, x.quantity, x.unit_price_fen, x.colour, x.surface_treatment, x.packaging
            )
            for x in lines
        ],
        delivery_address=overrides.delivery_address or order.receiver.full_address(),
    )
    return draft, []


def order_request_id(order: MarketOrder) -> str:
    """The create's key: the platform order's identity, whoever creates it (a pull, a person)."""
    return request_id(SOURCE, order.platform, order.shop, order.platform_order_id)


def _unreadable(record: Unreadable, uow: UowFactory, now: datetime, run_id: str, counts: RunCounts) -> None:
    reason = Reason("record.unreadable", f"记录无法读取 the record cannot be read: {record.reason[:150]}")
    external = record.platform_order_id or f"unreadable:{market_rules.content_hash(record.raw)[:16]}"
    with uow() as tx:
        if not tx.market.archive(record.platform, f"{record.shop}:{external}", record.raw, now):
            counts.received, counts.review, counts.duplicates = 0, 0, 1  # seen before: decided already
        else:
            tx.review.open(SOURCE, external, [reason], dict(record.raw), now, record.platform, record.shop)
        if run_id:
            tx.runs.add(run_id, counts)
        tx.commit()


def _ref(order: MarketOrder) -> str:
    return f"{order.shop}:{order.platform_order_id}"


def _raw_of(order: MarketOrder) -> dict:
    return dict(order.raw)


def _cancel_reason(order: MarketOrder) -> str:
    return f"平台订单已取消/退款 {order.platform} order {order.platform_order_id} {order.platform_status}"[
        :200
    ]
