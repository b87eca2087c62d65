"""The PDD adapter against recorded pdd.order.number.list.increment.get pages: the request as PDD
signs it, 30-minute windows, backward paging, yuan read exactly (JSON numbers and strings), status
codes, masked receivers, error envelopes and an unreadable record."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.ingest.adapters.marketplaces import PlatformRefused, RateLimited, Unreachable
from services.ingest.adapters.marketplaces.pdd import PddClient
from services.ingest.domain.marketplace import MarketLine, MarketOrder, PlatformStatus, Receiver, Unreadable
from tests.unit.ingest.marketplace_replay import CLOCK, END, START, Replay, access


def client(replay: Replay) -> PddClient:
    return PddClient(access("pdd"), replay.client(), page_size=2, clock=lambda: CLOCK)


def pages(params: dict[str, str]) -> str:
    return f"increment_page{params['page']}.json"


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour - 8, minute, second, tzinfo=UTC)


EXPECTED_FIRST = MarketOrder(
    platform="pdd",
    shop="pdd-shop",
    platform_order_id="231125-087654321098765",
    status=PlatformStatus.AWAITING_SHIPMENT,
    platform_status="order_status=1,refund_status=1,confirm_status=1,risk_control_status=0",
    modified_at=at(14, 25),
    created_at=at(14, 11, 5),
    paid_at=at(14, 11, 19),
    buyer_message="请改成金色 please change to gold",
    receiver=Receiver(
        name="阿卜杜·热合曼",
        phone="13999012345",
        province="新疆维吾尔自治区",
        city="乌鲁木齐市",
        district="天山区",
        address="解放南路１２３号",
    ),
    total_fen=3800,
    discount_fen=250,
    freight_fen=0,
    payment_fen=3550,
    lines=(MarketLine("700001", "BR-3310-ZN-060", "BR-3310 角码 corner bracket 镀锌 60mm", 10, 380, 3800),),
)


def test_the_pages_are_read_backwards_and_read_exactly():
    replay = Replay("pdd", pages)
    got = list(client(replay).changed_orders(START, END))

    assert [p["page"] for p in replay.sent] == ["1", "2", "1"]
    refunded, unreadable, first, held = got
    assert first == EXPECTED_FIRST
    assert isinstance(refunded, MarketOrder) and isinstance(held, MarketOrder)
    # amounts sent as strings read the same as JSON numbers; outer_goods_id stands in for outer_id
    assert (refunded.status, refunded.total_fen, refunded.freight_fen, refunded.payment_fen) == (
        PlatformStatus.REFUNDED,
        4750,
        500,
        5250,
    )
    assert refunded.lines == (
        MarketLine("700003", "CL-1120", "CL-1120 卡扣 spring clip 黑色 45mm", 50, 95, 4750),
    )
    assert refunded.platform_status == "order_status=1,refund_status=4,confirm_status=1,risk_control_status=0"
    # risk control holds it; the masked text (not the ciphertext) is the receiver, byte for byte
    assert held.status == PlatformStatus.HELD
    assert held.receiver == Receiver(
        name="张**",
        phone="138****5678",
        province="广东省",
        city="佛山市",
        district="顺德区",
        address="北滘镇****号",
    )
    assert held.receiver.masked and held.raw["receiver_name"] == "~AgAAAAGHxZg1~"
    assert unreadable == Unreadable(
        "pdd", "pdd-shop", "231125-087654321098768", "goods_count: 0 is not a positive whole number"
    )
    assert unreadable.raw["item_list"][0]["goods_count"] == 0


def test_the_request_is_signed_as_pdd_signs_it():
    replay = Replay("pdd", pages)
    list(client(replay).changed_orders(START, END))

    sent = replay.sent[0]
    assert {k: v for k, v in sent.items() if k != "sign"} == {
        "type": "pdd.order.number.list.increment.get",
        "client_id": "pdd-key",
        "access_token": "pdd-token",
        "timestamp": str(int(CLOCK.timestamp())),
        "data_type": "JSON",
        "version": "V1",
        "is_lucky_flag": "0",
        "order_status": "5",
        "refund_status": "5",
        "start_updated_at": "1795586400",  # 2026-11-25 06:00:00 UTC
        "end_updated_at": "1795588200",
        "page": "1",
        "page_size": "2",
        "use_has_next": "false",
    }
    joined = "".join(f"{k}{sent[k]}" for k in sorted(sent) if k != "sign")
    assert sent["sign"] == hashlib.md5(f"pdd-secret{joined}pdd-secret".encode()).hexdigest().upper()


def test_an_hour_is_asked_for_in_two_half_hours():
    empty = {"order_sn_increment_get_response": {"total_count": 0, "order_sn_list": []}}
    replay = Replay("pdd", lambda p: httpx.Response(200, json=empty))
    list(client(replay).changed_orders(START, START + timedelta(hours=1)))
    assert [(p["start_updated_at"], p["end_updated_at"]) for p in replay.sent] == [
        ("1795586400", "1795588200"),
        ("1795588200", "1795590000"),
    ]


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        ("error_limited.json", RateLimited, "70031"),
        ("error_token.json", PlatformRefused, "10019"),
        ("error_unavailable.json", Unreachable, "52103"),
        (
            httpx.Response(
                200, json={"error_response": {"error_code": 52101, "error_msg": "当前接口被限流"}}
            ),
            RateLimited,
            "52101",
        ),
        (httpx.Response(503, text="Service Unavailable"), Unreachable, ""),
        (httpx.Response(200, content=b"\xff\xfe not utf-8"), Unreachable, ""),
        (
            httpx.Response(200, json={"order_sn_increment_get_response": {"total_count": "four"}}),
            Unreachable,
            "",
        ),
        (
            httpx.Response(
                200, json={"order_sn_increment_get_response": {"total_count": 1, "order_sn_list": {}}}
            ),
            Unreachable,
            "",
        ),
    ],
)
def test_errors_are_told_apart(answer, error, code):
    with pytest.raises(error) as raised:
        list(client(Replay("pdd", lambda p: answer)).changed_orders(START, END))
    assert type(raised.value) is error
    assert raised.value.code == code


def test_a_connection_refused_is_unreachable():
    def refuse(params):
        raise httpx.ConnectError("connection refused")

    with pytest.raises(Unreachable, match="ConnectError"):
        list(client(Replay("pdd", refuse)).changed_orders(START, END))
