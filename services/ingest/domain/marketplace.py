"""A marketplace order as every platform adapter hands it over, whatever the platform's own
shape. Pure Python.

Each adapter (services/ingest/adapters/marketplaces/) reads its platform's fields and envelopes
and fills this in; the rules (services/ingest/domain/market_rules.py) never see a platform's
field names. `raw` keeps the record exactly as received, for the archive and the review queue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
_CIPHERTEXT = re.compile(r"^([~$#]).{8,}\1$", re.S)
PLATFORMS = ("jd", "pdd", "tmall")


class PlatformStatus(StrEnum):
    """What the platform's status code means for us (each adapter maps its own codes)."""

    AWAITING_SHIPMENT = "awaiting_shipment"  # paid, waiting for the seller to ship (待发货)
    UNPAID = "unpaid"  # not paid yet: skipped, a later pull sees it again
    HELD = "held"  # paid but held by the platform (risk control, locked, pending confirmation)
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # the whole order refunded or being refunded
    SHIPPED = "shipped"  # shipped, received or finished
    OTHER = "other"  # a code this adapter does not know: never turned into an order


@dataclass(frozen=True)
class Receiver:
    """Where the goods go, byte for byte as the platform sent it (masked values included)."""

    name: str = ""
    phone: str = ""
    province: str = ""
    city: str = ""
    district: str = ""
    town: str = ""
    address: str = ""  # the detailed address (street, building), as given
    oaid: str = ""  # a platform token standing for encrypted receiver data (Taobao/Tmall, PDD)

    @property
    def masked(self) -> bool:
        """True when some of it is hidden (`*`), stands behind an oaid, or is ciphertext (PDD's
        encrypted shops send `~…~` names and addresses and `$…$` phones when no masked copy is
        given): a person must decrypt it."""
        fields = (self.name, self.phone, self.address)
        return bool(self.oaid) or any("*" in v or _CIPHERTEXT.match(v) for v in fields)

    def full_address(self) -> str:
        return "".join(x for x in (self.province, self.city, self.district, self.town, self.address) if x)


@dataclass(frozen=True)
class MarketLine:
    sub_order_id: str  # the platform's id of the line (Tmall `oid`, JD sku line, PDD goods line)
    sku_code: str  # the seller's own SKU code (outerSkuId / outer_sku_id / outer_id); "" if none
    title: str
    quantity: int
    unit_price_fen: int
    payment_fen: int  # what the buyer paid for this line, after discounts
    refunded: bool = False  # this sub-order was refunded (left out, recorded)
    refund_status: str = ""  # the platform's own refund code, for the record


