"""Pulling shops through the real ingest database (SQLite, as in the embedded mode) with a
scripted platform: checkpoints with overlap, a restart mid-pull with no gap and no duplicate,
back-off that keeps other shops going, cancellations, and the review queue."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.chassis.db import make_engine
from services.chassis.errors import FailedPrecondition, InvalidArgument, Unavailable
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.ingest.adapters.marketplaces import RateLimited
from services.ingest.adapters.tables import market_orders, raw_payloads
from services.ingest.app import definition
from services.ingest.domain.market_rules import OrderLineDraft
from services.ingest.domain.marketplace import MarketLine, MarketOrder, PlatformStatus, Receiver, Unreadable
from services.ingest.service_layer import review
from services.ingest.service_layer.desk import TenantDesk
from services.ingest.service_layer.ports import CustomerRef, OrderDraft
from services.ingest.service_layer.pulling import Puller

HW = load_tenants(("hardware",))["hardware"]
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
RETAIL = CustomerRef("00000000-0000-0000-0000-0000000000aa", "ONLINE-RETAIL", "线上零售")
MIDEA = CustomerRef("00000000-0000-0000-0000-0000000000bb", "MIDEA-SD", "美的集团顺德基地")
CLEAR = Receiver("阿卜杜·热合曼", "13900000000", "新疆", "乌鲁木齐市", "天山区", "", "解放北路１２号 😀")


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeOrders:
    created: dict[str, OrderDraft] = field(default_factory=dict)
    cancelled: list[tuple[str, str]] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)  # order id -> "pending" | "approved" | "shipped"
    refuse: str = ""
    _n: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def create(self, draft: OrderDraft) -> tuple[str, str]:
        if self.refuse:
            from services.chassis.errors import FieldViolation

            raise InvalidArgument("refused", [FieldViolation("lines[0].colour", self.refuse)])
        if draft.request_id not in self.created:  # the order service's own idempotency
            self.created[draft.request_id] = draft
            self.state[self.id_of(draft.request_id)] = "pending"
        n = list(self.created).index(draft.request_id) + 1
        return self.id_of(draft.request_id), f"HW-20261125-{n:05d}"

    @staticmethod
    def id_of(request_id: str) -> str:
        """The order's id (a UUID, as the order service gives), the same for the same request."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, request_id))

    def find(self, request_id: str) -> tuple[str, str] | None:
        if request_id not in self.created:
            return None
        return self.id_of(request_id), f"HW-20261125-{list(self.created).index(request_id) + 1:05d}"

    def cancel(self, order_id: str, reason: str) -> str:
        state = self.state[order_id]
        if state == "shipped":
            raise FailedPrecondition("order is ORDER_STATE_SHIPPED")
        self.cancelled.append((order_id, "cancelled" if state == "pending" else "change_requested"))
        return self.cancelled[-1][1]


class FakeCustomers:
    def by_code(self, code: str) -> CustomerRef | None:
        return RETAIL if code == RETAIL.code else None

    def by_name(self, name: str) -> list[CustomerRef]:
        return [RETAIL] if name in (RETAIL.name, RETAIL.code) else []

    def by_phone(self, phone: str) -> list[CustomerRef]:
        return [MIDEA] if phone == "13700001111" else []


@dataclass
class Platform:
    """A platform's changed-order list: records by modification time; `fail_after` makes the next
    listing stop with an error after that many records (a crash or a rate limit mid-pull)."""

    records: list[MarketOrder | Unreadable] = field(default_factory=list)
    fail_after: int | None = None
    error: Exception = field(default_factory=lambda: RateLimited("flow control", retry_after_s=30, code="7"))
    asked: list[tuple[datetime, datetime]] = field(default_factory=list)
    platform = "tmall"
    max_window = timedelta(hours=6)

    def changed_orders(self, start: datetime, end: datetime):
        self.asked.append((start, end))
        given = 0
        last_window = end >= T0 - timedelta(seconds=5)
        for r in sorted(self.records, key=lambda x: getattr(x, "modified_at", T0)):
            # an unreadable record has no time of its own: the last window brings it
            moment = getattr(r, "modified_at", None)
            if (moment is None and last_window) or (moment is not None and start <= moment < end):
                if self.fail_after is not None and given >= self.fail_after:
                    self.fail_after = None
                    raise self.error
                given += 1
                yield r


