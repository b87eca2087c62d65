"""Ingest on real PostgreSQL with the real adapters and the marketplace simulator: two replicas
pulling the same shops at once make each order exactly once and never pull one shop twice at the
same moment; the same agent file uploaded by two people at once is taken once; a pull killed mid-
window and run again by another replica leaves no gap and no duplicate."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import create_engine, func, select

from services.chassis.errors import Conflict, FailedPrecondition
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.settings import from_env
from services.chassis.tenants import load_tenants
from services.ingest.adapters.marketplaces.registry import Marketplaces
from services.ingest.adapters.tables import market_orders, shop_checkpoints
from services.ingest.app import definition
from services.ingest.service_layer import uploads
from services.ingest.service_layer.desk import TenantDesk
from services.ingest.service_layer.ports import CustomerRef
from services.ingest.service_layer.pulling import Puller
from services.marketplace_simulator import samples
from services.marketplace_simulator.dev import export_credentials, sim_shop_key, tenant_shops
from services.marketplace_simulator.gateways import beijing
from services.marketplace_simulator.server import start_in_thread
from tests.unit.ingest.test_pulling import FakeCustomers, FakeOrders

pytestmark = pytest.mark.integration
HW = load_tenants(("hardware",))["hardware"]
JOB = Identity("hardware", "job:marketplace_pull", frozenset({"service"}))
MIDEA = CustomerRef("00000000-0000-0000-0000-00000000000a", "MIDEA-SD", "美的集团顺德基地 Midea Shunde")


class LockedOrders(FakeOrders):
    """The fake order service, thread-safe (two replicas call it at once)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def create(self, draft):
        with self._lock:
            return super().create(draft)

    def cancel(self, order_id, reason):
        with self._lock:
            return super().cancel(order_id, reason)


@pytest.fixture
def ingest(fresh_database) -> Iterator[tuple]:
    engine = create_engine(fresh_database("ingest"), pool_size=10, max_overflow=10)
    upgrade(definition.migrations_dir, engine)
    sim = start_in_thread(0, shops=tenant_shops([HW]))
    environ: dict[str, str] = {}
    export_credentials([HW], environ)
    marketplaces = Marketplaces(from_env("ingest", {"OMS_MARKETPLACE_URL": sim.url}), environ)
    uow = unit_of_work_factory(definition, engine)
    orders = LockedOrders()
    yield engine, uow, orders, marketplaces, sim
    marketplaces.close()
    sim.stop()
    engine.dispose()


def put_orders(sim, count: int) -> None:
    now = datetime.now(UTC)
    for i in range(count):
        at = beijing(now - timedelta(seconds=90 - 80 * i / count))
        tid = 4123456789012345678 + i * 10
        sim.put_order(
            "tmall",
            sim_shop_key("hardware", "tmall_flagship"),
            samples.tmall_trade(tid, at, [samples.tmall_sub_order(tid + 1, samples.HINGE, 1)], message=""),
        )
        sim.put_order(
            "jd",
            sim_shop_key("hardware", "jd_pop"),
            samples.jd_order(str(300_000_000_000 + i), at, ((samples.BRACKET, 1),)),
        )


def test_two_replicas_pulling_at_once_make_each_order_once(ingest):
    engine, uow, orders, marketplaces, sim = ingest
    put_orders(sim, 60)
    errors: list[BaseException] = []
    pulled: list[str] = []

    def replica() -> None:
        puller = Puller(uow, orders, FakeCustomers(), marketplaces)
        try:
            with acting_as(JOB):
                for shop in ("tmall_flagship", "jd_pop"):
                    try:
                        result = puller.pull(HW, shop, force=True)
                        pulled.append(shop)
                        assert not result.error, result.error
                    except FailedPrecondition:
                        pass  # the other replica holds the shop: exactly what must happen
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(set(pulled)) == ["jd_pop", "tmall_flagship"]
    assert len(orders.created) == 120
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(market_orders)).scalar_one() == 120
        leases = c.execute(select(shop_checkpoints.c.lease_until)).scalars().all()
    assert leases == [None, None]  # both pulls finished and let go


