"""The real Puller with the real adapters (through the registry, as the service wires them) against
the marketplace simulator in a thread, holding the hardware tenant's own shops, on the SQLite
ingest database: flow control on one shop while the others go on, a page shifting under the
reader, a 5xx or a body that is not JSON half way through a pull, updates and cancellations, and
late-indexed orders. Each scenario asserts what was created, how often, and where the checkpoint
stands. Record times are generated from the Puller's fake clock, since the simulator compares
the records' Beijing time text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.chassis.db import make_engine
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.settings import Settings
from services.ingest.adapters.marketplaces.registry import Marketplaces
from services.ingest.app import definition
from services.ingest.domain.report import COUNTERS
from services.ingest.service_layer.desk import request_id
from services.ingest.service_layer.pulling import Puller
from services.marketplace_simulator import SimulatorHandle, dev, start_in_thread
from services.marketplace_simulator.gateways import beijing
from services.marketplace_simulator.samples import HINGE, jd_order, pdd_order, tmall_sub_order, tmall_trade
from tests.unit.ingest.test_pulling import HW, Clock, FakeCustomers, FakeOrders, stored

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
SHOP = {"jd": "jd_pop", "pdd": "pdd_store", "tmall": "tmall_flagship"}
LIST = {
    "jd": "jingdong.pop.order.search",
    "pdd": "pdd.order.number.list.increment.get",
    "tmall": "taobao.trades.sold.increment.get",
}
NOTE = {"jd": "venderRemark", "pdd": "remark", "tmall": "seller_memo"}  # a change that is no news
CANCELLED = {
    "jd": {"state": "TRADE_CANCELED"},
    "pdd": {"confirm_status": 2},
    "tmall": {"status": "TRADE_CLOSED_BY_TAOBAO"},
}
TID = 4123456789012345678
PLATFORMS = pytest.mark.parametrize("platform", ["jd", "pdd", "tmall"])


def order_id(platform: str, n: int) -> str:
    return {"jd": f"3001{n:08d}", "pdd": f"261125-{n:015d}", "tmall": str(TID + 100 * n)}[platform]


def record(platform: str, n: int, at: datetime, **options) -> dict:
    """The n-th order of a platform's shop, paid, of known SKUs, no buyer message."""
    modified = beijing(at)
    if platform == "jd":
        return jd_order(order_id(platform, n), modified, **options)
    if platform == "pdd":
        return pdd_order(order_id(platform, n), modified, **options)
    tid = TID + 100 * n
    return tmall_trade(tid, modified, [tmall_sub_order(tid + 1, HINGE, 2)], message="", **options)


@dataclass
class CountingOrders(FakeOrders):
    """FakeOrders keeps one order per request_id by itself; this also counts every create asked."""

    asked: list[str] = field(default_factory=list)

    def create(self, draft):
        self.asked.append(draft.request_id)
        return super().create(draft)


@dataclass
class World:
    sim: SimulatorHandle
    puller: Puller
    orders: CountingOrders
    clock: Clock
    engine: object

    def put(self, platform: str, one: dict) -> None:
        self.sim.put_order(platform, dev.sim_shop_key("hardware", SHOP[platform]), one)

    def pull(self, platform: str):
        return self.puller.pull(HW, SHOP[platform], force=True)

    def checkpoint(self, platform: str):
        with self.puller.uow(read_only=True) as tx:
            return tx.market.checkpoint(SHOP[platform])

    def run(self, run_id: str) -> dict:
        with self.puller.uow(read_only=True) as tx:
            return tx.runs.get(run_id)

    def created_once(self, platform: str, numbers) -> None:
        """Each order made by exactly one create call, and nothing else made."""
        wanted = {request_id("marketplace", platform, SHOP[platform], order_id(platform, n)) for n in numbers}
        assert sorted(self.orders.asked) == sorted(wanted)
        assert stored(self.engine) == dict.fromkeys((order_id(platform, n) for n in numbers), "created")


def counts(result) -> dict[str, int]:
    return {k: v for k in COUNTERS if (v := getattr(result.counts, k))}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_in_thread(shops=dev.tenant_shops([HW])) as handle:
        yield handle


