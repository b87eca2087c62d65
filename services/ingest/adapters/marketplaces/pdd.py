"""Pinduoduo (拼多多) shops: `pdd.order.number.list.increment.get` on the open platform gateway
(api/router), by last-update time, paged backwards. The increment list carries whole orders, so
`pdd.order.information.get` is not needed for a pull.

Amounts are yuan (元) as the SDKs document them (decimal numbers), read exactly. Shapes and codes:
docs/marketplaces.md (PDD).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from services.ingest.adapters.marketplaces import (
    PlatformRefused,
    PullError,
    RateLimited,
    Unreachable,
)
from services.ingest.adapters.marketplaces.common import (
    Page,
    PlatformClient,
    count,
    md5_sign,
    money,
    obj,
    quantity,
    records,
    text,
)
from services.ingest.domain.marketplace import (
    BadRecord,
    MarketLine,
    MarketOrder,
    PlatformStatus,
    Receiver,
    beijing_time,
    optional_beijing_time,
    order_id_text,
)

DEFAULT_ENDPOINT = "https://gw-api.pinduoduo.com/api/router"
INCREMENT = "pdd.order.number.list.increment.get"
INCREMENT_RESPONSE = "order_sn_increment_get_response"
RATE_LIMITED = {"52101", "70031"}  # 接口被限流 / 调用过于频繁
UNAVAILABLE = {"52102", "52103"}  # 接口暂时不可用 / 服务暂时不可用
RATE_WORDS = ("限流", "频繁", "频率")


class PddClient(PlatformClient):
    platform = "pdd"
    max_window = timedelta(minutes=30)  # end_updated_at - start_updated_at <= 30 min
    default_endpoint = DEFAULT_ENDPOINT
    id_key = "order_sn"

    def _page(self, since: datetime, until: datetime, page: int) -> Page:
        result = self.call(
            INCREMENT,
            INCREMENT_RESPONSE,
            {
                "is_lucky_flag": "0",  # all orders, lottery ones included
                "order_status": "5",  # all shipping states
                "refund_status": "5",  # all after-sale states
                "start_updated_at": str(int(since.timestamp())),
                "end_updated_at": str(int(until.timestamp())),
                "page": str(page),
                "page_size": str(self.page_size),
                "use_has_next": "false",  # the total is needed to start from the last page
            },
        )
        total = count(result.get("total_count", 0), "total_count", self.url)
        return total, records(result.get("order_sn_list"), "order_sn_list", self.url)

    def signed(self, method: str, business: Mapping[str, str]) -> dict[str, str]:
        params = {
            "type": method,
            "client_id": self.access.app_key,
            "access_token": self.access.access_token,
            "timestamp": str(int(self.clock().timestamp())),
            "data_type": "JSON",
            "version": "V1",
            **business,
        }
        params["sign"] = md5_sign(self.access.app_secret, params)
        return params

    def _send(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        return self._post(self.signed(method, business))

    def _refused(self, method: str, error: Mapping[str, Any]) -> PullError:
        return self.refusal(method, error)

    @staticmethod
    def refusal(method: str, error: Mapping[str, Any]) -> PullError:
        code = str(error.get("error_code", ""))
        message = f"{error.get('error_msg') or ''} {error.get('sub_msg') or ''}".strip()
        said = f"PDD {method}: error_code {code}: {message}"
        if code in RATE_LIMITED or any(word in message for word in RATE_WORDS):
            return RateLimited(said, code=code)
        if code in UNAVAILABLE:
            return Unreachable(said, code=code)
        return PlatformRefused(said, code=code)

    # --- one record ---

    def order(self, raw: Any) -> MarketOrder:
        record = obj(raw, "order")
        order_sn = order_id_text(record.get("order_sn"), "order_sn")
        flags = {key: number(record.get(key), key) for key in STATUS_KEYS}
        items = record.get("item_list")
        if not isinstance(items, list) or not items:
            raise BadRecord("item_list: no lines")
        return MarketOrder(
            platform=self.platform,
            shop=self.access.shop,
            platform_order_id=order_sn,
            status=status(flags),
            platform_status=",".join(f"{key}={value}" for key, value in flags.items()),
            modified_at=beijing_time(record.get("updated_at"), "updated_at"),
            created_at=optional_beijing_time(record.get("created_time"), "created_time"),
            paid_at=optional_beijing_time(record.get("pay_time"), "pay_time"),
            buyer_message=text(record.get("buyer_memo"), "buyer_memo"),
            seller_memo=text(record.get("remark"), "remark"),
            receiver=receiver(record),
            total_fen=money(record.get("goods_amount"), "goods_amount"),
            discount_fen=money(record.get("discount_amount"), "discount_amount"),
            freight_fen=money(record.get("postage"), "postage"),
            payment_fen=money(record.get("pay_amount"), "pay_amount"),
            lines=tuple(line(obj(item, "item_list[]")) for item in items),
            raw=record,
        )


# The status codes read, with what an absent one means (order_status must be there).
STATUS_KEYS: Mapping[str, int | None] = {
    "order_status": None,
    "refund_status": 1,  # no after-sale
    "confirm_status": 1,  # 已成交
    "risk_control_status": 0,  # a normal order
}


def number(value: Any, what: str) -> int:
    """A PDD enum code (an integer, or its digits as text)."""
    default = STATUS_KEYS.get(what)
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord(f"{what}: {value!r} is not a code")
    return value


def status(flags: Mapping[str, int]) -> PlatformStatus:
    """confirm_status 0 未成交 (group not formed), 1 已成交, 2 已取消; refund_status 1 none/closed,
    2 售后处理中, 3 退款中, 4 退款成功; risk_control_status 1 审核中; order_status 1 待发货,
    2 已发货待签收, 3 已签收."""
    if flags["confirm_status"] == 2:
        return PlatformStatus.CANCELLED
    if flags["refund_status"] in (3, 4):
        return PlatformStatus.REFUNDED
    if flags["refund_status"] == 2 or flags["risk_control_status"] == 1 or flags["confirm_status"] == 0:
        return PlatformStatus.HELD  # an after-sale case, a risk review or an unformed group
    return {
        1: PlatformStatus.AWAITING_SHIPMENT,
        2: PlatformStatus.SHIPPED,
        3: PlatformStatus.SHIPPED,
    }.get(flags["order_status"], PlatformStatus.OTHER)


def receiver(record: Mapping[str, Any]) -> Receiver:
    """Encrypted shops send the readable-but-masked text in *_mask fields (张**, 138****5678) and
    ciphertext in the plain ones: the masked text is what a person can act on."""

    def pick(masked: str, plain: str) -> str:
        return text(record.get(masked), masked) or text(record.get(plain), plain)

    return Receiver(
        name=pick("receiver_name_mask", "receiver_name"),
        phone=pick("receiver_phone_mask", "receiver_phone"),
        province=text(record.get("province"), "province"),
        city=text(record.get("city"), "city"),
        district=text(record.get("town"), "town"),  # PDD's `town` is the county/district (区县)
        address=pick("receiver_address_mask", "receiver_address"),
    )


def line(item: Mapping[str, Any]) -> MarketLine:
    qty = quantity(item.get("goods_count"), "goods_count")
    unit = money(item.get("goods_price"), "goods_price")
    # outer_id is the SKU's outside code (商家外部编码(sku)); outer_goods_id the goods-level one.
    code = text(item.get("outer_id"), "outer_id") or text(item.get("outer_goods_id"), "outer_goods_id")
    return MarketLine(
        sub_order_id=order_id_text(item.get("sku_id"), "sku_id"),
        sku_code=code,
        title=text(item.get("goods_name"), "goods_name"),
        quantity=qty,
        unit_price_fen=unit,
        payment_fen=unit * qty,  # PDD gives no per-line amount paid; discounts are order-level
    )
