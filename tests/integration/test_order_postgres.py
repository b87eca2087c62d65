"""The order service's handlers and repository on real PostgreSQL: numbering and optimistic
concurrency under parallel callers, tenant and customer scoping in every query."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select

from services.chassis.errors import FailedPrecondition, NotFound, VersionConflict
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.numbering import NumberBlocks
from services.chassis.runtime import unit_of_work_factory
from services.order.adapters.tables import metadata, orders
from services.order.app import definition
from services.order.domain.materials import Shortage
from services.order.domain.model import Channel, OptionLibrary, OrderLine, OrderState, Priority
from services.order.service_layer import changes, handlers
from tests.unit.fakes import FakeCustomers, FakeReservations

pytestmark = pytest.mark.integration
SALES = Identity("hardware", "陈丽", frozenset({"sales", "approver"}))
CUSTOMER = str(uuid.uuid4())


class KnownCustomers(FakeCustomers):
    def __init__(self) -> None:
        super().__init__(CUSTOMER, tiers={CUSTOMER: "TIER_A"})


@pytest.fixture
def uow(fresh_database):
    engine = create_engine(fresh_database("order"), pool_size=20)
    upgrade(definition.migrations_dir, engine)
    factory = unit_of_work_factory(definition, engine)
    factory.numbers = NumberBlocks(engine, metadata.tables["number_sequences"])  # as the runtime wires it
    factory.engine = engine
    yield factory
    engine.dispose()


def create(uow, request_id: str = "") -> object:
    cmd = handlers.CreateOrder(
        customer_id=CUSTOMER,
        channel=Channel.AGENT,
        priority=Priority.NORMAL,
        due_date=date.today() + timedelta(days=14),
        lines=[OrderLine("SP-08 弹片 spring clip", 10000, "stamping-1")],
        request_id=request_id,
    )
    return handlers.create_order(cmd, uow, KnownCustomers(), OptionLibrary(), "HW", uow.numbers)


def handlers_with_numbers(uow, numbers):
    """The same database through another process's number source (a second replica)."""

    def factory(read_only: bool = False):
        return uow(read_only)

    factory.numbers = numbers  # type: ignore[attr-defined]
    return factory


def in_parallel(n: int, fn) -> tuple[list, list[Exception]]:
    results, errors = [], []
    barrier = threading.Barrier(n)

    def run():
        with acting_as(SALES):
            barrier.wait()
            try:
                results.append(fn())
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_parallel_orders_get_unique_consecutive_numbers(uow):
    created, errors = in_parallel(12, lambda: create(uow))
    assert errors == []
    numbers = sorted(o.order_no for o in created)
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 13))


def test_a_create_does_not_wait_for_another_creates_open_transaction(uow):
    """The order-number counter is not locked across a create's transaction (it was: every create
    queued behind the slowest one until its commit)."""
    slow_commit_started, release = threading.Event(), threading.Event()

    def held_open_uow(read_only: bool = False):
        tx = uow(read_only)
        commit = tx.commit

        def slow_commit() -> None:
            slow_commit_started.set()
            release.wait(30)
            commit()

        tx.commit = slow_commit
        return tx

    held_open_uow.numbers = uow.numbers  # type: ignore[attr-defined]
    first: list = []

    def slow_create() -> None:
        with acting_as(SALES):
            first.append(create(held_open_uow))

    slow = threading.Thread(target=slow_create)
    with acting_as(SALES):
        slow.start()
        assert slow_commit_started.wait(10)
        try:
            second = create(uow)  # used to block on the counter row until the first committed
            assert slow.is_alive()  # the first is still inside its transaction
        finally:
            release.set()
            slow.join(20)
    assert first and {first[0].order_no[-5:], second.order_no[-5:]} == {"00001", "00002"}


def test_two_processes_of_the_service_never_share_a_number(uow):
    """Replicas reserve blocks from one counter: the numbers they hand out never collide."""
    other_engine = create_engine(uow.engine.url.render_as_string(hide_password=False), pool_size=20)
    other = handlers_with_numbers(uow, NumberBlocks(other_engine, metadata.tables["number_sequences"]))
    made, errors = in_parallel(16, lambda: create(uow if threading.get_ident() % 2 else other))
    other_engine.dispose()
    assert errors == []
    numbers = [o.order_no for o in made]
    assert len(set(numbers)) == len(numbers) == 16


