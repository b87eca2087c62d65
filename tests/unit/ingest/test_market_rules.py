"""The rules every marketplace order goes through (services/ingest/domain/market_rules.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.domain import marketplace
from services.ingest.domain.market_rules import (
    CatalogueEntry,
    Known,
    OrderLineDraft,
    Outcome,
    Overrides,
    Screening,
    Verdict,
    content_hash,
    decide,
    merge_receiver,
    order_lines,
)
from services.ingest.domain.marketplace import BadRecord, MarketLine, MarketOrder, PlatformStatus, Receiver

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
CATALOGUE = {
    "HB-2040-NI-100": CatalogueEntry(
        "HB-2040 铰链 hinge", finish="镀镍 nickel", pack_size=100, list_price_fen=45
    ),
    "BR-1010-ZN-50": CatalogueEntry("BR-1010 支架 bracket", finish="镀锌 zinc", pack_size=50),
}
SCREEN = Screening(CATALOGUE, ("改色", "改成", "colour"))
CLEAR = Receiver("𠮷野家", "13800138000", "广东省", "佛山市", "顺德区", "", "北滘镇美的大道６号　３号仓")


def order(status=PlatformStatus.AWAITING_SHIPMENT, modified=T0, **kw) -> MarketOrder:
    base = dict(
        platform="tmall",
        shop="tmall_flagship",
        platform_order_id="4123456789012345678",
        status=status,
        platform_status="WAIT_SELLER_SEND_GOODS",
        modified_at=modified,
        paid_at=T0,
        receiver=CLEAR,
        lines=(MarketLine("1", "HB-2040-NI-100", "合页", 3, 4500, 13500),),
        raw={"tid": 4123456789012345678, "modified": str(modified)},
    )
    base.update(kw)
    return MarketOrder(**base)


def known_of(o: MarketOrder, outcome: Outcome, order_id: str = "") -> Known:
    return Known(o.modified_at, content_hash(o.raw), outcome, order_id, o.receiver)


def test_a_paid_order_with_known_skus_is_created():
    d = decide(order(), None, SCREEN)
    assert (d.verdict, d.reasons, d.left_out) == (Verdict.CREATE, (), ())


def test_an_identical_repeat_and_an_older_record_are_no_ops():
    o = order()
    assert decide(o, known_of(o, Outcome.CREATED, "x"), SCREEN).verdict == Verdict.DUPLICATE
    older = order(modified=T0 - timedelta(minutes=1), raw={"v": "old"})
    assert decide(older, known_of(o, Outcome.CREATED, "x"), SCREEN).verdict == Verdict.DUPLICATE


def test_a_newer_record_of_a_created_order_is_an_update_not_a_second_order():
    o = order()
    newer = order(modified=T0 + timedelta(minutes=5), raw={"v": 2})
    assert decide(newer, known_of(o, Outcome.CREATED, "x"), SCREEN).verdict == Verdict.UPDATE


@pytest.mark.parametrize("status", [PlatformStatus.UNPAID, PlatformStatus.HELD])
def test_unpaid_or_held_orders_wait(status):
    assert decide(order(status), None, SCREEN).verdict == Verdict.WAIT


@pytest.mark.parametrize(
    "status", [PlatformStatus.CANCELLED, PlatformStatus.REFUNDED, PlatformStatus.SHIPPED]
)
def test_never_seen_cancelled_refunded_or_shipped_orders_are_skipped_with_a_reason(status):
    d = decide(order(status), None, SCREEN)
    assert d.verdict == Verdict.SKIP and d.note


def test_an_ingested_order_later_cancelled_is_cancelled_in_the_oms():
    o = order()
    cancelled = order(PlatformStatus.CANCELLED, modified=T0 + timedelta(hours=1), raw={"v": "closed"})
    assert decide(cancelled, known_of(o, Outcome.CREATED, "oid"), SCREEN).verdict == Verdict.CANCEL
    # ... and a repeat of the cancellation does nothing more
    assert (
        decide(cancelled, known_of(cancelled, Outcome.CANCELLED, "oid"), SCREEN).verdict == Verdict.DUPLICATE
    )


def test_a_waiting_order_that_is_paid_later_is_created():
    unpaid = order(PlatformStatus.UNPAID, raw={"v": 1})
    paid = order(modified=T0 + timedelta(minutes=3), raw={"v": 2})
    assert decide(paid, known_of(unpaid, Outcome.WAITING), SCREEN).verdict == Verdict.CREATE


def test_refunded_sub_orders_are_left_out_and_recorded():
    lines = (
        MarketLine("1", "HB-2040-NI-100", "合页", 3, 4500, 13500),
        MarketLine("2", "BR-1010-ZN-50", "支架", 1, 2000, 2000, refunded=True, refund_status="SUCCESS"),
    )
    d = decide(order(lines=lines), None, SCREEN)
    assert d.verdict == Verdict.CREATE
    assert [x.sub_order_id for x in d.order.lines] == ["1"]
    assert [x.sub_order_id for x in d.left_out] == ["2"]


def test_every_sub_order_refunded_is_a_refund():
    lines = (MarketLine("1", "HB-2040-NI-100", "合页", 3, 4500, 13500, refunded=True),)
    assert decide(order(lines=lines), None, SCREEN).verdict == Verdict.SKIP


def test_every_reason_that_applies_is_listed():
    lines = (
        MarketLine("1", "", "合页", 3, 4500, 13500),
        MarketLine("2", "NOPE-1", "螺丝", 1, 100, 100),
    )
    masked = Receiver("王**", "138****0000", "浙江省", "宁波市", "", "", "***", oaid="1a2b3c")
    d = decide(
        order(lines=lines, receiver=masked, buyer_message="请改成金色 please change the colour"), None, SCREEN
    )
    assert d.verdict == Verdict.REVIEW
    assert [r.code for r in d.reasons] == [
        "sku.missing",
        "sku.unknown",
        "buyer.change_request",
        "receiver.masked",
    ]


def test_an_unknown_status_code_is_reviewed_not_dropped():
    d = decide(order(PlatformStatus.OTHER, platform_status="PAID_FORBID_CONSIGN"), None, SCREEN)
    assert d.verdict == Verdict.REVIEW and d.reasons[0].code == "status.unknown"


def test_a_masked_value_never_overwrites_a_clear_one():
    masked = Receiver("𠮷**", "138****8000", "广东省", "佛山市", "顺德区", "", "北滘镇***", oaid="abc")
    merged = merge_receiver(CLEAR, masked)
    assert (merged.name, merged.phone, merged.address, merged.oaid) == (
        CLEAR.name,
        CLEAR.phone,
        CLEAR.address,
        "",
    )
    assert not merged.masked
    o = order(receiver=masked, modified=T0 + timedelta(minutes=1), raw={"v": 3})
    d = decide(o, known_of(order(), Outcome.WAITING), SCREEN)
    assert d.verdict == Verdict.CREATE and d.order.receiver.name == "𠮷野家"


def test_a_clear_value_replaces_a_masked_one():
    masked = Receiver("王**", "138****0000", address="***", oaid="abc")
    assert merge_receiver(masked, CLEAR) == CLEAR


def test_lines_are_pieces_priced_exactly_or_by_list_price():
    o = order(
        lines=(
            MarketLine("1", "HB-2040-NI-100", "合页", 3, 4500, 13500),  # 300 pieces, 13500 / 300 = 45
            MarketLine("2", "BR-1010-ZN-50", "支架", 1, 1999, 1999),  # 50 pieces, 1999 does not divide
        )
    )
    lines = order_lines(o, CATALOGUE, Overrides())
    assert lines == [
        OrderLineDraft("HB-2040 铰链 hinge", 300, 45, "", "镀镍 nickel", "", "1"),
        OrderLineDraft("BR-1010 支架 bracket", 50, 0, "", "镀锌 zinc", "", "2"),
    ]


def test_a_person_maps_an_unknown_sku():
    o = order(lines=(MarketLine("9", "NOPE", "螺丝", 2, 100, 200),))
    mapped = OrderLineDraft("BR-1010 支架 bracket", 100, 2, sub_order_id="9")
    assert order_lines(o, CATALOGUE, Overrides(lines={"9": mapped})) == [mapped]


def test_money_is_parsed_exactly_in_fen():
    assert marketplace.fen("12.30") == 1230
    assert marketplace.fen("0.07") == 7
    assert marketplace.fen("19999999.99") == 1999999999
    assert marketplace.fen("") == 0
    for bad in ("1.005", "abc", "1e3", 0.1):
        with pytest.raises(BadRecord):
            marketplace.fen(bad)


def test_platform_times_are_beijing_time():
    assert marketplace.beijing_time("2026-11-25 14:03:07") == datetime(2026, 11, 25, 6, 3, 7, tzinfo=UTC)
    with pytest.raises(BadRecord):
        marketplace.beijing_time("25/11/2026")


def test_ids_stay_strings_and_floats_are_refused():
    assert marketplace.order_id_text(4123456789012345678) == "4123456789012345678"
    with pytest.raises(BadRecord):
        marketplace.order_id_text(4.123456789012346e18)


def test_the_stored_form_round_trips():
    o = order(receiver=replace(CLEAR, oaid="x"), buyer_message="😀 请尽快")
    assert marketplace.from_json(marketplace.to_json(o)) == o


def test_ciphertext_without_a_masked_copy_is_masked():
    assert Receiver("~AgAAAAGHxZg1EjRW~", "13800000000", address="北京").masked
    assert Receiver("王五", "$13812345678abcd$", address="北京").masked
    assert not Receiver("王~五", "13800000000", address="~北京~").masked  # too short to be ciphertext
