"""JD (京东) POP shops: `jingdong.pop.order.search` on the JOS gateway (routerjson), by
modification time (dateType=0), paged backwards. The search returns whole orders for the
`optional_fields` asked, so `jingdong.pop.order.get` is not needed for a pull.

Shapes and codes: docs/marketplaces.md (JD).
"""

from __future__ import annotations

import json
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
    beijing_text,
    beijing_time,
    optional_beijing_time,
    order_id_text,
)

DEFAULT_ENDPOINT = "https://api.jd.com/routerjson"
SEARCH = "jingdong.pop.order.search"
SEARCH_RESPONSE = "jingdong_pop_order_search_responce"  # sic: JD's own spelling

# Every state a POP order can be in, so a change to any of them is seen (order_state filters).
STATES: Mapping[str, PlatformStatus] = {
    "WAIT_SELLER_STOCK_OUT": PlatformStatus.AWAITING_SHIPMENT,  # 等待出库
    "WAIT_SELLER_DELIVERY": PlatformStatus.AWAITING_SHIPMENT,  # 等待发货 (cross-border, 境内发货)
    "WAIT_GOODS_RECEIVE_CONFIRM": PlatformStatus.SHIPPED,  # 等待确认收货
    "FINISHED_L": PlatformStatus.SHIPPED,  # 完成
    "TRADE_CANCELED": PlatformStatus.CANCELLED,  # 取消
    "LOCKED": PlatformStatus.HELD,  # 已锁定 (e.g. a cancellation being decided)
    "PAUSE": PlatformStatus.HELD,  # 暂停
    "POP_ORDER_PAUSE": PlatformStatus.HELD,  # POP暂停
}
FIELDS = (
    "orderId,venderId,orderType,payType,orderTotalPrice,orderSellerPrice,orderPayment,freightPrice,"
    "sellerDiscount,orderState,orderStateRemark,orderRemark,venderRemark,orderStartTime,orderEndTime,"
    "paymentConfirmTime,modified,consigneeInfo,itemInfoList,pin,open_id_buyer"
)
RATE_WORDS = ("限流", "频率", "频繁")  # flow control in a business answer's text