def test_parallel_resubmissions_of_one_form_make_one_order(uow):
    created, errors = in_parallel(8, lambda: create(uow, request_id="phone-form-7f3a"))
    assert errors == []
    assert len({o.order_id for o in created}) == 1
    with uow() as tx:
        assert tx.connection.execute(select(func.count()).select_from(orders)).scalar_one() == 1


def test_parallel_approvals_of_one_order_approve_it_once(uow):
    with acting_as(SALES):
        order = create(uow)
    approve = handlers.ApproveOrder(order.order_id, expected_version=order.version)
    materials = FakeReservations()
    approved, errors = in_parallel(6, lambda: handlers.approve_order(approve, uow, materials))
    assert len(approved) == 1
    assert len(materials.held) == 1  # every racer that got to reserve was answered one reservation
    assert len(errors) == 5 and all(isinstance(e, VersionConflict | FailedPrecondition) for e in errors)
    with uow() as tx:
        outbox = metadata.tables["outbox"]
        rows = tx.connection.execute(select(outbox.c.event_type)).scalars().all()
    assert sorted(rows) == ["order_approved", "order_created"]  # one approval event, not six


def test_queries_are_scoped_to_tenant_and_portal_customer(uow):
    with acting_as(SALES):
        order = create(uow)
    with acting_as(Identity("autoparts", "吴晓燕", frozenset({"sales"}))), pytest.raises(NotFound):
        handlers.get_order(order.order_id, uow)
    with acting_as(Identity("hardware", "portal", frozenset({"customer"}), customer_id=str(uuid.uuid4()))):
        with pytest.raises(NotFound):
            handlers.get_order(order.order_id, uow)
        page, _ = handlers.list_orders(handlers.ListOrders(None, None, None, 50, ""), uow)
        assert page == []
    with acting_as(Identity("hardware", "portal", frozenset({"customer"}), customer_id=CUSTOMER)):
        assert handlers.get_order(order.order_id, uow).order_no == order.order_no


def test_keyset_pages_cover_every_order_once(uow):
    with acting_as(SALES):
        made = {create(uow).order_id for _ in range(23)}
        seen, token = [], ""
        while True:
            page, token = handlers.list_orders(
                handlers.ListOrders(OrderState.PENDING_APPROVAL, None, None, 5, token), uow
            )
            seen += [o.order_id for o in page]
            if not token:
                break
    assert len(seen) == 23 and set(seen) == made


def test_lifecycle_steps_are_stored_in_order_and_two_at_once_from_one_version_make_one(uow):
    with acting_as(SALES):
        draft = handlers.create_order(
            handlers.CreateOrder(
                customer_id=CUSTOMER,
                channel=Channel.DIRECT,
                priority=Priority.NORMAL,
                due_date=date.today() + timedelta(days=14),
                lines=[OrderLine("SP-08 弹片 spring clip", 10000, "stamping-1")],
                draft=True,
            ),
            uow,
            KnownCustomers(),
            OptionLibrary(),
            "HW",
            uow.numbers,
        )
    assert draft.state is OrderState.DRAFT
    steps = [
        lambda: handlers.submit_order(handlers.SubmitOrder(draft.order_id, 1), uow),
        lambda: handlers.cancel_order(handlers.CancelOrder(draft.order_id, 1, "客户取消"), uow),
    ] * 3
    turns = itertools.count()  # next() is atomic: three submits and three cancels race
    done, errors = in_parallel(6, lambda: steps[next(turns)]())
    assert len(done) == 1 and all(isinstance(e, VersionConflict) for e in errors), errors
    with acting_as(SALES):
        history = handlers.order_history(draft.order_id, uow)
    assert (history[0].version, history[0].action.value) == (1, "create")
    assert len(history) == 2 and history[1].to_state is done[0].state
    with acting_as(Identity("autoparts", "吴晓燕", frozenset({"sales"}))), pytest.raises(NotFound):
        handlers.order_history(draft.order_id, uow)