@pytest.fixture
def world(sim, tmp_path) -> Iterator[World]:
    sim.store.reset()  # the shops stay, their orders and faults go
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    upgrade(definition.migrations_dir, engine)
    environ: dict[str, str] = {}
    dev.export_credentials([HW], environ)
    marketplaces = Marketplaces(Settings("ingest", marketplace_url=sim.url, marketplace_timeout_s=5), environ)
    clock, orders = Clock(T0), CountingOrders()
    puller = Puller(unit_of_work_factory(definition, engine), orders, FakeCustomers(), marketplaces, clock)
    with acting_as(Identity("hardware", "job:marketplace_pull", frozenset({"service"}))):
        yield World(sim, puller, orders, clock, engine)
    marketplaces.close()
    engine.dispose()


def settled(world: World, platform: str, later: timedelta) -> None:
    """The shop pulled once with nothing in it (its checkpoint at T0 - 5 s), then time passes."""
    assert counts(world.pull(platform)) == {}
    assert world.checkpoint(platform).pulled_until == T0 - timedelta(seconds=5)
    world.clock.now = T0 + later


# (a) flow control on one shop backs that shop off; the others pull as usual


def test_a_rate_limited_jd_shop_backs_off_while_tmall_and_pdd_create_their_orders(world):
    for platform in SHOP:
        for n in (1, 2):
            world.put(platform, record(platform, n, T0 - timedelta(minutes=10 + n)))
    world.sim.add_fault("jd", "rate_limit")

    results = {r.shop: r for r in world.puller.pull_due(HW)}

    assert set(results) == {"jd_pop", "pdd_store", "tmall_flagship"}
    assert results["jd_pop"].error.startswith("限流 rate limited [2]: ")
    assert counts(results["jd_pop"]) == {}
    assert (counts(results["pdd_store"]), counts(results["tmall_flagship"])) == (
        {"received": 2, "created": 2},
        {"received": 2, "created": 2},
    )
    jd = world.checkpoint("jd")
    assert (jd.failures, jd.last_error, jd.pulled_until) == (1, results["jd_pop"].error, None)
    assert jd.next_pull_at == T0 + timedelta(seconds=120)  # 60 s doubled; JD sent no retry-after
    assert world.checkpoint("pdd").next_pull_at == T0 + timedelta(seconds=60)
    assert len(world.orders.asked) == 4

    world.clock.now = T0 + timedelta(seconds=61)  # the others are due again, JD is not
    assert sorted(r.shop for r in world.puller.pull_due(HW)) == ["pdd_store", "tmall_flagship"]

    world.clock.now = T0 + timedelta(seconds=125)
    again = {r.shop: r for r in world.puller.pull_due(HW)}
    assert (again["jd_pop"].error, counts(again["jd_pop"])) == ("", {"received": 2, "created": 2})
    assert [counts(again[s]) for s in ("pdd_store", "tmall_flagship")] == [{}, {}]
    jd = world.checkpoint("jd")
    assert (jd.failures, jd.last_error, jd.last_success_at) == (0, "", T0 + timedelta(seconds=125))
    assert len(world.orders.asked) == len(set(world.orders.asked)) == 6  # each order asked for once


# (b) a page shifting under the reader: repeats are no-ops, nothing is missed


@PLATFORMS
def test_an_order_moving_while_pages_are_read_is_neither_made_twice_nor_lost(world, platform):
    settled(world, platform, timedelta(minutes=10))
    numbers = range(120)  # three pages of 50 (the registry's adapters use the default page size)
    for n in numbers:
        world.put(platform, record(platform, n, T0 + timedelta(seconds=1 + n)))
    # Answered from the window as it was, after page 1 (the total) and page 3 the newest order
    # changes and leaves the window: page 2 then repeats the first order of page 3.
    world.sim.add_fault(platform, "shift", after=1, method=LIST[platform])

    first = world.pull(platform)
    # a repeat is counted as a duplicate, not as one more record received
    assert (first.error, counts(first)) == ("", {"received": 119, "created": 119, "duplicates": 1})
    moved = order_id(platform, 119)
    assert moved not in stored(world.engine)

    world.clock.now += timedelta(minutes=2)  # the next pull's overlap holds its new time
    second = world.pull(platform)
    assert (second.error, counts(second)) == ("", {"received": 1, "created": 1})
    world.clock.now += timedelta(minutes=1)
    assert counts(world.pull(platform)) == {"duplicates": 1}
    world.created_once(platform, numbers)


# (c) a 5xx or a body that is not JSON half way: no gap, no duplicate