def test_a_pull_killed_mid_window_is_finished_by_another_replica_without_gap_or_duplicate(ingest):
    engine, uow, orders, marketplaces, sim = ingest
    put_orders(sim, 30)
    sim.add_fault("tmall", "http_500", after=12, count=1)  # dies part way through the fullinfo calls
    puller = Puller(uow, orders, FakeCustomers(), marketplaces)
    with acting_as(JOB):
        first = puller.pull(HW, "tmall_flagship", force=True)
        assert first.error and 0 < first.counts.created < 30
        second = Puller(uow, orders, FakeCustomers(), marketplaces).pull(HW, "tmall_flagship", force=True)
    assert not second.error
    assert second.counts.created + first.counts.created == 30
    assert second.counts.duplicates == first.counts.created
    with engine.connect() as c:
        stored = c.execute(select(func.count()).select_from(market_orders)).scalar_one()
    assert stored == 30 and len(orders.created) == 30


def sheet(rows: int) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["客户名称", "产品型号", "数量", "单价", "交货日期"])
    day = datetime.now(HW.line.tz).date() + timedelta(days=20)
    for i in range(rows):
        ws.append([MIDEA.code, "HB-2040 铰链 hinge", 100 + i, 0.85, day + timedelta(days=i % 3)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class Customers:
    def by_code(self, code):
        return MIDEA if code == MIDEA.code else None

    def by_name(self, name):
        return [MIDEA] if name in (MIDEA.code, MIDEA.name) else []

    def by_phone(self, phone):
        return []


def test_the_same_file_uploaded_by_two_people_at_once_is_taken_once(ingest):
    _engine, uow, orders, _marketplaces, _sim = ingest
    data = sheet(30)
    results = []

    def person(name: str) -> None:
        with acting_as(Identity("hardware", name, frozenset({"sales"}))):
            for _ in range(300):
                try:
                    results.append(
                        uploads.upload("华顺.xlsx", data, TenantDesk(HW, Customers()), uow, orders)
                    )
                    return
                except Conflict:  # the other one is uploading it: asked to look again shortly
                    time.sleep(0.1)

    threads = [threading.Thread(target=person, args=(n,)) for n in ("小周", "小王")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2 and len(orders.created) == 3  # three delivery days: three orders, once
    assert sorted(len(r.orders) for r in results) == [3, 3]
    assert sorted(r.duplicate for r in results) == [False, True]  # the second heard what the first did
    assert {o["order_no"] for r in results for o in r.orders} == {f"HW-20261125-{n:05d}" for n in (1, 2, 3)}


def test_an_unreadable_record_opens_one_review_item_on_postgresql_however_often_it_is_read(ingest):
    _engine, uow, orders, marketplaces, sim = ingest
    now = datetime.now(UTC)
    bad = samples.jd_order("300000000777", beijing(now - timedelta(seconds=30)), ((samples.HINGE, 1),))
    bad["orderTotalPrice"] = "12.345"  # not an amount in yuan: the adapter cannot read it
    sim.put_order("jd", sim_shop_key("hardware", "jd_pop"), bad)
    puller = Puller(uow, orders, FakeCustomers(), marketplaces)
    with acting_as(JOB):
        first = puller.pull(HW, "jd_pop", force=True)
        again = puller.pull(HW, "jd_pop", force=True)  # the overlap reads it again
        with uow(read_only=True) as tx:
            items, _ = tx.review.page("open", "", 10, "")
    assert (first.counts.review, again.counts.review, again.counts.duplicates) == (1, 0, 1)
    assert [(i.external_id, [r.code for r in i.reasons]) for i in items] == [
        ("300000000777", ["record.unreadable"])
    ]
    assert orders.created == {}
