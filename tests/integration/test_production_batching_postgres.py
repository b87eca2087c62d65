"""Batch merging and the board on real PostgreSQL: three same-configuration approvals through the
consumer make one batch task linking all three (event payload exact); a redelivery changes
nothing; a cancelled order leaves its batch; the board counts and lists one tenant's work only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, insert, select, update

from services.chassis.consumer import EventConsumer
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.production.adapters.tables import (
    batch_tasks,
    merge_candidates,
    work_order_stage_reports,
    work_orders,
)
from services.production.app import definition, subscriptions
from services.production.consumers_batching import tenant_files_policy, with_batching
from services.production.service_layer.board import get_board

pytestmark = pytest.mark.integration
SILVER = {
    "product_model": "HB-2040 铰链 hinge",
    "quantity": 1000,
    "workshop": "stamping-1",
    "colour": "银色 silver",
    "surface_treatment": "电镀 plating",
    "packaging": "纸箱 carton",
    "unit_price_fen": 85,
}


@pytest.fixture
def production(fresh_database):
    engine = create_engine(fresh_database("production"))
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    consumer = EventConsumer(
        "production", with_batching(subscriptions(), tenant_files_policy), uow, ["hardware", "autoparts"]
    )
    yield engine, consumer, uow
    engine.dispose()


def envelope(event_type: str, data: dict, occurred_at: str, tenant: str = "hardware") -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "tenant_id": tenant,
            "source": "order",
            "occurred_at": occurred_at,
            "data": data,
        },
        ensure_ascii=False,
    ).encode()


def approved(n: int, quantity: int, at: str, due: str = "2026-12-20") -> tuple[str, bytes]:
    order_id = str(uuid.UUID(int=n))
    data = {
        "order_id": order_id,
        "order_no": f"HW-20261125-{n:05d}",
        "customer_id": str(uuid.UUID(int=1000 + n)),
        "priority": "PRIORITY_NORMAL",
        "due_date": due,
        "version": 2,
        "lines": [{**SILVER, "quantity": quantity, "line_no": 1}],
        "approved_by": "王经理",
    }
    return order_id, envelope("order_approved", data, at)


def outbox(engine, event_type: str) -> list[dict]:
    table = definition.metadata.tables["outbox"]
    with engine.connect() as c:
        rows = c.execute(select(table.c.body).where(table.c.event_type == event_type).order_by(table.c.id))
        return [json.loads(r.body)["data"] for r in rows]


def test_three_same_configuration_approvals_make_one_batch_once(production):
    engine, consumer, _uow = production
    bodies = [
        approved(1, 1000, "2026-11-25T01:00:00+00:00", due="2026-12-22"),
        approved(2, 2000, "2026-11-25T05:00:00+00:00", due="2026-12-18"),
        approved(3, 3000, "2026-11-26T09:00:00+00:00"),
    ]
    outcomes = [consumer.handle("order.events", "order_approved", body) for _, body in bodies]
    assert outcomes == ["ok", "ok", "ok"]

    with engine.connect() as c:
        batch = c.execute(select(batch_tasks)).one()
        links = c.execute(select(merge_candidates).order_by(merge_candidates.c.approved_at)).all()
    assert [(x.order_no, x.quantity, x.batch_id) for x in links] == [
        ("HW-20261125-00001", 1000, batch.batch_id),
        ("HW-20261125-00002", 2000, batch.batch_id),
        ("HW-20261125-00003", 3000, batch.batch_id),
    ]
    assert batch.tenant_id == "hardware" and batch.state == "BATCH_STATE_PLANNED"
    assert (
        batch.batch_no
        == f"BT-HW-{batch.created_at.astimezone(load_tenants(('hardware',))['hardware'].tz):%Y%m%d}-01"
    )
    assert outbox(engine, "batch_task_created") == [
        {
            "batch_id": batch.batch_id,
            "batch_no": batch.batch_no,
            "product_model": "HB-2040 铰链 hinge",
            "surface_treatment": "电镀 plating",
            "colour": "银色 silver",
            "packaging": "纸箱 carton",
            "quantity": "6000",  # int64 in proto3 JSON
            "due_date": "2026-12-18",
            "rule": "merge_same_configuration",
            "orders": [
                {
                    "order_id": order_id,
                    "order_no": f"HW-20261125-{n:05d}",
                    "customer_id": str(uuid.UUID(int=1000 + n)),
                    "quantity": str(qty),
                    "due_date": due,
                }
                for n, order_id, qty, due in [
                    (1, bodies[0][0], 1000, "2026-12-22"),
                    (2, bodies[1][0], 2000, "2026-12-18"),
                    (3, bodies[2][0], 3000, "2026-12-20"),
                ]
            ],
            "created_at": batch.created_at.isoformat(),
        }
    ]

    # Redelivery of all three (a retry, a second relay): nothing changes.
    assert [consumer.handle("order.events", "order_approved", body) for _, body in bodies] == [
        "duplicate"
    ] * 3
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(batch_tasks)).scalar_one() == 1
        assert c.execute(select(func.count()).select_from(merge_candidates)).scalar_one() == 3
    assert len(outbox(engine, "batch_task_created")) == 1

    # A fourth of the same configuration starts a new group: no batch on its own.
    assert (
        consumer.handle("order.events", "order_approved", approved(4, 500, "2026-11-26T10:00:00+00:00")[1])
        == "ok"
    )
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(batch_tasks)).scalar_one() == 1


def test_an_approval_outside_the_window_does_not_merge(production):
    engine, consumer, _uow = production
    for n, at in [
        (1, "2026-11-20T01:00:00+00:00"),
        (2, "2026-11-22T01:00:00+00:00"),
        (3, "2026-11-23T02:00:00+00:00"),
    ]:
        consumer.handle("order.events", "order_approved", approved(n, 1000, at)[1])  # 73 h from the first
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(batch_tasks)).scalar_one() == 0


def test_a_cancelled_order_leaves_its_batch_once(production):
    engine, consumer, _uow = production
    ids = []
    for n in (1, 2, 3):
        order_id, body = approved(n, 1000 * n, f"2026-11-25T0{n}:00:00+00:00")
        ids.append(order_id)
        consumer.handle("order.events", "order_approved", body)
    cancelled = {
        "order_id": ids[1],
        "order_no": "HW-20261125-00002",
        "customer_id": str(uuid.UUID(int=1002)),
        "version": 5,
        "cancelled_by": "王经理",
        "reason": "客户撤单 customer withdrew",
    }
    changed = {**cancelled, "cancels_order": True, "change_id": str(uuid.uuid4()), "revision": 2}
    # the approved change that cancels the order, then the order_cancelled that follows it
    consumer.handle(
        "order.events", "order_changed", envelope("order_changed", changed, "2026-11-25T06:00:00+00:00")
    )
    consumer.handle(
        "order.events", "order_cancelled", envelope("order_cancelled", cancelled, "2026-11-25T06:00:01+00:00")
    )

    with engine.connect() as c:
        batch = c.execute(select(batch_tasks)).one()
        gone = c.execute(select(merge_candidates).where(merge_candidates.c.order_id == ids[1])).one()
    assert gone.batch_id == batch.batch_id and gone.cancelled_at is not None  # the link is kept, marked
    assert (batch.state, batch.version) == ("BATCH_STATE_PLANNED", 2)
    assert outbox(engine, "batch_task_changed") == [
        {
            "batch_id": batch.batch_id,
            "batch_no": batch.batch_no,
            "state": "BATCH_STATE_PLANNED",
            "quantity": "4000",
            "order_count": 2,
            "due_date": "2026-12-20",
            "removed_order_id": ids[1],
            "removed_order_no": "HW-20261125-00002",
            "reason": "客户撤单 customer withdrew",
            "version": 2,
        }
    ]


# --- the board ---

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: today is the 25th


def seed_work_orders(engine) -> None:
    rows = []

    def wo(tenant: str, no: str, workshop: str, stage: str, due: date, cancelled: bool = False) -> None:
        rows.append(
            dict(
                work_order_id=str(uuid.uuid4()),
                tenant_id=tenant,
                work_order_no=no,
                order_id=str(uuid.uuid4()),
                order_no=no[3:-3],
                workshop=workshop,
                stage=stage,
                due_date=due,
                created_at=NOW,
                cancelled=cancelled,
            )
        )

    d = date(2026, 11, 25)
    wo("hardware", "WO-HW-1-01", "stamping-1", "STAGE_TO_SCHEDULE", d - timedelta(days=2))  # overdue
    wo("hardware", "WO-HW-2-01", "stamping-1", "STAGE_IN_PROCESS", d - timedelta(days=1))  # overdue
    wo("hardware", "WO-HW-3-01", "plating", "STAGE_IN_PROCESS", d)  # at risk (due today)
    wo("hardware", "WO-HW-4-01", "plating", "STAGE_TO_SCHEDULE", d + timedelta(days=1))  # at risk
    wo("hardware", "WO-HW-5-01", "plating", "STAGE_TO_SCHEDULE", d + timedelta(days=2))  # ends after 48 h
    wo(
        "hardware", "WO-HW-6-01", "stamping-1", "STAGE_QC_PASSED", d - timedelta(days=5)
    )  # finished: not listed
    wo("hardware", "WO-HW-7-01", "stamping-1", "STAGE_SHIPPED", d - timedelta(days=9))  # closed: not counted
    wo("hardware", "WO-HW-8-01", "stamping-1", "STAGE_TO_SCHEDULE", d - timedelta(days=9), cancelled=True)
    wo("autoparts", "WO-AP-1-01", "machining", "STAGE_TO_SCHEDULE", d - timedelta(days=3))  # another tenant
    with engine.begin() as c:
        c.execute(insert(work_orders), rows)


def test_the_board_counts_and_flags_one_tenants_work(production):
    engine, _consumer, uow = production
    seed_work_orders(engine)
    tenants = load_tenants(("hardware", "autoparts"))

    with acting_as(Identity("hardware", "看板")):
        board = get_board(tenants["hardware"], uow, now=NOW)
        stamping = get_board(tenants["hardware"], uow, workshop="stamping-1", now=NOW, limit=1)
    assert [(c.workshop, c.stage, c.count) for c in board.cells] == [
        ("plating", "STAGE_IN_PROCESS", 1),
        ("plating", "STAGE_TO_SCHEDULE", 2),
        ("stamping-1", "STAGE_IN_PROCESS", 1),
        ("stamping-1", "STAGE_QC_PASSED", 1),
        ("stamping-1", "STAGE_TO_SCHEDULE", 1),
    ]
    assert [x.work_order_no for x in board.overdue] == ["WO-HW-1-01", "WO-HW-2-01"]
    assert [x.work_order_no for x in board.at_risk] == ["WO-HW-3-01", "WO-HW-4-01"]
    assert (board.overdue_total, board.at_risk_total) == (2, 2)
    # one workshop, lists bounded, totals not
    assert [x.work_order_no for x in stamping.overdue] == ["WO-HW-1-01"] and stamping.overdue_total == 2
    assert stamping.at_risk == [] and {c.workshop for c in stamping.cells} == {"stamping-1"}

    with acting_as(Identity("autoparts", "看板")):
        theirs = get_board(tenants["autoparts"], uow, now=NOW)
    assert [(c.workshop, c.count) for c in theirs.cells] == [("machining", 1)]
    assert [x.work_order_no for x in theirs.overdue] == ["WO-AP-1-01"] and theirs.at_risk == []


def test_a_dry_run_of_a_changed_rule_shows_what_it_would_have_merged(production):
    """Three silver orders were merged by the plant's rule (three of a kind); a candidate merging
    pairs would have merged the first two only, and two gold orders the rule left alone."""
    from oms.production.v1 import production_pb2
    from services.production.planning_api import PlanningApi

    _engine, consumer, uow = production
    recent = datetime.now(UTC) - timedelta(days=2)
    gold = {**SILVER, "colour": "金色 gold"}
    for n in range(1, 6):
        _order_id, body = approved(n, 1000, (recent + timedelta(hours=n)).isoformat())
        if n > 3:
            doc = json.loads(body)
            doc["data"]["lines"] = [{**gold, "line_no": 1}]
            body = json.dumps(doc, ensure_ascii=False).encode()
        assert consumer.handle("order.events", "order_approved", body) == "ok"
    api = PlanningApi(uow)

    with acting_as(Identity("hardware", "计划员", frozenset({"planner"}))):
        reply = api.DryRunRule(
            production_pb2.DryRunRuleRequest(
                kind="batch_merge",
                expression="orders.size() >= params.min_orders",
                params_json='{"min_orders": 2, "window_hours": 72}',
            ),
            None,
        )
        same = api.DryRunRule(
            production_pb2.DryRunRuleRequest(kind="batch_merge", name="merge_same_configuration"), None
        )

    made_no = reply.made[0].batch_no
    assert (reply.rule, reply.days, reply.replayed, reply.would_merge, reply.did_merge) == (
        "candidate",
        30,
        5,
        4,
        3,
    )
    assert [list(b.order_nos) for b in reply.would_have_made] == [
        ["HW-20261125-00001", "HW-20261125-00002"],
        ["HW-20261125-00004", "HW-20261125-00005"],
    ]
    assert [list(b.order_nos) for b in reply.made] == [[f"HW-20261125-{n:05d}" for n in (1, 2, 3)]]
    assert [(d.order_no, d.would_batch, d.did_batch_no) for d in reply.differences] == [
        ("HW-20261125-00001", 1, made_no),
        ("HW-20261125-00002", 1, made_no),
        ("HW-20261125-00003", 0, made_no),
        ("HW-20261125-00004", 2, ""),
        ("HW-20261125-00005", 2, ""),
    ]
    assert json.loads(reply.params_json) == {"min_orders": 2, "window_hours": 72}
    assert (same.would_merge, same.did_merge, list(same.differences)) == (3, 3, [])


def changed(n: int, lines: list[dict], at: str, due: str = "2026-12-20") -> bytes:
    return envelope(
        "order_changed",
        {
            "order_id": str(uuid.UUID(int=n)),
            "order_no": f"HW-20261125-{n:05d}",
            "customer_id": str(uuid.UUID(int=1000 + n)),
            "version": 4,
            "change_id": str(uuid.uuid4()),
            "revision": 2,
            "previous_revision": 1,
            "approved_by": "王经理",
            "reason": "客户改色 colour changed",
            "due_date": due,
            "priority": "PRIORITY_NORMAL",
            "lines": lines,
        },
        at,
    )


def test_an_order_changed_to_another_colour_leaves_the_silver_group_and_batch(production):
    engine, consumer, _uow = production
    gold = [{**SILVER, "colour": "金色 gold", "line_no": 1}]
    consumer.handle("order.events", "order_approved", approved(1, 1000, "2026-11-25T01:00:00+00:00")[1])
    consumer.handle("order.events", "order_approved", approved(2, 1000, "2026-11-25T02:00:00+00:00")[1])
    # order 1 turns gold before a third silver arrives: two silver orders are no batch
    consumer.handle("order.events", "order_changed", changed(1, gold, "2026-11-25T02:30:00+00:00"))
    consumer.handle("order.events", "order_approved", approved(3, 1000, "2026-11-25T03:00:00+00:00")[1])
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(batch_tasks)).scalar_one() == 0
        rows = c.execute(
            select(merge_candidates.c.order_no, merge_candidates.c.colour, merge_candidates.c.cancelled_at)
            .where(merge_candidates.c.order_no == "HW-20261125-00001")
            .order_by(merge_candidates.c.colour)
        ).all()
    assert [(r.colour, r.cancelled_at is None) for r in rows] == [("金色 gold", True), ("银色 silver", False)]

    # a fourth silver makes three; then one of them turns gold and leaves the batch
    consumer.handle("order.events", "order_approved", approved(4, 1000, "2026-11-25T04:00:00+00:00")[1])
    with engine.connect() as c:
        batch = c.execute(select(batch_tasks)).one()
    consumer.handle("order.events", "order_changed", changed(3, gold, "2026-11-25T05:00:00+00:00"))
    [event] = outbox(engine, "batch_task_changed")
    assert (event["batch_no"], event["removed_order_no"], event["quantity"], event["order_count"]) == (
        batch.batch_no,
        "HW-20261125-00003",
        "2000",
        2,
    )
    assert event["reason"] == "客户改色 colour changed"


def test_batch_tasks_are_listed_page_by_page_for_their_tenant_only(production):
    from oms.production.v1 import production_pb2
    from services.chassis.errors import NotFound
    from services.production.planning_api import PlanningApi

    _engine, consumer, uow = production
    for n in range(1, 7):  # two batches of three
        consumer.handle(
            "order.events", "order_approved", approved(n, 100 * n, f"2026-11-25T0{n}:00:00+00:00")[1]
        )
    api = PlanningApi(uow)
    with acting_as(Identity("hardware", "计划员", frozenset({"planner"}))):
        first = api.ListBatchTasks(production_pb2.ListBatchTasksRequest(page_size=1), None)
        second = api.ListBatchTasks(
            production_pb2.ListBatchTasksRequest(page_size=1, page_token=first.next_page_token), None
        )
        one = api.GetBatchTask(
            production_pb2.GetBatchTaskRequest(batch_id=second.batch_tasks[0].batch_id), None
        )
    numbers = [first.batch_tasks[0].batch_no, second.batch_tasks[0].batch_no]
    assert sorted(numbers) == [numbers[0][:-2] + "01", numbers[0][:-2] + "02"] and not second.next_page_token
    assert [o.order_no for o in one.batch_task.orders] == [f"HW-20261125-{n:05d}" for n in (1, 2, 3)]
    assert (one.batch_task.quantity, one.batch_task.rule) == (600, "merge_same_configuration")

    with acting_as(Identity("autoparts", "计划员", frozenset({"planner"}))):
        assert list(api.ListBatchTasks(production_pb2.ListBatchTasksRequest(), None).batch_tasks) == []
        with pytest.raises(NotFound):
            api.GetBatchTask(production_pb2.GetBatchTaskRequest(batch_id=one.batch_task.batch_id), None)


def test_a_rule_failing_on_real_orders_merges_nothing_and_the_consumer_goes_on(fresh_database):
    from zoneinfo import ZoneInfo

    from services.chassis.rules import compile_rule
    from services.production.service_layer.batching import RULE_FAILURES, MergePolicy

    engine = create_engine(fresh_database("production"))
    upgrade(definition.migrations_dir, engine)
    rule = compile_rule("divides", "batch_merge", "10 / (orders.size() - 3) > 0", {"window_hours": 72})
    policy = MergePolicy(rule, "HW", ZoneInfo("Asia/Shanghai"))
    consumer = EventConsumer(
        "production",
        with_batching(subscriptions(), lambda _tenant: policy),
        unit_of_work_factory(definition, engine),
        ["hardware"],
    )
    failures = RULE_FAILURES.labels("hardware", "divides")
    before = failures._value.get()
    try:
        outcomes = [
            consumer.handle(
                "order.events", "order_approved", approved(n, 100, f"2026-11-25T0{n}:00:00+00:00")[1]
            )
            for n in (1, 2, 3)
        ]
        assert outcomes == ["ok", "ok", "ok"]  # the third divides by zero: no merge, no retry
        assert failures._value.get() - before == 1
        with engine.connect() as c:
            assert c.execute(select(func.count()).select_from(batch_tasks)).scalar_one() == 0
            assert c.execute(select(func.count()).select_from(merge_candidates)).scalar_one() == 3
    finally:
        engine.dispose()


def test_approvals_racing_for_one_configuration_are_merged_as_if_one_by_one(production):
    """Six approvals of one configuration handled at once (replicas): merging is serialised per
    configuration, so they make exactly two batches of three and no order is in two."""
    import threading

    engine, consumer, _uow = production
    bodies = [approved(n, 100, f"2026-11-25T0{n}:00:00+00:00")[1] for n in range(1, 7)]
    barrier = threading.Barrier(len(bodies))
    outcomes: list[str] = []

    def deliver(body: bytes) -> None:
        barrier.wait()
        outcomes.append(consumer.handle("order.events", "order_approved", body))

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["ok"] * 6
    with engine.connect() as c:
        sizes = c.execute(
            select(merge_candidates.c.batch_id, func.count())
            .where(merge_candidates.c.batch_id.is_not(None))
            .group_by(merge_candidates.c.batch_id)
        ).all()
        assert c.execute(select(func.count()).select_from(batch_tasks)).scalar_one() == 2
    assert sorted(n for _, n in sizes) == [3, 3]


def test_recording_an_orders_configurations_again_adds_only_the_new_ones(production):
    """One upsert for all of an order's configurations: what is recorded stays as it is, and only
    the configurations new to the order come back (an approved change adding a colour)."""
    from services.production.domain.batching import Candidate, Configuration

    _engine, _consumer, uow = production
    silver, gold, red, blue = (
        Configuration("HB-2040 铰链 hinge", "电镀 plating", colour, "纸箱 carton")
        for colour in ("银色 silver", "金色 gold", "红色 red", "蓝色 blue")
    )

    def candidates(*configs: Configuration, quantity: int = 100) -> list[Candidate]:
        at = datetime(2026, 11, 25, 8, tzinfo=UTC)
        return [
            Candidate(
                "o-1",
                "HW-20261125-00001",
                "c-1",
                "PRIORITY_NORMAL",
                c,
                quantity,
                8500,
                at,
                date(2026, 12, 20),
            )
            for c in configs
        ]

    with acting_as(Identity("hardware", "svc:production")), uow() as tx:
        first = tx.batches.record(candidates(silver, gold))
        again = tx.batches.record(candidates(gold, red, blue, quantity=999))
        none = tx.batches.record(candidates(silver, gold, red, blue))
        kept = {c.configuration.colour: c.quantity for c in tx.batches.for_order("o-1")}
        tx.commit()

    assert [c.configuration for c in first] == [silver, gold]
    assert [c.configuration for c in again] == [red, blue]
    assert none == []
    assert kept == {"银色 silver": 100, "金色 gold": 100, "红色 red": 999, "蓝色 blue": 999}


def test_the_board_lists_todays_completions_in_the_plants_calendar(production):
    """今日完工: passed QC since midnight plant time (Shanghai: 16:00 UTC the day before), each
    work order once at its latest pass, latest first; not yesterday's, not cancelled work, not
    another tenant's."""
    engine, _consumer, uow = production
    seed_work_orders(engine)
    with engine.begin() as c:
        ids = {r.work_order_no: (r.work_order_id, r.tenant_id) for r in c.execute(select(work_orders))}
        c.execute(
            update(work_orders).where(work_orders.c.work_order_no == "WO-HW-6-01").values(good_quantity=480)
        )

    def passed(no: str, at: datetime) -> dict:
        work_order_id, tenant = ids[no]
        return dict(
            tenant_id=tenant,
            work_order_id=work_order_id,
            revision=1,
            reported_at=at,
            reported_by="王建国",
            from_stage="STAGE_IN_PROCESS",
            to_stage="STAGE_QC_PASSED",
            good_quantity=1,
            scrap_quantity=0,
            note="",
        )

    midnight = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # the 25th begins in Shanghai
    with engine.begin() as c:
        c.execute(
            insert(work_order_stage_reports),
            [
                passed("WO-HW-6-01", midnight + timedelta(minutes=5)),
                passed("WO-HW-6-01", midnight + timedelta(hours=1)),  # passed again after a change
                passed("WO-HW-3-01", midnight + timedelta(minutes=30)),
                passed("WO-HW-2-01", midnight - timedelta(minutes=1)),  # yesterday, plant time
                passed("WO-HW-8-01", midnight + timedelta(minutes=40)),  # cancelled work
                passed("WO-AP-1-01", midnight + timedelta(minutes=50)),  # another tenant
            ],
        )
    tenants = load_tenants(("hardware", "autoparts"))
    with acting_as(Identity("hardware", "看板")):
        board = get_board(tenants["hardware"], uow, now=NOW)
        plating = get_board(tenants["hardware"], uow, workshop="plating", now=NOW)
    assert [(c.work_order_no, c.good_quantity, c.completed_at) for c in board.completed_today] == [
        ("WO-HW-6-01", 480, midnight + timedelta(hours=1)),
        ("WO-HW-3-01", 0, midnight + timedelta(minutes=30)),
    ]
    assert board.completed_today_total == 2
    assert [c.work_order_no for c in plating.completed_today] == ["WO-HW-3-01"]