# --- change control on PostgreSQL ----------------------------------------------------------------


class NoShopFloor:
    """Production and inventory with nothing to report (their part is tested end to end)."""

    def work_orders(self, order_id: str) -> list:
        return []

    def materials(self, order_id: str, before, after) -> list:
        return []


def approved(uow):
    with acting_as(SALES):
        order = create(uow)
        return handlers.approve_order(handlers.ApproveOrder(order.order_id, 1), uow, FakeReservations())


def proposal(order, quantity: int) -> changes.Proposal:
    return changes.Proposal(order.due_date, order.priority, [replace(order.lines[0], quantity=quantity)])


def test_two_change_requests_at_once_make_one_and_the_other_is_aborted(uow):
    order = approved(uow)
    asks = [
        changes.RequestChange(order.order_id, order.version, f"改数量 {q}", proposal(order, q))
        for q in (11000, 12000)
    ] * 3
    turns = itertools.count()
    done, errors = in_parallel(
        6, lambda: changes.request_change(asks[next(turns)], uow, NoShopFloor(), OptionLibrary())
    )
    assert len(done) == 1, errors
    assert len(errors) == 5 and all(isinstance(e, VersionConflict) for e in errors), errors
    with acting_as(SALES):
        stored = changes.list_changes(order.order_id, uow)
    assert [c.change_id for c in stored] == [done[0][0].change_id]  # the losers left nothing behind


def test_revisions_as_of_and_audit_read_back_from_the_database(uow):
    order = approved(uow)
    with acting_as(SALES):
        change, pending = changes.request_change(
            changes.RequestChange(order.order_id, order.version, "加量", proposal(order, 15000)),
            uow,
            NoShopFloor(),
            OptionLibrary(),
        )
        _, v2 = changes.decide_change(
            changes.DecideChange(order.order_id, change.change_id, pending.version, "同意", approve=True), uow
        )
        revisions, current = changes.list_revisions(order.order_id, uow)
        assert current == 2 and [(r.revision, r.content.lines[0].quantity) for r in revisions] == [
            (1, 10000),
            (2, 15000),
        ]
        assert revisions[1].diff[0].path == "lines[1].quantity" and revisions[1].approved_by == "陈丽"
        then = changes.order_as_of(order.order_id, revisions[1].valid_from - timedelta(microseconds=1), uow)
        assert (then.revision, then.lines[0].quantity, then.state) == (1, 10000, OrderState.PENDING_CHANGE)
        now = changes.order_as_of(order.order_id, revisions[1].valid_from, uow)
        assert (now.revision, now.lines[0].quantity, now.version) == (2, 15000, v2.version)
        entries, token = changes.list_audit(changes.ListAudit(order_id=order.order_id, page_size=2), uow)
        rest, end = changes.list_audit(
            changes.ListAudit(order_id=order.order_id, page_size=2, page_token=token), uow
        )
        assert end == "" and [t.action.value for _, _, t in entries + rest] == [
            "create",
            "approve",
            "request_change",
            "approve_change",
        ]
        assert rest[-1][2].changes[0].after == "15000"
        got = handlers.get_order(order.order_id, uow)
        assert [x.line_no for x in got.lines] == [1] and got.lines[0].quantity == 15000
    with acting_as(Identity("autoparts", "吴晓燕", frozenset({"sales"}))):
        with pytest.raises(NotFound):
            changes.list_revisions(order.order_id, uow)
        foreign, _ = changes.list_audit(changes.ListAudit(actor="陈丽"), uow)
        assert foreign == []