@PLATFORMS
@pytest.mark.parametrize(
    ("kind", "said"), [("http_500", "HTTP 500"), ("garbage", "HTTP 200 with a body that is not JSON")]
)
def test_a_pull_broken_half_way_is_taken_again_from_the_unfinished_window(world, platform, kind, said):
    settled(world, platform, timedelta(hours=2))
    early, burst, late = range(5), range(100, 220), range(300, 305)
    for n in early:
        world.put(platform, record(platform, n, T0 + timedelta(seconds=600 + n)))
    for n in burst:
        world.put(platform, record(platform, n, T0 + timedelta(seconds=2300 + n)))
    for n in late:
        world.put(platform, record(platform, n, T0 + timedelta(seconds=4500 + n)))
    # PDD windows are 30 min from T0 - 305 s: `early` fills the first (one call), `burst` the
    # second (page 1, 3, then 2 breaks). JD and Tmall take the two hours in one window of 130
    # orders: page 1, page 3 (the 30 oldest), then page 2 breaks.
    world.sim.add_fault(platform, kind, after=3 if platform == "pdd" else 2, method=LIST[platform])

    first = world.pull(platform)

    made = 25 if platform == "pdd" else 30
    assert first.error.startswith("Unreachable: ") and said in first.error, first.error
    assert counts(first) == {"received": made, "created": made}
    run = world.run(first.run_id)
    assert (run["error"], run["created"], run["received"]) == (first.error, made, made)
    point = world.checkpoint(platform)
    held = T0 + timedelta(seconds=1495) if platform == "pdd" else T0 - timedelta(seconds=5)
    assert (point.pulled_until, point.failures, point.last_error) == (held, 1, first.error)
    assert point.next_pull_at == T0 + timedelta(hours=2, seconds=120)
    assert len(world.orders.asked) == made

    world.clock.now = T0 + timedelta(hours=2, seconds=121)  # due again: the scheduled job takes it
    again = {r.shop: r for r in world.puller.pull_due(HW)}[SHOP[platform]]
    relisted = 20 if platform == "pdd" else 30  # what the unfinished window had already stored
    assert (again.error, counts(again)) == (
        "",
        {"received": 130 - made, "created": 130 - made, "duplicates": relisted},
    )
    point = world.checkpoint(platform)
    assert (point.pulled_until, point.failures, point.last_error) == (
        T0 + timedelta(hours=2, seconds=116),
        0,
        "",
    )
    world.created_once(platform, [*early, *burst, *late])


# (d) an update on the platform is no new order; a cancellation cancels once


@PLATFORMS
def test_an_order_updated_then_cancelled_on_the_platform_is_made_once_and_cancelled_once(world, platform):
    world.put(platform, record(platform, 7, T0 - timedelta(minutes=10)))
    assert counts(world.pull(platform)) == {"received": 1, "created": 1}

    updated = record(platform, 7, T0 + timedelta(minutes=1))
    updated[NOTE[platform]] = "加急，周五前发货 rush"
    world.put(platform, updated)
    world.clock.now = T0 + timedelta(minutes=5)
    assert counts(world.pull(platform)) == {"received": 1, "updated": 1}
    assert world.orders.cancelled == []

    world.put(platform, record(platform, 7, T0 + timedelta(minutes=6), **CANCELLED[platform]))
    world.clock.now = T0 + timedelta(minutes=10)
    assert counts(world.pull(platform)) == {"received": 1, "cancelled": 1}
    (made,) = world.orders.created  # its request_id; the order service gave it an id of its own
    assert world.orders.cancelled == [(world.orders.id_of(made), "cancelled")]

    world.clock.now = T0 + timedelta(minutes=11)  # the overlap lists the cancellation again
    assert counts(world.pull(platform)) == {"duplicates": 1}
    assert world.orders.cancelled == [(world.orders.id_of(made), "cancelled")]
    assert world.orders.asked == [made]
    assert stored(world.engine) == {order_id(platform, 7): "cancelled"}


# (e) an order indexed late, inside the overlap, is taken by the next pull


@PLATFORMS
def test_a_late_indexed_order_inside_the_overlap_is_taken_by_the_next_pull(world, platform):
    settled(world, platform, timedelta(minutes=1))
    # Both were modified before the last pull's end but indexed after it: one 60 s before T0
    # (inside the 300 s overlap), one 400 s before (outside it: the overlap is the bound).
    world.put(platform, record(platform, 1, T0 - timedelta(seconds=60)))
    world.put(platform, record(platform, 2, T0 - timedelta(seconds=400)))

    result = world.pull(platform)

    assert (result.error, counts(result)) == ("", {"received": 1, "created": 1})
    world.clock.now += timedelta(minutes=1)
    assert counts(world.pull(platform)) == {"duplicates": 1}
    world.created_once(platform, [1])
