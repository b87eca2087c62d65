"""The JD adapter against recorded jingdong.pop.order.search pages: the request as JD signs it,
backward paging, exact normalisation, error envelopes and an unreadable record."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.ingest.adapters.marketplaces import PlatformRefused, RateLimited, Unreachable
from services.ingest.adapters.marketplaces.jd import FIELDS, JdClient
from services.ingest.domain.marketplace import MarketLine, MarketOrder, PlatformStatus, Receiver, Unreadable
from tests.unit.ingest.marketplace_replay import CLOCK, END, START, Replay, access, jd_page


def client(replay: Replay, **options) -> JdClient:
    return JdClient(access("jd"), replay.client(), page_size=2, clock=lambda: CLOCK, **options)


def pages(params: dict[str, str]) -> str:
    return f"search_page{jd_page(params)}.json"


def at(hour: int, minute: int, second: int = 0) -> datetime:
    """Beijing wall time on 2026-11-25 as the UTC instant."""
    return datetime(2026, 11, 25, hour - 8, minute, second, tzinfo=UTC)


EXPECTED_FIRST = MarketOrder(
    platform="jd",
    shop="jd-shop",
    platform_order_id="300045678901",
    status=PlatformStatus.AWAITING_SHIPMENT,
    platform_status="WAIT_SELLER_STOCK_OUT",
    modified_at=at(14, 20),
    created_at=at(13, 58, 41),
    paid_at=at(13, 59, 2),
    buyer_id="o-jd-7f3a2c",
    buyer_nick="jd_7a1f***",
    buyer_message="请改成金色 please change to gold",
    receiver=Receiver(
        name="𠮷野家",
        phone="13812345678",
        province="浙江",
        city="宁波市",
        district="鄞州区",
        town="首南街道",
        address="天童南路５８８号 🏭 三号楼",
    ),
    total_fen=12600,
    discount_fen=600,
    freight_fen=1000,
    payment_fen=13000,
    lines=(
        MarketLine("100023456781", "HB-2040-NI-100", "HB-2040 合页 hinge 镀镍 100mm", 4, 1250, 5000),
        # no outerSkuId: the item's productNo stands in
        MarketLine("100023456782", "BR-3310", "BR-3310 角码 corner bracket 镀锌 60mm", 20, 380, 7600),
    ),
)


def test_the_pages_are_read_from_the_last_back_to_the_first_and_read_exactly():
    replay = Replay("jd", pages)
    got = list(client(replay).changed_orders(START, END))

    assert [jd_page(p) for p in replay.sent] == [1, 2, 1]  # page 1 for the total, then backwards
    assert [type(r).__name__ for r in got] == ["MarketOrder", "Unreadable", "MarketOrder", "MarketOrder"]
    cancelled, unreadable, first, locked = got
    assert first == EXPECTED_FIRST
    assert first.raw["consigneeInfo"]["fullAddress"] == "浙江宁波市鄞州区首南街道天童南路５８８号 🏭 三号楼"
    assert first.receiver.full_address() == first.raw["consigneeInfo"]["fullAddress"]
    assert isinstance(cancelled, MarketOrder) and isinstance(locked, MarketOrder)
    assert (cancelled.platform_order_id, cancelled.status, cancelled.payment_fen) == (
        "300045678899",
        PlatformStatus.CANCELLED,
        9500,
    )
    assert cancelled.receiver.name == "阿卜杜·热合曼"
    assert (locked.status, locked.seller_memo) == (PlatformStatus.HELD, "客户要求改地址")
    # masked receiver data stays as JD sent it
    assert (locked.receiver.name, locked.receiver.phone, locked.receiver.address) == (
        "张*",
        "138****5678",
        "北滘镇****",
    )
    assert locked.receiver.masked
    assert unreadable == Unreadable(
        "jd", "jd-shop", "300045678898", "modified: '2026/11/25 14:01' is not a time like 2026-11-25 14:03:07"
    )
    assert unreadable.raw["modified"] == "2026/11/25 14:01"


def test_the_request_is_signed_as_jd_signs_it():
    replay = Replay("jd", pages)
    list(client(replay).changed_orders(START, END))

    sent = replay.sent[0]
    assert set(sent) == {"method", "app_key", "access_token", "timestamp", "v", "360buy_param_json", "sign"}
    assert (sent["method"], sent["app_key"], sent["access_token"], sent["v"]) == (
        "jingdong.pop.order.search",
        "jd-key",
        "jd-token",
        "2.0",
    )
    assert sent["timestamp"] == "2026-11-25 14:31:07"
    business = json.loads(sent["360buy_param_json"])
    assert business == {
        "start_date": "2026-11-25 14:00:00",
        "end_date": "2026-11-25 14:30:00",
        "order_state": "WAIT_SELLER_STOCK_OUT,WAIT_SELLER_DELIVERY,WAIT_GOODS_RECEIVE_CONFIRM,FINISHED_L,"
        "TRADE_CANCELED,LOCKED,PAUSE,POP_ORDER_PAUSE",
        "optional_fields": FIELDS,
        "page": "1",
        "page_size": "2",
        "sortType": "1",
        "dateType": "0",
    }
    joined = "".join(f"{k}{sent[k]}" for k in sorted(sent) if k != "sign")
    assert sent["sign"] == hashlib.md5(f"jd-secret{joined}jd-secret".encode()).hexdigest().upper()


def test_a_window_longer_than_a_day_is_asked_for_a_day_at_a_time():
    replay = Replay("jd", lambda p: httpx.Response(200, json=_empty()))
    list(client(replay).changed_orders(START, START + timedelta(days=1, hours=6)))
    asked = [json.loads(p["360buy_param_json"]) for p in replay.sent]
    windows = [(b["start_date"], b["end_date"]) for b in asked]
    assert windows == [
        ("2026-11-25 14:00:00", "2026-11-26 14:00:00"),
        ("2026-11-26 14:00:00", "2026-11-26 20:00:00"),
    ]


def _empty() -> dict:
    return {
        "jingdong_pop_order_search_responce": {
            "code": "0",
            "searchorderinfo_result": {"apiResult": {"success": True}, "orderTotal": 0, "orderInfoList": []},
        }
    }


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        ("error_limited.json", RateLimited, "2"),
        ("error_sign.json", PlatformRefused, "12"),
        ("api_result_failed.json", PlatformRefused, "10100001"),
        (httpx.Response(500, text="Internal Server Error"), Unreachable, ""),
        (httpx.Response(502, text="<html>bad gateway</html>"), Unreachable, ""),
        (httpx.Response(200, text="<html>not json</html>"), Unreachable, ""),
        (httpx.Response(200, json={"unexpected": {}}), Unreachable, ""),
        (httpx.Response(200, json=[1, 2]), Unreachable, ""),
        (httpx.Response(429, headers={"Retry-After": "7"}), RateLimited, "429"),
    ],
)
def test_errors_are_told_apart(answer, error, code):
    replay = Replay("jd", lambda p: answer)
    with pytest.raises(error) as raised:
        list(client(replay).changed_orders(START, END))
    assert type(raised.value) is error
    assert raised.value.code == code


def test_a_timeout_is_unreachable():
    def hang(params):
        raise httpx.ReadTimeout("no answer")

    with pytest.raises(Unreachable, match="no answer within 5 s"):
        list(client(Replay("jd", hang)).changed_orders(START, END))


def test_what_was_yielded_before_a_refusal_stays_yielded():
    answers = iter(["search_page1.json", "search_page2.json", "error_limited.json"])
    orders = client(Replay("jd", lambda p: next(answers))).changed_orders(START, END)
    got = []
    with pytest.raises(RateLimited):
        for record in orders:
            got.append(record.platform_order_id)
    assert got == ["300045678899", "300045678898"]
