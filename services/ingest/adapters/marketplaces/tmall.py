"""Taobao/Tmall (淘宝/天猫) shops on TOP: `taobao.trades.sold.increment.get` lists the tids
modified in the window (paged backwards, as TOP advises), then `taobao.trade.fullinfo.get` reads
each trade, as the list "only holds part of a trade's data".

System parameters go in the query string and the business ones in the form body, both signed, as
the TOP SDKs send them. Tids exceed 2^53: they are read as exact integers and kept as text. Shapes
and codes: docs/marketplaces.md (Taobao/Tmall).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from services.ingest.adapters.marketplaces import (
    PlatformRefused,
    PullError,
    RateLimited,
    ShopAccess,
    Unreachable,
)
from services.ingest.adapters.marketplaces.common import (
    READ_ERRORS,
    Page,
    PlatformClient,
    ban_seconds,
    count,
    hmac_md5_sign,
    md5_sign,
    money,
    obj,
    quantity,
    records,
    text,
    utc_now,
)
from services.ingest.domain.marketplace import (
    BadRecord,
    MarketLine,
    MarketOrder,
    PlatformStatus,
    Receiver,
    Unreadable,
    beijing_text,
    beijing_time,
    optional_beijing_time,
    order_id_text,
)

DEFAULT_ENDPOINT = "https://eco.taobao.com/router/rest"
INCREMENT = "taobao.trades.sold.increment.get"
FULLINFO = "taobao.trade.fullinfo.get"
LIST_FIELDS = "tid,tid_str,status,modified"
FULL_FIELDS = (
    "tid,tid_str,status,type,created,pay_time,modified,end_time,buyer_nick,buyer_open_uid,"
    "buyer_message,seller_memo,total_fee,discount_fee,post_fee,payment,receiver_name,receiver_state,"
    "receiver_city,receiver_district,receiver_town,receiver_address,receiver_zip,receiver_mobile,"
    "receiver_phone,oaid,orders"
)
STATES: Mapping[str, PlatformStatus] = {
    "TRADE_NO_CREATE_PAY": PlatformStatus.UNPAID,
    "WAIT_BUYER_PAY": PlatformStatus.UNPAID,
    "PAY_PENDING": PlatformStatus.UNPAID,  # a foreign card payment being confirmed
    "WAIT_PRE_AUTH_CONFIRM": PlatformStatus.UNPAID,  # 0元购合约中
    "WAIT_SELLER_SEND_GOODS": PlatformStatus.AWAITING_SHIPMENT,
    "PAID_FORBID_CONSIGN": PlatformStatus.HELD,  # paid, shipping forbidden (group buying)
    "SELLER_CONSIGNED_PART": PlatformStatus.SHIPPED,  # partly shipped by the seller
    "WAIT_BUYER_CONFIRM_GOODS": PlatformStatus.SHIPPED,
    "TRADE_BUYER_SIGNED": PlatformStatus.SHIPPED,
    "TRADE_FINISHED": PlatformStatus.SHIPPED,
    "TRADE_CLOSED": PlatformStatus.REFUNDED,  # closed after payment: refunded in full
    "TRADE_CLOSED_BY_TAOBAO": PlatformStatus.CANCELLED,  # closed before payment
}


class TmallClient(PlatformClient):
    platform = "tmall"
    max_window = timedelta(days=1)  # end_modified - start_modified <= 1 day
    default_endpoint = DEFAULT_ENDPOINT
    id_key = "tid"

    def __init__(
        self,
        access: ShopAccess,
        http: httpx.Client,
        *,
        page_size: int = 50,
        sign_method: str = "md5",
        clock: Callable[[], datetime] = utc_now,
    ):
        if sign_method not in ("md5", "hmac"):
            raise ValueError("sign_method must be md5 or hmac")
        super().__init__(access, http, page_size=page_size, clock=clock)
        self.sign_method = sign_method

    def _page(self, since: datetime, until: datetime, page: int) -> Page:
        result = self.call(
            INCREMENT,
            "trades_sold_increment_get_response",
            {
                "fields": LIST_FIELDS,
                "start_modified": beijing_text(since),
                "end_modified": beijing_text(until),
                "page_no": str(page),
                "page_size": str(self.page_size),
                "use_has_next": "false",  # the total is needed to start from the last page
            },
        )
        total = count(result.get("total_results", 0), "total_results", self.url)
        trades = result.get("trades") or {}  # TOP leaves the list out when it is empty
        if not isinstance(trades, dict):
            raise Unreachable(f"{self.url}: trades is not an object")
        return total, records(trades.get("trade"), "trades.trade", self.url)

    def _read(self, listed: Any) -> MarketOrder | Unreadable:
        """The list holds only part of a trade: each listed tid is read in full first."""
        try:
            tid = order_id_text(obj(listed, "trade").get("tid"), "tid")
        except READ_ERRORS as exc:
            return self._unreadable(listed, exc)
        try:
            result = self.call(FULLINFO, "trade_fullinfo_get_response", {"fields": FULL_FIELDS, "tid": tid})
        except PlatformRefused as exc:
            if trade_trouble(exc.code):  # this trade's own (gone, say), not the seller's access
                return self._unreadable(listed, exc)
            raise
        raw = result.get("trade")
        try:
            return self.order(raw)
        except READ_ERRORS as exc:
            # fullinfo's trade when it is an object; else the listed record, which has the tid at least
            return self._unreadable(raw if isinstance(raw, Mapping) else listed, exc)

    def signed(self, method: str, business: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        system = {
            "method": method,
            "app_key": self.access.app_key,
            "session": self.access.access_token,
            "timestamp": beijing_text(self.clock()),
            "format": "json",
            "v": "2.0",
            "sign_method": self.sign_method,
        }
        sign = md5_sign if self.sign_method == "md5" else hmac_md5_sign
        system["sign"] = sign(self.access.app_secret, {**system, **business})
        return system, dict(business)

    def _send(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        system, form = self.signed(method, business)
        return self._post(form, params=system)  # system parameters in the query, as TOP's SDKs

    def _refused(self, method: str, error: Mapping[str, Any]) -> PullError:
        return self.refusal(method, error)

    @staticmethod
    def refusal(method: str, error: Mapping[str, Any]) -> PullError:
        """TOP code 7 (App Call Limited) and sub-codes like accesscontrol.limited-by-* are flow
        control; code 10 and isp.* sub-codes are the platform's own trouble; the rest (25 invalid
        signature, 27 invalid session, 29 invalid app key, 4x parameters, isv.*) are refusals."""
        code = str(error.get("code", ""))
        sub_code = str(error.get("sub_code") or "")
        msg, sub_msg = error.get("msg") or "", error.get("sub_msg") or ""
        said = f"Taobao {method}: code {code} {msg} {sub_code} {sub_msg}"
        if code == "7" or "limited" in sub_code.lower():
            wait = ban_seconds(error.get("sub_msg"), error.get("msg"))
            return RateLimited(said.strip(), wait, code=sub_code or code)
        if code == "10" or sub_code.startswith("isp."):
            return Unreachable(said.strip(), code=sub_code or code)
        return PlatformRefused(said.strip(), code=sub_code or code)

    # --- one record ---

    def order(self, raw: Any) -> MarketOrder:
        trade = obj(raw, "trade")
        tid = order_id_text(trade.get("tid"), "tid")
        if trade.get("tid_str") not in (None, "", tid):
            raise BadRecord(f"tid {tid} and tid_str {trade.get('tid_str')!r} differ")
        state = text(trade.get("status"), "status")
        orders = obj(trade.get("orders"), "orders").get("order")
        if not isinstance(orders, list) or not orders:
            raise BadRecord("orders.order: no sub-orders")
        return MarketOrder(
            platform=self.platform,
            shop=self.access.shop,
            platform_order_id=tid,
            status=STATES.get(state, PlatformStatus.OTHER),
            platform_status=state,
            modified_at=beijing_time(trade.get("modified"), "modified"),
            created_at=optional_beijing_time(trade.get("created"), "created"),
            paid_at=optional_beijing_time(trade.get("pay_time"), "pay_time"),
            buyer_id=text(trade.get("buyer_open_uid"), "buyer_open_uid"),
            buyer_nick=text(trade.get("buyer_nick"), "buyer_nick"),
            buyer_message=text(trade.get("buyer_message"), "buyer_message"),
            seller_memo=text(trade.get("seller_memo"), "seller_memo"),
            receiver=Receiver(
                name=text(trade.get("receiver_name"), "receiver_name"),
                phone=text(trade.get("receiver_mobile") or trade.get("receiver_phone"), "receiver_mobile"),
                province=text(trade.get("receiver_state"), "receiver_state"),
                city=text(trade.get("receiver_city"), "receiver_city"),
                district=text(trade.get("receiver_district"), "receiver_district"),
                town=text(trade.get("receiver_town"), "receiver_town"),
                address=text(trade.get("receiver_address"), "receiver_address"),
                oaid=text(trade.get("oaid"), "oaid"),
            ),
            total_fen=money(trade.get("total_fee"), "total_fee"),
            discount_fen=money(trade.get("discount_fee"), "discount_fee"),
            freight_fen=money(trade.get("post_fee"), "post_fee"),
            payment_fen=money(trade.get("payment"), "payment"),
            lines=tuple(sub_order(obj(item, "orders.order[]")) for item in orders),
            raw=trade,
        )


def trade_trouble(sub_code: str) -> bool:
    """An isv.* business error about one trade (isv.trade-not-exist and the like), as opposed to
    one about the seller's session or the app's permissions, which stops the pull."""
    lowered = sub_code.lower()
    return lowered.startswith("isv.") and not any(w in lowered for w in ("session", "permission", "auth"))


def sub_order(item: Mapping[str, Any]) -> MarketLine:
    refund_status = text(item.get("refund_status"), "refund_status")
    # outer_sku_id is the seller's SKU code; outer_iid the item-level one, for items without SKUs.
    code = text(item.get("outer_sku_id"), "outer_sku_id") or text(item.get("outer_iid"), "outer_iid")
    return MarketLine(
        sub_order_id=order_id_text(item.get("oid"), "oid"),
        sku_code=code,
        title=text(item.get("title"), "title"),
        quantity=quantity(item.get("num"), "num"),
        unit_price_fen=money(item.get("price"), "price"),
        payment_fen=money(item.get("payment"), "payment"),
        # SUCCESS: refunded; a sub-order closed after payment (TRADE_CLOSED) is refunded too
        refunded=refund_status == "SUCCESS" or item.get("status") == "TRADE_CLOSED",
        refund_status=refund_status,
    )