class Marketplaces:
    def __init__(self, platforms: dict[str, Platform]):
        self.platforms = platforms

    def client(self, shop_key, shop):
        return self.platforms[shop_key]


def trade(
    tid: str, minutes: int, status=PlatformStatus.AWAITING_SHIPMENT, sku="HB-2040-SV-100", **kw
) -> MarketOrder:
    modified = T0 - timedelta(minutes=minutes)
    return MarketOrder(
        platform="tmall",
        shop="tmall_flagship",
        platform_order_id=tid,
        status=status,
        platform_status=status.value.upper(),
        modified_at=modified,
        paid_at=modified,
        buyer_id="buyer-" + tid[-3:],
        receiver=kw.pop("receiver", CLEAR),
        lines=kw.pop("lines", (MarketLine(tid + "-1", sku, "合页", 2, 9000, 9000),)),
        raw={"tid": int(tid), "status": status.value, "modified": str(modified), **kw.pop("raw", {})},
        **kw,
    )


@pytest.fixture
def ingest(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    clock = Clock(T0)
    orders = FakeOrders()
    shops = {key: Platform() for key in HW.shops}
    puller = Puller(uow, orders, FakeCustomers(), Marketplaces(shops), clock)
    with acting_as(Identity("hardware", "job:marketplace_pull", frozenset({"service"}))):
        yield puller, shops, orders, clock, engine
    engine.dispose()


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def outbox(engine) -> list[tuple[str, dict]]:
    t = definition.metadata.tables["outbox"]
    with engine.connect() as c:
        return [(r.event_type, json.loads(r.body)["data"]) for r in c.execute(select(t).order_by(t.c.id))]


def stored(engine) -> dict[str, str]:
    with engine.connect() as c:
        return dict(c.execute(select(market_orders.c.platform_order_id, market_orders.c.outcome)).all())


def test_a_pull_creates_each_paid_order_once_with_its_price_pieces_and_priority(ingest):
    puller, shops, orders, clock, engine = ingest
    shops["tmall_flagship"].records = [trade("4123456789012345678", 3), trade("4123456789012345679", 2)]
    created = {"tenant": "hardware", "source": "marketplace", "outcome": "created"}
    pulls = {"tenant": "hardware", "shop": "tmall_flagship", "platform": "tmall", "result": "ok"}
    before = (metric("oms_ingest_records_total", created), metric("oms_ingest_pull_seconds_count", pulls))
    result = puller.pull(HW, "tmall_flagship", force=True)
    after = (metric("oms_ingest_records_total", created), metric("oms_ingest_pull_seconds_count", pulls))
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)  # what an operator's dashboard sees
    assert (result.counts.received, result.counts.created, result.error) == (2, 2, "")
    draft = next(iter(orders.created.values()))
    assert (draft.channel, draft.priority, draft.customer_id) == (
        "CHANNEL_MARKETPLACE",
        "PRIORITY_HIGH",
        RETAIL.customer_id,
    )
    assert [(x.product_model, x.quantity, x.unit_price_fen, x.colour) for x in draft.lines] == [
        ("HB-2040 铰链 hinge", 200, 45, "银色 silver")
    ]
    assert draft.delivery_address == "新疆乌鲁木齐市天山区解放北路１２号 😀"  # byte for byte
    # The next pull starts at the checkpoint less the overlap: both come again, as no-ops.
    clock.now += timedelta(minutes=2)
    again = puller.pull(HW, "tmall_flagship", force=True)
    # repeats are duplicates, not records received again
    assert (again.counts.received, again.counts.duplicates, again.counts.created) == (0, 2, 0)
    assert len(orders.created) == 2
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(raw_payloads)).scalar_one() == 2


