"""The Taobao/Tmall adapter against recorded TOP pages: taobao.trades.sold.increment.get for the
tids, taobao.trade.fullinfo.get for each trade; tids above 2^53 kept exact, a refunded sub-order,
an oaid-masked receiver, TOP's signing (md5 and hmac) and error envelopes."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import pytest

from services.ingest.adapters.marketplaces import PlatformRefused, RateLimited, Unreachable
from services.ingest.adapters.marketplaces.tmall import FULL_FIELDS, LIST_FIELDS, TmallClient
from services.ingest.domain.marketplace import MarketLine, MarketOrder, PlatformStatus, Receiver, Unreadable
from tests.unit.ingest.marketplace_replay import CLOCK, END, START, Replay, access, fixture

TID = 4123456789012345678
assert TID > 2**53  # a float cannot hold it: 4123456789012345678 would come back ...5344


def client(replay: Replay, sign_method: str = "md5") -> TmallClient:
    return TmallClient(
        access("tmall"), replay.client(), page_size=2, sign_method=sign_method, clock=lambda: CLOCK
    )


def recorded(params: dict[str, str]) -> str:
    if params["method"] == "taobao.trades.sold.increment.get":
        return f"increment_page{params['page_no']}.json"
    return f"fullinfo_{params['tid']}.json"


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour - 8, minute, second, tzinfo=UTC)


EXPECTED_FIRST = MarketOrder(
    platform="tmall",
    shop="tmall-shop",
    platform_order_id="4123456789012345678",
    status=PlatformStatus.AWAITING_SHIPMENT,
    platform_status="WAIT_SELLER_SEND_GOODS",
    modified_at=at(14, 28),
    created_at=at(14, 26, 31),
    paid_at=at(14, 27, 2),
    buyer_id="AAHk5d-EAAeGwJedwSHpg8bT",
    buyer_nick="t**3",
    buyer_message="请改成金色 please change to gold",
    receiver=Receiver(
        name="𠮷野家",
        phone="13812345678",
        province="浙江省",
        city="宁波市",
        district="鄞州区",
        town="首南街道",
        address="天童南路５８８号 🏭 三号楼",
    ),
    total_fen=2500,
    freight_fen=800,
    payment_fen=3300,
    lines=(
        MarketLine(
            "4123456789012345679",
            "HB-2040-NI-100",
            "HB-2040 合页 hinge 镀镍 100mm",
            2,
            1250,
            2500,
            False,
            "NO_REFUND",
        ),
    ),
)


def test_tids_are_listed_backwards_then_each_trade_is_read_in_full():
    replay = Replay("tmall", recorded)
    got = list(client(replay).changed_orders(START, END))

    assert [(p["method"].split(".")[1], p.get("page_no") or p["tid"]) for p in replay.sent] == [
        ("trades", "1"),
        ("trades", "2"),
        ("trade", "4123456789012345878"),
        ("trades", "1"),
        ("trade", "4123456789012345678"),
        ("trade", "4123456789012345778"),
    ]
    unreadable, first, masked = got
    assert first == EXPECTED_FIRST
    assert first.raw["tid"] == TID and isinstance(first.raw["tid"], int)
    assert unreadable == Unreadable(
        "tmall",
        "tmall-shop",
        "4123456789012345878",
        "payment: '33.0.0' is not an amount in yuan such as 12.30",
    )
    assert isinstance(masked, MarketOrder)
    assert masked.platform_order_id == "4123456789012345778"
    assert masked.receiver.oaid == "1qoEL2p3ZVXhCQ5t0rB4nXbvxA1zGmOyc9cShzC7gpbE1uL5icCPibqyEd7GyDVsfsMU"
    assert (masked.receiver.name, masked.receiver.phone, masked.receiver.address) == (
        "张**",
        "*******5678",
        "北**街道****号",
    )
    assert masked.receiver.masked
    assert masked.lines == (
        MarketLine(
            "4123456789012345779",
            "PL-0805-SS-200",
            "PL-0805 安装板 mounting plate 不锈钢 200mm",
            1,
            2800,
            2800,
            False,
            "NO_REFUND",
        ),
        MarketLine(
            "4123456789012345780",
            "CL-1120-BK-045",
            "CL-1120 卡扣 spring clip 黑色 45mm",
            20,
            95,
            1900,
            True,
            "SUCCESS",
        ),
    )
    assert (masked.status, masked.seller_memo, masked.payment_fen) == (
        PlatformStatus.AWAITING_SHIPMENT,
        "卡扣已退款",
        4700,
    )


@pytest.mark.parametrize("sign_method", ["md5", "hmac"])
def test_system_parameters_go_in_the_query_and_everything_is_signed(sign_method):
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"trades_sold_increment_get_response": {"total_results": 0}})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    adapter = TmallClient(access("tmall"), http, page_size=2, sign_method=sign_method, clock=lambda: CLOCK)
    list(adapter.changed_orders(START, END))

    query = dict(parse_qsl(requests[0].url.query.decode()))
    form = dict(parse_qsl(requests[0].content.decode()))
    sign = query.pop("sign")
    assert query == {
        "method": "taobao.trades.sold.increment.get",
        "app_key": "tmall-key",
        "session": "tmall-token",
        "timestamp": "2026-11-25 14:31:07",
        "format": "json",
        "v": "2.0",
        "sign_method": sign_method,
    }
    assert form == {
        "fields": LIST_FIELDS,
        "start_modified": "2026-11-25 14:00:00",
        "end_modified": "2026-11-25 14:30:00",
        "page_no": "1",
        "page_size": "2",
        "use_has_next": "false",
    }
    both = {**query, **form}
    joined = "".join(f"{k}{both[k]}" for k in sorted(both))
    if sign_method == "md5":
        expected = hashlib.md5(f"tmall-secret{joined}tmall-secret".encode()).hexdigest().upper()
    else:
        expected = hmac.new(b"tmall-secret", joined.encode(), hashlib.md5).hexdigest().upper()
    assert sign == expected
    assert "tid" in FULL_FIELDS.split(",") and "orders" in FULL_FIELDS.split(",")


def _listing(trades: list[dict]) -> httpx.Response:
    body = {"trades_sold_increment_get_response": {"total_results": len(trades), "trades": {"trade": trades}}}
    return httpx.Response(200, content=json.dumps(body).encode())


def test_a_float_tid_or_a_disagreeing_tid_str_is_unreadable_not_rounded():
    listing = (
        b'{"trades_sold_increment_get_response": {"total_results": 1,'
        b' "trades": {"trade": [{"tid": 4.123456789012346e18}]}}}'
    )
    got = list(
        client(Replay("tmall", lambda p: httpx.Response(200, content=listing))).changed_orders(START, END)
    )
    assert got == [Unreadable("tmall", "tmall-shop", "", "tid: 4.123456789012346e+18 is not an id")]

    trade = json.loads(fixture("tmall", "fullinfo_4123456789012345678.json"))
    trade["trade_fullinfo_get_response"]["trade"]["tid_str"] = "4123456789012345600"

    def route(params):
        return _listing([{"tid": TID}]) if "page_no" in params else httpx.Response(200, json=trade)

    (unreadable,) = client(Replay("tmall", route)).changed_orders(START, END)
    assert unreadable == Unreadable(
        "tmall",
        "tmall-shop",
        "4123456789012345678",
        "tid 4123456789012345678 and tid_str '4123456789012345600' differ",
    )


def test_a_trade_gone_between_list_and_fullinfo_is_unreadable_and_the_rest_still_come():
    def route(params):
        if "page_no" in params:
            return _listing([{"tid": TID}, {"tid": TID + 100}])
        return "error_trade_missing.json" if params["tid"] == str(TID) else f"fullinfo_{params['tid']}.json"

    missing, found = client(Replay("tmall", route)).changed_orders(START, END)
    assert isinstance(missing, Unreadable) and missing.platform_order_id == str(TID)
    assert "isv.trade-not-exist" in missing.reason
    assert isinstance(found, MarketOrder) and found.platform_order_id == str(TID + 100)


@pytest.mark.parametrize(
    ("answer", "error", "code", "wait"),
    [
        ("error_limited.json", RateLimited, "accesscontrol.limited-by-api-access-count", 12.0),
        ("error_session.json", PlatformRefused, "invalid-sessionkey", None),
        ("error_isp.json", Unreachable, "isp.top-remote-connection-timeout", None),
        (httpx.Response(500), Unreachable, "", None),
        (httpx.Response(200, text="{"), Unreachable, "", None),
        (httpx.Response(200, text="NaN"), Unreachable, "", None),
        (
            httpx.Response(
                200, json={"trades_sold_increment_get_response": {"total_results": 1, "trades": "none"}}
            ),
            Unreachable,
            "",
            None,
        ),
    ],
)
def test_errors_are_told_apart(answer, error, code, wait):
    with pytest.raises(error) as raised:
        list(client(Replay("tmall", lambda p: answer)).changed_orders(START, END))
    assert type(raised.value) is error
    assert (raised.value.code, raised.value.retry_after_s) == (code, wait)


def test_a_refused_fullinfo_for_the_seller_stops_the_pull():
    def route(params):
        return _listing([{"tid": TID}]) if "page_no" in params else "error_session.json"

    with pytest.raises(PlatformRefused, match="Invalid session"):
        list(client(Replay("tmall", route)).changed_orders(START, END))