class JdClient(PlatformClient):
    platform = "jd"
    # The search allows a month by modification time; a day keeps pages few (see the doc).
    max_window = timedelta(days=1)
    default_endpoint = DEFAULT_ENDPOINT
    id_key = "orderId"

    # --- the call ---

    def _page(self, since: datetime, until: datetime, page: int) -> Page:
        result = self.call(
            SEARCH,
            SEARCH_RESPONSE,
            {
                "start_date": beijing_text(since),
                "end_date": beijing_text(until),
                "order_state": ",".join(STATES),
                "optional_fields": FIELDS,
                "page": str(page),
                "page_size": str(self.page_size),
                "sortType": "1",  # by modification time, newest first
                "dateType": "0",  # 0: modification time, 1: creation time
            },
        )
        found = result.get("searchorderinfo_result")
        if not isinstance(found, dict):
            raise Unreachable(f"{self.url}: no searchorderinfo_result in the answer")
        self._check_api_result(found.get("apiResult"))
        total = count(found.get("orderTotal", 0), "orderTotal", self.url)
        return total, records(found.get("orderInfoList"), "orderInfoList", self.url)

    def signed(self, method: str, business: Mapping[str, Any]) -> dict[str, str]:
        params = {
            "method": method,
            "app_key": self.access.app_key,
            "access_token": self.access.access_token,
            "timestamp": beijing_text(self.clock()),
            "v": "2.0",
            "360buy_param_json": json.dumps(business, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = md5_sign(self.access.app_secret, params)
        return params

    def _send(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        return self._post(self.signed(method, business))

    def _refused(self, method: str, error: Mapping[str, Any]) -> PullError:
        return self.refusal(error.get("code"), error.get("zh_desc") or error.get("en_desc"))

    def call(self, method: str, response_key: str, business: Mapping[str, Any]) -> dict[str, Any]:
        # JD also refuses inside the success envelope (its code other than "0"), in the same fields.
        result = super().call(method, response_key, business)
        if str(result.get("code", "0")) != "0":
            raise self._refused(method, result)
        return result

    def _check_api_result(self, api_result: Any) -> None:
        if isinstance(api_result, dict) and api_result.get("success") is False:
            raise self.refusal(
                api_result.get("numberCode"),
                api_result.get("chineseErrCode") or api_result.get("englishErrCode"),
            )

    def refusal(self, code: Any, message: Any) -> PullError:
        """Gateway code 2 is JD's 'App Call Limited'; 1 is taken as the gateway being unavailable
        (not confirmed); the rest are credentials or parameters, which do not pass by waiting."""
        code_text, message_text = str(code if code is not None else ""), str(message or "")
        said = f"JD {SEARCH}: code {code_text}: {message_text}"
        if code_text == "2" or any(word in message_text for word in RATE_WORDS):
            return RateLimited(said, code=code_text)
        if code_text == "1":
            return Unreachable(said, code=code_text)
        return PlatformRefused(said, code=code_text)

    # --- one record ---

    def order(self, raw: Any) -> MarketOrder:
        record = obj(raw, "order")
        order_id = order_id_text(record.get("orderId"), "orderId")
        state = text(record.get("orderState"), "orderState")
        items = record.get("itemInfoList")
        if not isinstance(items, list) or not items:
            raise BadRecord("itemInfoList: no lines")
        return MarketOrder(
            platform=self.platform,
            shop=self.access.shop,
            platform_order_id=order_id,
            status=STATES.get(state, PlatformStatus.OTHER),
            platform_status=state,
            modified_at=beijing_time(record.get("modified"), "modified"),
            created_at=optional_beijing_time(record.get("orderStartTime"), "orderStartTime"),
            paid_at=optional_beijing_time(record.get("paymentConfirmTime"), "paymentConfirmTime"),
            buyer_id=text(record.get("open_id_buyer"), "open_id_buyer"),
            buyer_nick=text(record.get("pin"), "pin"),
            buyer_message=text(record.get("orderRemark"), "orderRemark"),
            seller_memo=text(record.get("venderRemark"), "venderRemark"),
            receiver=consignee(obj(record.get("consigneeInfo") or {}, "consigneeInfo")),
            total_fen=money(record.get("orderTotalPrice"), "orderTotalPrice"),
            discount_fen=money(record.get("sellerDiscount"), "sellerDiscount"),
            freight_fen=money(record.get("freightPrice"), "freightPrice"),
            payment_fen=money(record.get("orderPayment"), "orderPayment"),
            lines=tuple(line(obj(item, "itemInfoList[]")) for item in items),
            raw=record,
        )


def consignee(info: Mapping[str, Any]) -> Receiver:
    """JD gives the whole address in fullAddress; where it starts with province, city, county and
    town as given, the rest is the detailed address, so full_address() gives fullAddress back byte
    for byte. Otherwise fullAddress is kept whole as the address."""
    parts = [text(info.get(key), f"consigneeInfo.{key}") for key in ("province", "city", "county", "town")]
    full = text(info.get("fullAddress"), "consigneeInfo.fullAddress")
    prefix = "".join(parts)
    detail = full[len(prefix) :] if prefix and full.startswith(prefix) else full
    return Receiver(
        name=text(info.get("fullname"), "consigneeInfo.fullname"),
        phone=text(info.get("mobile") or info.get("telephone"), "consigneeInfo.mobile"),
        province=parts[0],
        city=parts[1],
        district=parts[2],
        town=parts[3],
        address=detail,
    )


def line(item: Mapping[str, Any]) -> MarketLine:
    qty = quantity(item.get("itemTotal"), "itemTotal")
    unit = money(item.get("jdPrice"), "jdPrice")
    # outerSkuId is the seller's SKU code; productNo (货号) is the item-level fallback.
    code = text(item.get("outerSkuId"), "outerSkuId") or text(item.get("productNo"), "productNo")
    return MarketLine(
        sub_order_id=order_id_text(item.get("skuId"), "skuId"),
        sku_code=code,
        title=text(item.get("skuName"), "skuName"),
        quantity=qty,
        unit_price_fen=unit,
        payment_fen=unit * qty,  # JD gives no per-line amount paid; discounts are order-level
    )