@dataclass(frozen=True)
class MarketOrder:
    platform: str  # one of PLATFORMS
    shop: str  # the shop's key in the tenant file
    platform_order_id: str  # always a string: Tmall tids exceed 2^53
    status: PlatformStatus
    platform_status: str  # the platform's own code, e.g. WAIT_SELLER_SEND_GOODS
    modified_at: datetime  # aware, UTC (platforms send Beijing time without a zone)
    created_at: datetime | None = None
    paid_at: datetime | None = None
    buyer_id: str = ""
    buyer_nick: str = ""
    buyer_message: str = ""
    seller_memo: str = ""
    receiver: Receiver = Receiver()
    total_fen: int = 0  # goods value before discounts
    discount_fen: int = 0
    freight_fen: int = 0
    payment_fen: int = 0  # what the buyer paid
    lines: tuple[MarketLine, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def identity(self) -> tuple[str, str, str]:
        return self.platform, self.shop, self.platform_order_id


class BadRecord(ValueError):
    """A record an adapter cannot read (a missing id, an unreadable time or amount): it goes to
    the review queue with this message, never silently away."""


@dataclass(frozen=True)
class Unreadable:
    """A record an adapter could not read: kept whole for the review queue."""

    platform: str
    shop: str
    platform_order_id: str  # "" when even the id could not be read
    reason: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


# Shared parsing helpers: every platform sends money as decimal strings and times in Beijing time.

_MONEY = re.compile(r"^-?\d{1,12}(\.\d{1,2})?$")


def fen(value: Any, what: str = "amount") -> int:
    """'12.30' (yuan, as the platforms send it) -> 1230, exactly; no float ever touches it.
    An absent or empty value is 0; anything else unreadable raises BadRecord."""
    if value is None or value == "":
        return 0
    if isinstance(value, (bool, float)):
        raise BadRecord(f"{what}: {value!r} is not a decimal string")  # a float may already be off
    text = str(value).strip()
    if isinstance(value, int):
        text = str(value)
    if not _MONEY.match(text):
        raise BadRecord(f"{what}: {text[:40]!r} is not an amount in yuan such as 12.30")
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise BadRecord(f"{what}: {text[:40]!r} is not an amount") from None


def beijing_time(value: Any, what: str = "time") -> datetime:
    """'2026-11-25 14:03:07' (Beijing time, no zone) -> an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        raise BadRecord(f"{what}: missing")
    text = value.strip()
    try:
        local = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise BadRecord(f"{what}: {text[:40]!r} is not a time like 2026-11-25 14:03:07") from None
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def optional_beijing_time(value: Any, what: str = "time") -> datetime | None:
    return None if value in (None, "") else beijing_time(value, what)


def beijing_text(moment: datetime) -> str:
    """The other way, for request parameters: an aware datetime as Beijing wall time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def order_id_text(value: Any, what: str = "order id") -> str:
    """A platform id as a string. JSON numbers arrive as int (json never makes them floats unless
    they have a fraction or exponent, which an id never has); a float is refused, not rounded."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise BadRecord(f"{what}: {value!r} is not an id")
    text = str(value).strip()
    if not text or len(text) > 64 or not re.fullmatch(r"[0-9A-Za-z_-]+", text):
        raise BadRecord(f"{what}: {text[:40]!r} is not an id")
    return text


# Stored form: the normalised order as JSON (raw included), read back for the review queue.


def to_json(order: MarketOrder) -> dict[str, Any]:
    return {
        "platform": order.platform,
        "shop": order.shop,
        "platform_order_id": order.platform_order_id,
        "status": order.status.value,
        "platform_status": order.platform_status,
        "modified_at": order.modified_at.isoformat(),
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "buyer_id": order.buyer_id,
        "buyer_nick": order.buyer_nick,
        "buyer_message": order.buyer_message,
        "seller_memo": order.seller_memo,
        "receiver": vars(order.receiver).copy(),
        "total_fen": order.total_fen,
        "discount_fen": order.discount_fen,
        "freight_fen": order.freight_fen,
        "payment_fen": order.payment_fen,
        "lines": [vars(x).copy() for x in order.lines],
        "raw": dict(order.raw),
    }


def from_json(data: Mapping[str, Any]) -> MarketOrder:
    def moment(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return MarketOrder(
        platform=data["platform"],
        shop=data["shop"],
        platform_order_id=data["platform_order_id"],
        status=PlatformStatus(data["status"]),
        platform_status=data["platform_status"],
        modified_at=datetime.fromisoformat(data["modified_at"]),
        created_at=moment(data.get("created_at")),
        paid_at=moment(data.get("paid_at")),
        buyer_id=data.get("buyer_id", ""),
        buyer_nick=data.get("buyer_nick", ""),
        buyer_message=data.get("buyer_message", ""),
        seller_memo=data.get("seller_memo", ""),
        receiver=Receiver(**data.get("receiver", {})),
        total_fen=data.get("total_fen", 0),
        discount_fen=data.get("discount_fen", 0),
        freight_fen=data.get("freight_fen", 0),
        payment_fen=data.get("payment_fen", 0),
        lines=tuple(MarketLine(**x) for x in data.get("lines", ())),
        raw=data.get("raw", {}),
    )
