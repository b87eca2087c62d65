"""What happens to a marketplace record: the rules every pulled order goes through. Pure Python.

`decide` compares what a pull brought with what ingest already knows of the same platform order
(identity: platform, shop, platform order id) and returns one verdict:

- the later platform modification time wins; an older record never overwrites a newer one and an
  identical repeat (a page that shifted, an overlapping window) is a no-op;
- only a paid order waiting for the seller to ship becomes an OMS order; unpaid or held orders
  wait for a later pull; cancelled, refunded or shipped orders never seen before are skipped with
  their reason; one already ingested that is later cancelled or refunded is cancelled in the OMS;
- a Tmall sub-order that was refunded is left out of the order and recorded;
- a missing or unknown SKU code, a buyer message asking for another colour or finish, masked
  receiver data or a record that could not be read sends the whole order to the review queue,
  with every reason that applies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.ingest.domain.marketplace import MarketLine, MarketOrder, PlatformStatus, Receiver


class Verdict(StrEnum):
    CREATE = "create"  # a new paid order: make it an OMS order
    REVIEW = "review"  # a person decides (reasons say why)
    WAIT = "wait"  # unpaid or held: nothing now, a later pull sees it again
    SKIP = "skip"  # never an order (cancelled, refunded or shipped before we saw it)
    CANCEL = "cancel"  # an ingested order the platform cancelled or refunded
    UPDATE = "update"  # newer data for an order already handled; nothing to do in the OMS
    DUPLICATE = "duplicate"  # identical repeat or an older record: a no-op


class Outcome(StrEnum):
    """Where a platform order stands in ingest (stored)."""

    # Stored before the order service is asked to create the order: a crash (or a lost answer)
    # after the create leaves this mark, so a later cancellation on the platform still cancels
    # the order that may exist (the create is asked again with the same request_id, which
    # returns it), and a later pull completes the create instead of taking it as a repeat.
    CREATING = "creating"
    CREATED = "created"
    REVIEW = "review"
    WAITING = "waiting"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # a person rejected it in the review queue


@dataclass(frozen=True)
class Reason:
    code: str  # e.g. "sku.unknown"
    message: str  # Chinese, then English

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Known:
    """What ingest stored of one platform order."""

    modified_at: datetime
    content_hash: str
    outcome: Outcome
    order_id: str = ""
    receiver: Receiver = field(default_factory=Receiver)
    left_out: frozenset[str] = frozenset()  # sub-orders already left out (refunded)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    order: MarketOrder  # as it should be stored (masked receiver values merged with clear ones)
    reasons: tuple[Reason, ...] = ()
    left_out: tuple[MarketLine, ...] = ()  # refunded sub-orders, recorded
    note: str = ""  # why it was skipped / what happened, for the log and the report


@dataclass(frozen=True)
class CatalogueEntry:
    product_model: str
    finish: str = ""
    colour: str = ""
    packaging: str = ""
    pack_size: int = 1
    list_price_fen: int | None = None


@dataclass(frozen=True)
class Screening:
    """The tenant's screening of marketplace orders."""

    catalogue: Mapping[str, CatalogueEntry]
    change_words: Sequence[str] = ()


def content_hash(raw: Mapping[str, Any]) -> str:
    """Of the record as received: the same record twice hashes the same whatever the key order
    (a lone surrogate, half an emoji, hashes too: it must not stop the record)."""
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def decide(order: MarketOrder, known: Known | None, screening: Screening) -> Decision:
    digest = content_hash(order.raw)
    if known is not None and known.outcome != Outcome.CREATING:  # a create to finish is no repeat
        if order.modified_at < known.modified_at:
            return Decision(Verdict.DUPLICATE, order, note="an older record than the one stored")
        if order.modified_at == known.modified_at and digest == known.content_hash:
            return Decision(Verdict.DUPLICATE, order, note="an identical repeat")
        order = replace(order, receiver=merge_receiver(known.receiver, order.receiver))
    kept = tuple(x for x in order.lines if not x.refunded)
    left_out = tuple(x for x in order.lines if x.refunded)
    status = order.status
    if order.lines and not kept and status == PlatformStatus.AWAITING_SHIPMENT:
        status = PlatformStatus.REFUNDED  # every sub-order refunded: nothing left to make
    handled = known is not None and known.outcome in (Outcome.CREATED, Outcome.CANCELLED)
    if status in (PlatformStatus.CANCELLED, PlatformStatus.REFUNDED):
        if known is not None and known.outcome in (Outcome.CREATED, Outcome.CREATING):
            return Decision(Verdict.CANCEL, order, left_out=left_out, note=f"platform says {status}")
        if known is not None and known.outcome == Outcome.REVIEW:
            return Decision(Verdict.SKIP, order, left_out=left_out, note=f"{status} while waiting for review")
        return Decision(
            Verdict.SKIP if not handled else Verdict.UPDATE, order, note=f"{status} on the platform"
        )
    if handled and known is not None and known.outcome == Outcome.CREATED:
        newly = [x for x in left_out if x.sub_order_id not in known.left_out]
        if newly:  # a sub-order refunded after the order was made: the order must change
            ids = ", ".join(x.sub_order_id for x in newly)[:80]
            reason = Reason(
                "refund.partial",
                f"订单已下达后子订单 {ids} 退款，请发起订单变更 sub-order refunded after the order was made:"
                " request a change of the order",
            )
            return Decision(Verdict.REVIEW, order, (reason,), left_out)
    if handled or (known is not None and known.outcome == Outcome.REJECTED):
        return Decision(Verdict.UPDATE, order, left_out=left_out, note="newer data for a handled order")
    if status in (PlatformStatus.UNPAID, PlatformStatus.HELD):
        return Decision(Verdict.WAIT, order, note=f"{status}: waits for a later pull")
    if status == PlatformStatus.SHIPPED:
        return Decision(Verdict.SKIP, order, note="shipped before ingest saw it")
    reasons = screen(order, kept, screening)
    if status == PlatformStatus.OTHER:
        reasons.insert(
            0, Reason("status.unknown", f"平台状态未知 unknown platform status {order.platform_status!r}")
        )
    verdict = Verdict.REVIEW if reasons else Verdict.CREATE
    return Decision(verdict, replace(order, lines=kept), tuple(reasons), left_out)