def test_orders_are_found_by_channel_priority_number_and_customer_name(uow):
    midea, supor = CUSTOMER, str(uuid.uuid4())
    directory = FakeCustomers(
        midea, supor, names={midea: "美的集团顺德基地 Midea", supor: "苏泊尔杭州 Supor"}
    )

    def place(customer: str, channel: Channel, priority: Priority):
        cmd = handlers.CreateOrder(
            customer_id=customer,
            channel=channel,
            priority=priority,
            due_date=date.today() + timedelta(days=14),
            lines=[OrderLine("SP-08 弹片 spring clip", 100, "stamping-1")],
        )
        return handlers.create_order(cmd, uow, directory, OptionLibrary(), "HW", uow.numbers)

    def found(**kw) -> set[str]:
        query = handlers.ListOrders(None, None, None, 2, "", **kw)
        out, token = set(), ""
        while True:  # every page: filters hold across keyset pages
            page, token = handlers.list_orders(replace(query, page_token=token), uow, directory)
            out |= {o.order_no for o in page}
            if not token:
                return out

    with acting_as(SALES):
        a = place(midea, Channel.MARKETPLACE, Priority.HIGH)
        b = place(midea, Channel.DIRECT, Priority.NORMAL)
        c = place(supor, Channel.MARKETPLACE, Priority.NORMAL)
        d = place(supor, Channel.AGENT, Priority.HIGH)
        assert found(channel=Channel.MARKETPLACE) == {a.order_no, c.order_no}
        assert found(priority=Priority.HIGH) == {a.order_no, d.order_no}
        assert found(channel=Channel.MARKETPLACE, priority=Priority.HIGH) == {a.order_no}
        assert found(text="midea") == {a.order_no, b.order_no}
        assert found(text="苏泊尔", priority=Priority.HIGH) == {d.order_no}
        assert found(text=a.order_no.lower()) == {a.order_no}
        assert found(text=a.order_no[:11]) == {a.order_no, b.order_no, c.order_no, d.order_no}
        assert found(text="HW-%") == set()  # a wildcard typed is a character, not a pattern
    portal = Identity("hardware", "portal", frozenset({"customer"}), customer_id=supor)
    with acting_as(portal):  # its own orders only, and no customer search on its behalf
        assert found(text="midea") == set()
        assert found(text=c.order_no) == {c.order_no}
        assert found() == {c.order_no, d.order_no}


def test_an_order_accepted_short_of_materials_reads_back_so_with_its_audited_override(uow):
    with acting_as(SALES):
        order = create(uow)
    gold = Shortage("镀金液 gold plating solution", "L", 12.5, 8.0)
    materials = FakeReservations(short=(gold,), lock_rule="amount_over_50k")
    cmd = handlers.ApproveOrder(
        order.order_id, 1, override_shortage=True, override_reason="周三到货 arrives Wednesday"
    )
    with acting_as(Identity("hardware", "孙经理", frozenset({"manager"}))):
        handlers.approve_order(cmd, uow, materials)
    with acting_as(SALES):
        got = handlers.get_order(order.order_id, uow)
        [listed], _ = handlers.list_orders(handlers.ListOrders(None, None, None, 50, ""), uow)
        step = handlers.order_history(order.order_id, uow)[-1]
        entries, _ = changes.list_audit(changes.ListAudit(actor="孙经理"), uow)
        before = changes.order_as_of(order.order_id, order.created_at, uow)
    assert (got.materials_short, got.materials_locked, got.lock_rule) == (True, True, "amount_over_50k")
    assert (listed.materials_short, listed.lock_rule) == (True, "amount_over_50k")
    assert (step.action.value, step.actor, step.reason) == ("approve", "孙经理", "周三到货 arrives Wednesday")
    assert [(c.path, c.before, c.after) for c in step.changes] == [
        ("materials_short[镀金液 gold plating solution]", "需要 needed 12.5 L", "缺 short 8 L"),
        ("materials_locked", "", "amount_over_50k"),
    ]
    assert [(no, t.action.value, t.changes) for _, no, t in entries] == [
        (order.order_no, "approve", step.changes)
    ]
    assert (before.state, before.materials_short, before.materials_locked) == (
        OrderState.PENDING_APPROVAL,
        False,
        False,
    )
    with uow() as tx:
        outbox = metadata.tables["outbox"]
        body = tx.connection.execute(
            select(outbox.c.body).where(outbox.c.event_type == "order_approved")
        ).scalar_one()
    payload = json.loads(body)
    assert {k: payload["data"][k] for k in ("materials_short", "override_reason", "materials_locked")} == {
        "materials_short": True,
        "override_reason": "周三到货 arrives Wednesday",
        "materials_locked": True,
    }
