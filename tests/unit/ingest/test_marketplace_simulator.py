"""The three adapters against the real marketplace simulator in a thread: paging, windows, late
and updated orders, a page that shifts while being read, flow control, platform errors, slow
answers, bad signatures and credentials, and the admin API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.ingest.adapters.marketplaces import PlatformRefused, RateLimited, ShopAccess, Unreachable
from services.ingest.adapters.marketplaces.jd import JdClient
from services.ingest.adapters.marketplaces.pdd import PddClient
from services.ingest.adapters.marketplaces.tmall import TmallClient
from services.ingest.domain.marketplace import MarketOrder, PlatformStatus, Unreadable
from services.marketplace_simulator import SimulatorHandle, start_in_thread
from services.marketplace_simulator.samples import (
    PLATE,
    demo_orders,
    demo_shops,
    jd_order,
    pdd_order,
    tmall_sub_order,
    tmall_trade,
)
from tests.unit.ingest.marketplace_replay import END, START

SHOPS = {shop.platform: shop for shop in demo_shops()}
ADAPTERS = {"jd": JdClient, "pdd": PddClient, "tmall": TmallClient}
LIST_METHODS = {
    "jd": "jingdong.pop.order.search",
    "pdd": "pdd.order.number.list.increment.get",
    "tmall": "taobao.trades.sold.increment.get",
}
TID = 4123456789012345678


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_in_thread(shops=SHOPS.values()) as handle:
        yield handle


@pytest.fixture
def http(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    sim.store.reset()
    with httpx.Client() as client:
        yield client


def adapter(
    sim: SimulatorHandle, http: httpx.Client, platform: str, **changes
) -> JdClient | PddClient | TmallClient:
    shop = SHOPS[platform]
    access = ShopAccess(
        platform, shop.shop, sim.endpoint(platform), shop.app_key, shop.app_secret, shop.access_token
    )
    return ADAPTERS[platform](replace(access, **changes), http, page_size=2)


def record(platform: str, n: int, modified: str, **options) -> dict:
    """The n-th sample order of a platform, modified at `modified` (Beijing time)."""
    if platform == "jd":
        return jd_order(f"30004567{n:04d}", modified, **options)
    if platform == "pdd":
        return pdd_order(f"231125-0876543210{n:05d}", modified, **options)
    return tmall_trade(TID + 100 * n, modified, [tmall_sub_order(TID + 100 * n + 1, PLATE, 1)], **options)


def ids(platform: str, n: int) -> str:
    return {"jd": f"30004567{n:04d}", "pdd": f"231125-0876543210{n:05d}", "tmall": str(TID + 100 * n)}[
        platform
    ]


def put(sim: SimulatorHandle, platform: str, *records: dict) -> None:
    for one in records:
        sim.put_order(platform, SHOPS[platform].shop, one)


def pulled(client, start: datetime = START, end: datetime = END) -> list[str]:
    got = list(client.changed_orders(start, end))
    assert all(isinstance(r, MarketOrder) for r in got), [r for r in got if isinstance(r, Unreadable)]
    return [r.platform_order_id for r in got]


PLATFORMS = pytest.mark.parametrize("platform", ["jd", "pdd", "tmall"])


@PLATFORMS
def test_every_order_of_the_window_comes_once_across_pages(sim, http, platform):
    put(sim, platform, *(record(platform, n, f"2026-11-25 14:{10 + n:02d}:00") for n in range(5)))
    put(sim, platform, record(platform, 9, "2026-11-25 14:30:01"), record(platform, 8, "2026-11-25 13:59:59"))

    got = pulled(adapter(sim, http, platform))

    assert sorted(got) == sorted(ids(platform, n) for n in range(5))
    list_calls = 1 + 3  # page 1 for the total, then pages 3, 2, 1
    assert sim.store.calls(platform) == list_calls + (5 if platform == "tmall" else 0)  # + fullinfo each


@PLATFORMS
def test_late_arriving_and_updated_orders_are_seen_in_their_windows(sim, http, platform):
    client = adapter(sim, http, platform)
    put(sim, platform, record(platform, 1, "2026-11-25 14:05:00"))
    assert pulled(client) == [ids(platform, 1)]

    # an order indexed late, with a modification time in a window already pulled
    put(sim, platform, record(platform, 2, "2026-11-25 14:10:00"))
    assert pulled(client) == [ids(platform, 2), ids(platform, 1)]

    # an update moves the order to the window of its new modification time
    cancelled = {
        "jd": {"state": "TRADE_CANCELED"},
        "pdd": {"confirm_status": 2},
        "tmall": {"status": "TRADE_CLOSED_BY_TAOBAO"},
    }
    put(sim, platform, record(platform, 1, "2026-11-25 14:40:00", **cancelled[platform]))
    assert pulled(client) == [ids(platform, 2)]
    (later,) = client.changed_orders(END, END + timedelta(minutes=30))
    assert (later.platform_order_id, later.status) == (ids(platform, 1), PlatformStatus.CANCELLED)


@PLATFORMS
def test_an_order_changing_while_pages_are_read_makes_the_next_page_repeat_one(sim, http, platform):
    put(sim, platform, *(record(platform, n, f"2026-11-25 14:{20 - 5 * n:02d}:00") for n in range(3)))
    # after page 1 (the total) and the last page, the newest order changes and leaves the window
    sim.add_fault(platform, "shift", after=1, method=LIST_METHODS[platform])

    got = pulled(adapter(sim, http, platform))

    assert got == [ids(platform, 2), ids(platform, 1), ids(platform, 2)]  # the oldest twice, none lost
    (moved,) = adapter(sim, http, platform).changed_orders(END, END + timedelta(minutes=30))
    assert moved.platform_order_id == ids(platform, 0)


@PLATFORMS
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("rate_limit", RateLimited),
        ("error", Unreachable),
        ("http_500", Unreachable),
        ("garbage", Unreachable),
    ],
)
def test_faults_come_as_the_right_pull_error(sim, http, platform, kind, error):
    put(sim, platform, record(platform, 1, "2026-11-25 14:05:00"))
    sim.add_fault(platform, kind)
    with pytest.raises(error) as raised:
        pulled(adapter(sim, http, platform))
    assert type(raised.value) is error
    assert pulled(adapter(sim, http, platform)) == [ids(platform, 1)]  # the next call is answered


def test_flow_control_tells_how_long_to_wait(sim, http):
    sim.add_fault("tmall", "rate_limit")
    with pytest.raises(RateLimited) as raised:
        pulled(adapter(sim, http, "tmall"))
    assert (raised.value.code, raised.value.retry_after_s) == (
        "accesscontrol.limited-by-api-access-count",
        1.0,
    )


@PLATFORMS
def test_a_slow_answer_past_the_timeout_is_unreachable(sim, http, platform):
    sim.add_fault(platform, "slow", delay_ms=400)
    with pytest.raises(Unreachable, match=r"no answer within 0\.1 s"):
        pulled(adapter(sim, http, platform, timeout_s=0.1))


@PLATFORMS
@pytest.mark.parametrize("wrong", ["app_secret", "app_key", "access_token"])
def test_bad_credentials_are_refused_in_the_platforms_envelope(sim, http, platform, wrong):
    put(sim, platform, record(platform, 1, "2026-11-25 14:05:00"))
    codes = {
        "jd": {"app_secret": "12", "app_key": "10", "access_token": "19"},
        "pdd": {"app_secret": "10016", "app_key": "10014", "access_token": "10019"},
        "tmall": {"app_secret": "25", "app_key": "29", "access_token": "invalid-sessionkey"},
    }
    with pytest.raises(PlatformRefused) as raised:
        pulled(adapter(sim, http, platform, **{wrong: "wrong"}))
    assert raised.value.code == codes[platform][wrong]


def test_windows_longer_than_the_platform_allows_are_refused(sim, http):
    pdd = adapter(sim, http, "pdd")
    with pytest.raises(PlatformRefused) as raised:
        pdd.call(
            LIST_METHODS["pdd"],
            "order_sn_increment_get_response",
            {"start_updated_at": "0", "end_updated_at": "1801"},
        )
    assert raised.value.code == "10000"
    tmall = adapter(sim, http, "tmall")
    with pytest.raises(PlatformRefused, match=r"isv\.invalid-parameter"):
        tmall.call(
            LIST_METHODS["tmall"],
            "trades_sold_increment_get_response",
            {"start_modified": "2026-11-24 14:00:00", "end_modified": "2026-11-25 14:00:01"},
        )


def test_a_tid_above_2_53_goes_out_as_a_json_number_and_comes_back_exact(sim, http):
    put(sim, "tmall", record("tmall", 0, "2026-11-25 14:05:00"))
    (order,) = adapter(sim, http, "tmall").changed_orders(START, END)
    assert order.platform_order_id == "4123456789012345678"
    assert order.raw["tid"] == TID and type(order.raw["tid"]) is int
    listing = http.get(f"{sim.url}/_sim/state").json()
    assert listing["tmall"]["orders"] == {"tmall-flagship": 1}


def test_the_demo_seed_pulls_cleanly(sim, http):
    now = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    for platform, shop, one in demo_orders({p: s.shop for p, s in SHOPS.items()}, now):
        sim.put_order(platform, shop, one)
    got = {p: list(adapter(sim, http, p).changed_orders(now - timedelta(minutes=30), now)) for p in SHOPS}
    assert {p: len(records) for p, records in got.items()} == {"jd": 3, "pdd": 3, "tmall": 2}
    assert all(isinstance(r, MarketOrder) for records in got.values() for r in records)
    refunded = [line.sku_code for r in got["tmall"] for line in r.lines if line.refunded]
    assert refunded == ["SP-08-NA-500"]


def test_the_admin_api(sim, http):
    assert http.get(f"{sim.url}/healthz").json() == {"status": "ok"}
    shop = {"platform": "pdd", "shop": "pdd-two", "app_key": "k2", "app_secret": "s2", "access_token": "t2"}
    assert http.post(f"{sim.url}/_sim/shops", json=shop).status_code == 200
    one = pdd_order("231125-000000000000001", "2026-11-25 14:05:00")
    answer = http.post(f"{sim.url}/_sim/orders", json={"platform": "pdd", "shop": "pdd-two", "record": one})
    assert answer.json() == {"outcomes": ["inserted"]}
    answer = http.post(
        f"{sim.url}/_sim/orders", json={"platform": "pdd", "shop": "pdd-two", "records": [one]}
    )
    assert answer.json() == {"outcomes": ["updated"]}
    fault = {"platform": "pdd", "kind": "rate_limit", "count": 2}
    assert http.post(f"{sim.url}/_sim/faults", json=fault).json()["pdd"]["faults"][0]["count"] == 2
    assert http.post(f"{sim.url}/_sim/reset", json={}).status_code == 200
    assert http.get(f"{sim.url}/_sim/state").json()["pdd"] == {
        "orders": {"pdd-store": 0, "pdd-two": 0},
        "faults": [],
        "calls": 0,
    }
    for path, body, status in [
        ("/_sim/orders", {"platform": "ebay", "shop": "x", "record": {}}, 400),
        ("/_sim/orders", {"platform": "pdd", "shop": "nobody", "record": one}, 404),
        ("/_sim/orders", {"platform": "pdd", "shop": "pdd-two", "record": {"order_sn": "x"}}, 400),
        ("/_sim/faults", {"platform": "pdd", "kind": "meteor"}, 400),
        ("/_sim/nothing", {}, 404),
    ]:
        answer = http.post(f"{sim.url}{path}", json=body)
        assert answer.status_code == status, (path, answer.text)
    assert http.post(f"{sim.url}/_sim/orders", content=b"not json").status_code == 400