def test_a_restart_mid_pull_leaves_no_gap_and_no_duplicate(ingest):
    puller, shops, orders, clock, engine = ingest
    platform = shops["tmall_flagship"]
    platform.records = [trade(f"41234567890123456{n:02d}", 200 - n) for n in range(10)]
    platform.fail_after = 4  # the pull dies after four records (a crash, a rate limit)
    first = puller.pull(HW, "tmall_flagship", force=True)
    assert first.error and first.counts.created == 4
    clock.now += timedelta(minutes=1)
    second = puller.pull(HW, "tmall_flagship", force=True)
    assert second.error == "" and second.counts.created == 6 and second.counts.duplicates == 4
    assert len(orders.created) == 10 and set(stored(engine).values()) == {"created"}


def test_a_failing_shop_backs_off_and_never_stops_the_others(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    shops["jd_pop"].fail_after = 0
    shops["jd_pop"].records = [replace(trade("1001", 10), platform="jd", shop="jd_pop")]
    shops["pdd_store"].records = [replace(trade("2001", 10), platform="pdd", shop="pdd_store")]
    results = {r.shop: r for r in puller.pull_due(HW)}
    assert results["jd_pop"].error.startswith("限流 rate limited [7]")
    assert results["pdd_store"].counts.created == 1 and results["tmall_flagship"].error == ""
    with puller.uow(read_only=True) as tx:
        jd = tx.market.checkpoint("jd_pop")
    # Retry-after (30 s) and doubling (60 s × 2) -> 120 s; the others wait their period (60 s).
    assert (jd.failures, jd.next_pull_at - T0) == (1, timedelta(seconds=120))
    assert jd.pulled_until < T0 - timedelta(minutes=10)  # the window holding its order is not done
    assert [r.shop for r in puller.pull_due(HW)] == []  # nobody is due yet
    clock.now += timedelta(seconds=61)
    assert sorted(r.shop for r in puller.pull_due(HW)) == ["pdd_store", "tmall_flagship"]


def test_unpaid_waits_then_is_created_once_paid(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    platform = shops["tmall_flagship"]
    platform.records = [trade("5001", 30, PlatformStatus.UNPAID)]
    assert puller.pull(HW, "tmall_flagship", force=True).counts.skipped == 1
    platform.records = [trade("5001", -1, raw={"paid": True})]
    clock.now += timedelta(minutes=5)
    assert puller.pull(HW, "tmall_flagship", force=True).counts.created == 1
    assert stored(engine) == {"5001": "created"}


def test_a_cancelled_order_is_cancelled_in_the_oms_or_by_a_change_once_production_started(ingest):
    puller, shops, orders, clock, engine = ingest
    platform = shops["tmall_flagship"]
    platform.records = [trade("6001", 30), trade("6002", 30)]
    puller.pull(HW, "tmall_flagship", force=True)
    ids = list(orders.created)
    ids = [orders.id_of(x) for x in ids]
    orders.state[ids[1]] = "approved"
    platform.records = [trade(t, -1, PlatformStatus.REFUNDED, raw={"refund": 1}) for t in ("6001", "6002")]
    clock.now += timedelta(minutes=5)
    counts = puller.pull(HW, "tmall_flagship", force=True).counts
    assert counts.cancelled == 2
    assert orders.cancelled == [(ids[0], "cancelled"), (ids[1], "change_requested")]
    assert stored(engine) == {"6001": "cancelled", "6002": "cancelled"}


def test_review_holds_every_reason_and_a_person_accepts_with_a_mapping(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    masked = Receiver("王**", "138****0000", "浙江省", "宁波市", "", "", "***", oaid="oa1")
    platform = shops["tmall_flagship"]
    platform.records = [
        trade("7001", 30, sku="NOPE-1", buyer_message="请改成金色", receiver=masked),
        Unreadable("tmall", "tmall_flagship", "", "tid: 4.1e18 is not an id", {"tid": 4.1e18}),
    ]
    counts = puller.pull(HW, "tmall_flagship", force=True).counts
    assert (counts.received, counts.review, counts.created) == (2, 2, 0)
    with puller.uow(read_only=True) as tx:
        items, _ = tx.review.page("open", "", 10, "")
    by_id = {x.external_id: x for x in items}
    assert [r.code for r in by_id["7001"].reasons] == [
        "sku.unknown",
        "buyer.change_request",
        "receiver.masked",
    ]
    assert by_id["7001"].raw["tid"] == 7001
    desk = TenantDesk(HW, FakeCustomers())
    item = by_id["7001"]
    with acting_as(Identity("hardware", "陈丽", frozenset({"sales"}))):
        with pytest.raises(InvalidArgument, match="masked"):
            review.resolve(review.Resolution(item.item_id, True), desk, puller.uow, orders)
        line = OrderLineDraft(
            "HB-2040 铰链 hinge", 200, 60, "金色 gold", "电镀 plating", "纸箱 carton", "7001-1"
        )
        done = review.resolve(
            review.Resolution(
                item.item_id,
                True,
                "买家确认金色",
                delivery_address="浙江省宁波市江北区1号",
                lines={"7001-1": line},
            ),
            desk,
            puller.uow,
            orders,
        )
        assert (done.state, done.resolved_by, done.order_no) == ("accepted", "陈丽", "HW-20261125-00001")
        with pytest.raises(FailedPrecondition, match="already accepted"):
            review.resolve(review.Resolution(item.item_id, False, "x"), desk, puller.uow, orders)
        unreadable = next(x for x in items if x.external_id.startswith("unreadable:"))
        rejected = review.resolve(
            review.Resolution(unreadable.item_id, False, "录入错误 entered by hand"), desk, puller.uow, orders
        )
        assert rejected.state == "rejected"
    draft = next(iter(orders.created.values()))
    assert (draft.delivery_address, draft.lines[0].colour) == ("浙江省宁波市江北区1号", "金色 gold")
    assert stored(engine)["7001"] == "created"
    # The order desk hears of each item opened and resolved (events for notify), exactly.
    assert outbox(engine) == [
        ("review_item_opened", {
            "item_id": item.item_id, "source": "marketplace", "platform": "tmall", "shop": "tmall_flagship",
            "external_id": "7001", "reason_codes": ["sku.unknown", "buyer.change_request", "receiver.masked"],
        }),
        ("review_item_opened", {
            "item_id": unreadable.item_id, "source": "marketplace", "platform": "tmall",
            "shop": "tmall_flagship", "external_id": unreadable.external_id,
            "reason_codes": ["record.unreadable"],
        }),
        ("review_item_resolved", {
            "item_id": item.item_id, "state": "accepted", "resolved_by": "陈丽",
            "order_id": orders.id_of(draft.request_id), "order_no": "HW-20261125-00001",
            "note": "买家确认金色",
        }),
        ("review_item_resolved", {
            "item_id": unreadable.item_id, "state": "rejected", "resolved_by": "陈丽",
            "note": "录入错误 entered by hand",
        }),
    ]  # fmt: skip


def test_an_order_the_order_service_refuses_goes_to_review_with_its_reason(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    orders.refuse = "'紫色' is not in the colour library"
    shops["tmall_flagship"].records = [trade("8001", 30)]
    assert puller.pull(HW, "tmall_flagship", force=True).counts.review == 1
    with puller.uow(read_only=True) as tx:
        items, _ = tx.review.page("open", "", 10, "")
    assert [(r.code, "紫色" in r.message) for r in items[0].reasons] == [("order.lines[0].colour", True)]


def test_a_shop_being_pulled_is_not_pulled_twice(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    with puller.uow() as tx:
        assert tx.market.claim_shop("tmall_flagship", "tmall", T0, timedelta(minutes=10), force=True)
        tx.commit()
    with pytest.raises(FailedPrecondition, match="being pulled"):
        puller.pull(HW, "tmall_flagship", force=True)


def test_a_buyer_who_is_a_registered_customer_is_billed_by_phone_and_a_linked_buyer_follows_the_link(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    midea = replace(CLEAR, phone="137-0000-1111")
    shops["tmall_flagship"].records = [trade("9001", 3, receiver=replace(midea, phone="13700001111"))]
    puller.pull(HW, "tmall_flagship", force=True)
    assert [d.customer_id for d in orders.created.values()] == [MIDEA.customer_id]
    with puller.uow() as tx:
        tx.market.link_buyer("tmall", "tmall_flagship", "buyer-002", RETAIL.customer_id, T0)
        tx.commit()
    shops["tmall_flagship"].records = [trade("9002", 2, receiver=replace(midea, phone="13700001111"))]
    clock.now += timedelta(minutes=1)
    puller.pull(HW, "tmall_flagship", force=True)
    assert [d.customer_id for d in orders.created.values()] == [MIDEA.customer_id, RETAIL.customer_id]


class LostAnswer(FakeOrders):
    """The order service makes the order, but its answer never arrives (a deadline, a crash)."""

    lose: bool = True

    def create(self, draft: OrderDraft) -> tuple[str, str]:
        made = super().create(draft)
        if self.lose:
            self.lose = False
            raise Unavailable("deadline exceeded")
        return made


def test_an_order_made_whose_answer_was_lost_is_still_cancelled_when_the_buyer_cancels(ingest):
    puller, shops, _orders, clock, engine = ingest
    orders = LostAnswer()
    puller.orders = orders
    shops["tmall_flagship"].records = [trade("9101", 3)]
    assert puller.pull(HW, "tmall_flagship", force=True).error  # the create's answer was lost
    assert stored(engine) == {"9101": "creating"} and len(orders.created) == 1
    shops["tmall_flagship"].records = [trade("9101", 1, PlatformStatus.CANCELLED, raw={"closed": 1})]
    clock.now += timedelta(minutes=5)
    assert puller.pull(HW, "tmall_flagship", force=True).counts.cancelled == 1
    assert len(orders.created) == 1 and [c[1] for c in orders.cancelled] == ["cancelled"]
    assert stored(engine) == {"9101": "cancelled"}


def test_a_lost_answer_is_finished_by_the_next_pull_without_a_second_order(ingest):
    puller, shops, _orders, clock, engine = ingest
    orders = LostAnswer()
    puller.orders = orders
    shops["tmall_flagship"].records = [trade("9102", 3)]
    puller.pull(HW, "tmall_flagship", force=True)
    clock.now += timedelta(minutes=1)
    assert puller.pull(HW, "tmall_flagship", force=True).counts.created == 1  # the identical record
    assert len(orders.created) == 1 and stored(engine) == {"9102": "created"}


def test_a_review_accepted_while_a_pull_withdraws_it_leaves_the_platforms_word(ingest):
    puller, shops, _orders, clock, engine = ingest
    shops["tmall_flagship"].records = [trade("9201", 3, sku="NOPE-9")]
    puller.pull(HW, "tmall_flagship", force=True)
    with puller.uow(read_only=True) as tx:
        [item], _ = tx.review.page("open", "", 10, "")

    class CancelledMeanwhile(FakeOrders):
        def create(self, draft):  # while the person's create is on its way, the buyer cancels
            made = super().create(draft)
            shops["tmall_flagship"].records = [
                trade("9201", 1, PlatformStatus.CANCELLED, sku="NOPE-9", raw={"c": 1})
            ]
            clock.now += timedelta(minutes=2)
            puller.orders = self
            puller.pull(HW, "tmall_flagship", force=True)
            return made

    racing = CancelledMeanwhile()
    line = OrderLineDraft("HB-2040 铰链 hinge", 200, 45, sub_order_id="9201-1")
    with (
        acting_as(Identity("hardware", "陈丽", frozenset({"sales"}))),
        pytest.raises(FailedPrecondition, match="decided meanwhile: withdrawn"),
    ):
        review.resolve(
            review.Resolution(item.item_id, True, lines={"9201-1": line}),
            TenantDesk(HW, FakeCustomers()),
            puller.uow,
            racing,
        )
    assert len(racing.created) == 1 and [c[1] for c in racing.cancelled] == ["cancelled"]
    assert stored(engine) == {"9201": "cancelled"}


def test_a_record_no_database_stores_goes_to_review_and_the_shop_goes_on(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    half_emoji = trade("9301", 3, buyer_message="请尽快\ud83d", raw={"buyer_message": "请尽快\ud83d"})
    shops["tmall_flagship"].records = [half_emoji, trade("9302", 2)]
    result = puller.pull(HW, "tmall_flagship", force=True)
    assert result.error == "" and result.counts.created == 2  # half an emoji is text, kept escaped
    assert set(stored(engine)) == {"9301", "9302"}


def test_a_surprise_fails_the_pull_visibly_with_back_off(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059

    class Broken(Platform):
        def changed_orders(self, start, end):
            raise KeyError("a field the adapter did not expect")
            yield  # pragma: no cover

    shops["tmall_flagship"] = Broken()
    result = puller.pull(HW, "tmall_flagship", force=True)
    assert result.error.startswith("内部错误 unexpected error: KeyError")
    with puller.uow(read_only=True) as tx:
        point = tx.market.checkpoint("tmall_flagship")
    assert (point.failures, point.last_error == result.error, point.next_pull_at > T0) == (1, True, True)


def test_a_sub_order_refunded_after_the_order_was_made_goes_to_review(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    two = (
        MarketLine("1", "HB-2040-SV-100", "合页", 2, 9000, 9000),
        MarketLine("2", "BK-310-BK-50", "支架", 1, 6000, 6000),
    )
    shops["tmall_flagship"].records = [trade("9401", 3, lines=two)]
    puller.pull(HW, "tmall_flagship", force=True)
    refunded = (two[0], replace(two[1], refunded=True, refund_status="SUCCESS"))
    shops["tmall_flagship"].records = [trade("9401", 1, lines=refunded, raw={"refund": "2"})]
    clock.now += timedelta(minutes=2)
    assert puller.pull(HW, "tmall_flagship", force=True).counts.review == 1
    with puller.uow(read_only=True) as tx:
        [item], _ = tx.review.page("open", "", 10, "")
    assert [r.code for r in item.reasons] == ["refund.partial"] and stored(engine) == {"9401": "created"}


def test_a_pull_that_lost_its_lease_stops_and_moves_nothing(ingest):
    puller, shops, orders, clock, engine = ingest  # noqa: RUF059
    platform = shops["tmall_flagship"]
    platform.records = [trade("9501", 3)]
    original = platform.changed_orders

    def taken_over(start, end):
        yield from original(start, end)
        with puller.uow() as tx:  # another replica takes the shop over (our lease ran out)
            tx.market._update_checkpoint(
                "tmall_flagship", _lease(engine), lease_until=T0 + timedelta(hours=1)
            )
            tx.commit()

    platform.changed_orders = taken_over
    result = puller.pull(HW, "tmall_flagship", force=True)
    assert "another replica" in result.error
    with puller.uow(read_only=True) as tx:
        point = tx.market.checkpoint("tmall_flagship")
    assert point.pulled_until is None  # nothing moved by the pull that lost its lease


def _lease(engine):
    from services.ingest.adapters.tables import shop_checkpoints

    with engine.connect() as c:
        return c.execute(select(shop_checkpoints.c.lease_until)).scalar_one()