def screen(order: MarketOrder, lines: Sequence[MarketLine], screening: Screening) -> list[Reason]:
    """Every reason a person must look at this order before it is made."""
    reasons = []
    if not lines:
        reasons.append(Reason("lines.none", "订单没有商品行 the order has no lines"))
    for line in lines:
        if not line.sku_code.strip():
            reasons.append(
                Reason("sku.missing", f"商品行 {line.sub_order_id} 没有商家编码 line has no SKU code")
            )
        elif line.sku_code.strip() not in screening.catalogue:
            reasons.append(
                Reason(
                    "sku.unknown",
                    f"商家编码 {line.sku_code[:40]!r} 不在商品目录中 SKU code is not in the catalogue",
                )
            )
        if line.quantity <= 0:
            reasons.append(Reason("line.quantity", f"商品行 {line.sub_order_id} 数量无效 bad quantity"))
    words = asks_for_change(order.buyer_message, screening.change_words)
    if words:
        reasons.append(
            Reason(
                "buyer.change_request",
                f"买家留言要求修改（{'、'.join(words)}）buyer message asks for a change;"
                " the SKU is never edited automatically",
            )
        )
    if order.receiver.masked:
        reasons.append(
            Reason("receiver.masked", "收货信息已加密或打码，需解密 receiver data is masked; decrypt it")
        )
    if len(order.receiver.full_address()) > 200:
        reasons.append(Reason("receiver.address_too_long", "收货地址超过200字 address over 200 characters"))
    return reasons


def asks_for_change(message: str, words: Sequence[str]) -> list[str]:
    folded = message.casefold()
    return [w for w in words if w.casefold() in folded]


def merge_receiver(stored: Receiver, incoming: Receiver) -> Receiver:
    """A masked value never overwrites a clear one already stored (platforms mask receivers some
    time after an order is paid); a clear incoming value always wins."""

    def pick(old: str, new: str) -> str:
        return old if old and "*" not in old and ("*" in new or not new) else new

    merged = Receiver(
        name=pick(stored.name, incoming.name),
        phone=pick(stored.phone, incoming.phone),
        province=incoming.province or stored.province,
        city=incoming.city or stored.city,
        district=incoming.district or stored.district,
        town=incoming.town or stored.town,
        address=pick(stored.address, incoming.address),
        oaid=incoming.oaid,
    )
    clear_before = not stored.masked and bool(stored.name or stored.address)
    # Clear data already in hand: the oaid adds nothing a person must decrypt.
    return replace(merged, oaid="") if clear_before and not _has_star(merged) else merged


def _has_star(r: Receiver) -> bool:
    return any("*" in v for v in (r.name, r.phone, r.address))


@dataclass(frozen=True)
class OrderLineDraft:
    """A marketplace line as the order service gets it."""

    product_model: str
    quantity: int
    unit_price_fen: int
    colour: str = ""
    surface_treatment: str = ""
    packaging: str = ""
    sub_order_id: str = ""


@dataclass(frozen=True)
class Overrides:
    """What a person set when accepting a review item."""

    customer_id: str = ""
    delivery_address: str = ""
    # sub_order_id -> the line as it must be made (an unknown SKU mapped by hand)
    lines: Mapping[str, OrderLineDraft] = field(default_factory=dict)


def order_lines(
    order: MarketOrder, catalogue: Mapping[str, CatalogueEntry], overrides: Overrides
) -> list[OrderLineDraft]:
    """The OMS lines of a marketplace order: each SKU unit is `pack_size` pieces; a piece is
    priced by what the buyer paid when that divides exactly, else by the catalogue list price."""
    out = []
    for line in order.lines:
        if line.sub_order_id in overrides.lines:
            out.append(overrides.lines[line.sub_order_id])
            continue
        item = catalogue[line.sku_code.strip()]
        pieces = line.quantity * item.pack_size
        paid = line.payment_fen
        price = paid // pieces if pieces and paid % pieces == 0 else (item.list_price_fen or 0)
        out.append(
            OrderLineDraft(
                item.product_model, pieces, price, item.colour, item.finish, item.packaging, line.sub_order_id
            )
        )
    return out
