"""The three platform gateways as the simulator plays them: JD routerjson, PDD api/router and
Taobao TOP router/rest. Each reads its own parameters, checks the signature and credentials as the
platform does, and answers in the platform's envelopes (error envelopes with HTTP 200, as the
platforms do). docs/marketplaces.md marks which error codes are the platforms' documented ones and
which are the simulator's plausible stand-ins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.ingest.adapters.marketplaces.common import hmac_md5_sign, md5_sign
from services.marketplace_simulator.store import SPECS, Fault, Shop, Store

BEIJING = ZoneInfo("Asia/Shanghai")
TIME = "%Y-%m-%d %H:%M:%S"


@dataclass
class Answer:
    status: int
    body: Any  # JSON-able, or bytes sent as they are


class Refused(Exception):
    def __init__(self, body: Any):
        self.body = body


@dataclass
class Listing:
    """What a list call answered from: the whole window in order, for the page-shift fault."""

    window: list[dict[str, Any]]
    end: str


def beijing(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime(TIME)


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, TIME).replace(tzinfo=BEIJING)


def page_of(rows: list[dict[str, Any]], page: int, size: int) -> list[dict[str, Any]]:
    return rows[(page - 1) * size : page * size]


class Gateway:
    platform = ""
    method_param = "method"
    errors: dict[str, Any] = {}

    def credentials(self, params: dict[str, str]) -> tuple[str, str]:
        raise NotImplementedError

    def sign(self, params: dict[str, str], secret: str) -> str:
        return md5_sign(secret, {k: v for k, v in params.items() if k != "sign"})

    def handle(
        self, method: str, params: dict[str, str], store: Store, shop: Shop
    ) -> tuple[Any, Listing | None]:
        raise NotImplementedError

    def serve(self, params: dict[str, str], store: Store, sleep: Callable[[float], object]) -> Answer:
        method = params.get(self.method_param, "")
        fault = store.next_fault(self.platform, method)
        kind = fault.kind if fault else ""
        if kind == "http_500":
            return Answer(500, b"Internal Server Error")
        if kind == "garbage":
            return Answer(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
        if kind in ("rate_limit", "error"):
            return Answer(200, self.errors[kind])
        if kind == "slow" and fault is not None:
            sleep(fault.delay_ms)
        try:
            shop = self.authenticate(params, store)
            body, listing = self.handle(method, params, store, shop)
        except Refused as refused:
            return Answer(200, refused.body)
        if kind == "shift" and listing is not None and listing.window:
            self.shift(store, shop, listing)
        return Answer(200, body)

    def authenticate(self, params: dict[str, str], store: Store) -> Shop:
        app_key, token = self.credentials(params)
        shops = store.shops_with_key(self.platform, app_key)
        if not shops:
            raise Refused(self.errors["app_key"])
        if not any(params.get("sign", "") == self.sign(params, s.app_secret) for s in shops):
            raise Refused(self.errors["sign"])
        for shop in shops:
            if shop.access_token == token:
                return shop
        raise Refused(self.errors["token"])

    def shift(self, store: Store, shop: Shop, listing: Listing) -> None:
        """The first order of the window changes while the client pages: it leaves the window
        (modified a second after its end, so the test that follows it knows where it went) and
        every later one moves a place forward, so the next page asked for repeats one."""
        spec = SPECS[self.platform]
        stamp = beijing(parse_time(listing.end) + timedelta(seconds=1))
        store.touch(self.platform, shop.shop, str(listing.window[0][spec.id_key]), stamp)


def _int(value: str | None, default: int, refuse: Any) -> int:
    try:
        return default if value in (None, "") else int(str(value))
    except ValueError:
        raise Refused(refuse) from None


class JdGateway(Gateway):
    platform = "jd"

    @staticmethod
    def _error(code: str, zh: str, en: str) -> dict[str, Any]:
        return {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}}

    errors = {
        "rate_limit": _error("2", "限制时间内调用失败次数", "App Call Limited"),
        "error": _error("1", "服务不可用", "Service Unavailable"),
        "sign": _error("12", "无效签名", "Invalid Signature"),
        "app_key": _error("10", "无效的app_key", "Invalid app_key"),
        "token": _error("19", "无效access_token", "Invalid access_token"),
        "method": _error("15", "不存在的方法名", "Invalid Method"),
    }

    def credentials(self, params: dict[str, str]) -> tuple[str, str]:
        return params.get("app_key", ""), params.get("access_token", "")

    @staticmethod
    def _result(
        key: str, name: str, payload: dict[str, Any], ok: bool = True, why: str = ""
    ) -> dict[str, Any]:
        api_result = {
            "success": ok,
            "chineseErrCode": "成功" if ok else why,
            "englishErrCode": "success" if ok else "invalid parameter",
            "numberCode": 10100000 if ok else 10100001,
        }
        return {key: {"code": "0", name: {"apiResult": api_result, **payload}}}

    def handle(
        self, method: str, params: dict[str, str], store: Store, shop: Shop
    ) -> tuple[Any, Listing | None]:
        try:
            query = json.loads(params.get("360buy_param_json") or "{}")
            assert isinstance(query, dict)
        except (ValueError, AssertionError):
            raise Refused(
                self._error("3", "360buy_param_json 不是JSON", "Invalid 360buy_param_json")
            ) from None
        if method == "jingdong.pop.order.get":
            found = store.order("jd", shop.shop, str(query.get("order_id", "")))
            detail = {"orderInfo": found} if found else {}
            return self._result("jingdong_pop_order_get_responce", "orderDetailInfo", detail), None
        if method != "jingdong.pop.order.search":
            raise Refused(self.errors["method"])
        key, name = "jingdong_pop_order_search_responce", "searchorderinfo_result"
        try:
            start, end = parse_time(query["start_date"]), parse_time(query["end_date"])
            page, size = int(query.get("page", 1)), int(query.get("page_size", 20))
        except (KeyError, ValueError, TypeError):
            return self._result(key, name, {}, False, "start_date/end_date/page 参数错误"), None
        if end - start > timedelta(days=31) or not 1 <= size <= 100 or page < 1:
            return self._result(key, name, {}, False, "时间跨度不能超过一个月，page_size 1-100"), None
        wanted = set(str(query.get("order_state", "")).split(","))
        rows = store.window("jd", shop.shop, beijing(start), beijing(end), str(query.get("sortType")) == "1")
        rows = [r for r in rows if r.get("orderState") in wanted]
        payload: dict[str, Any] = {"orderInfoList": page_of(rows, page, size), "orderTotal": len(rows)}
        return self._result(key, name, payload), Listing(rows, beijing(end))


class PddGateway(Gateway):
    platform = "pdd"
    method_param = "type"

    @staticmethod
    def _error(code: int, message: str, sub: str = "") -> dict[str, Any]:
        body = {"error_code": code, "error_msg": message, "sub_code": sub, "sub_msg": "", "request_id": "sim"}
        return {"error_response": body}

    errors = {
        "rate_limit": _error(70031, "调用过于频繁，请调整调用频率"),
        "error": _error(52103, "服务暂时不可用，请稍后重试"),
        "sign": _error(10016, "签名错误"),
        "app_key": _error(10014, "client_id不存在"),
        "token": _error(10019, "access_token已过期"),
        "method": _error(10012, "接口不存在"),
        "params": _error(10000, "参数错误", "时间跨度不能超过30分钟，page_size 1-100"),
    }

    def credentials(self, params: dict[str, str]) -> tuple[str, str]:
        return params.get("client_id", ""), params.get("access_token", "")

    def handle(
        self, method: str, params: dict[str, str], store: Store, shop: Shop
    ) -> tuple[Any, Listing | None]:
        if method == "pdd.order.information.get":
            found = store.order("pdd", shop.shop, params.get("order_sn", ""))
            return {"order_info_get_response": {"order_info": found, "request_id": "sim"}}, None
        if method != "pdd.order.number.list.increment.get":
            raise Refused(self.errors["method"])
        bad = self.errors["params"]
        start, end = (
            _int(params.get("start_updated_at"), -1, bad),
            _int(params.get("end_updated_at"), -1, bad),
        )
        page, size = _int(params.get("page"), 1, bad), _int(params.get("page_size"), 100, bad)
        if start < 0 or not 0 <= end - start <= 30 * 60 or not 1 <= size <= 100 or page < 1:
            raise Refused(bad)
        since, until = (beijing(datetime.fromtimestamp(t, UTC)) for t in (start, end))
        rows = store.window("pdd", shop.shop, since, until, newest_first=True)
        for key in ("order_status", "refund_status"):
            wanted = _int(params.get(key), 5, bad)
            rows = rows if wanted == 5 else [r for r in rows if r.get(key) == wanted]
        answer: dict[str, Any] = {"order_sn_list": page_of(rows, page, size), "request_id": "sim"}
        if params.get("use_has_next") == "true":
            answer["has_next"] = page * size < len(rows)
        else:
            answer["total_count"] = len(rows)
        return {"order_sn_increment_get_response": answer}, Listing(rows, until)


class TmallGateway(Gateway):
    platform = "tmall"

    @staticmethod
    def _error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"code": code, "msg": msg, "request_id": "sim"}
        if sub_code:
            body.update(sub_code=sub_code, sub_msg=sub_msg)
        return {"error_response": body}

    errors = {
        "rate_limit": _error(
            7,
            "App Call Limited",
            "accesscontrol.limited-by-api-access-count",
            "This ban will last for 1 more seconds",
        ),
        "error": _error(15, "Remote service error", "isp.top-remote-connection-timeout", "服务超时"),
        "sign": _error(25, "Invalid signature"),
        "app_key": _error(29, "Invalid app Key"),
        "token": _error(27, "Invalid session", "invalid-sessionkey", "SessionKey非法"),
        "method": _error(22, "Invalid method"),
        "params": _error(15, "Remote service error", "isv.invalid-parameter", "修改时间跨度不能大于一天"),
        "missing": _error(15, "Remote service error", "isv.trade-not-exist", "交易不存在"),
    }

    def credentials(self, params: dict[str, str]) -> tuple[str, str]:
        return params.get("app_key", ""), params.get("session", "")

    def sign(self, params: dict[str, str], secret: str) -> str:
        rest = {k: v for k, v in params.items() if k != "sign"}
        return hmac_md5_sign(secret, rest) if params.get("sign_method") == "hmac" else md5_sign(secret, rest)

    def handle(
        self, method: str, params: dict[str, str], store: Store, shop: Shop
    ) -> tuple[Any, Listing | None]:
        if method == "taobao.trade.fullinfo.get":
            found = store.order("tmall", shop.shop, params.get("tid", ""))
            if found is None:
                raise Refused(self.errors["missing"])
            return {"trade_fullinfo_get_response": {"trade": found, "request_id": "sim"}}, None
        if method != "taobao.trades.sold.increment.get":
            raise Refused(self.errors["method"])
        bad = self.errors["params"]
        try:
            start, end = parse_time(params["start_modified"]), parse_time(params["end_modified"])
        except (KeyError, ValueError):
            raise Refused(bad) from None
        page, size = _int(params.get("page_no"), 1, bad), _int(params.get("page_size"), 40, bad)
        if not timedelta(0) <= end - start <= timedelta(days=1) or not 1 <= size <= 100 or page < 1:
            raise Refused(bad)
        rows = store.window("tmall", shop.shop, beijing(start), beijing(end), newest_first=True)
        fields = [f for f in params.get("fields", "tid").split(",") if f]
        shown = [{k: r[k] for k in fields if k in r} for r in page_of(rows, page, size)]
        answer: dict[str, Any] = {"request_id": "sim"}
        if shown:  # TOP leaves an empty list out
            answer["trades"] = {"trade": shown}
        if params.get("use_has_next") == "true":
            answer["has_next"] = page < math.ceil(len(rows) / size)
        else:
            answer["total_results"] = len(rows)
        return {"trades_sold_increment_get_response": answer}, Listing(rows, beijing(end))


GATEWAYS: dict[str, Gateway] = {"jd": JdGateway(), "pdd": PddGateway(), "tmall": TmallGateway()}
PATHS = {"/jd/routerjson": "jd", "/pdd/api/router": "pdd", "/tmall/router/rest": "tmall"}

__all__ = ["GATEWAYS", "PATHS", "Answer", "Fault", "beijing"]
