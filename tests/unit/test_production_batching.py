"""Batch merging (合并批量生产) as pure rules: configurations, the window, the tenant rules applied
to a group, the dry-run's replay and its differences; the board's calendar."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.production.v1 import production_pb2
from services.chassis.errors import InvalidArgument
from services.chassis.events import EventCodec, MalformedEvent
from services.chassis.rules import active_rule, compile_rule
from services.chassis.tenants import load_tenants
from services.production.domain.batching import (
    BatchState,
    BatchTask,
    Candidate,
    Configuration,
    LineDemand,
    ReplayedBatch,
    batch_number,
    candidates_of,
    group_for,
    replay,
    should_merge,
)
from services.production.domain.board import board_window, warning_hours
from services.production.service_layer.batching import DryRunMerge, candidate_rule

SILVER = Configuration("HB-2040 铰链 hinge", "电镀 plating", "银色 silver", "纸箱 carton")
GOLD = Configuration("HB-2040 铰链 hinge", "电镀 plating", "金色 gold", "纸箱 carton")
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tenants():
    return load_tenants(("hardware", "autoparts"))


def cand(
    n: int, config: Configuration = SILVER, hours: float = 0, priority: str = "PRIORITY_NORMAL", **kw
) -> Candidate:
    return Candidate(
        order_id=f"o-{n}",
        order_no=f"HW-20261120-{n:05d}",
        customer_id="c-1",
        priority=priority,
        configuration=config,
        quantity=1000 * n,
        amount_fen=85_000 * n,
        approved_at=T0 + timedelta(hours=hours),
        due_date=date(2026, 12, 20),
        **kw,
    )


def test_an_orders_lines_become_one_candidate_per_configuration():
    found = candidates_of(
        order_id="o-1",
        order_no="HW-1",
        customer_id="c-1",
        priority="PRIORITY_NORMAL",
        approved_at=T0,
        due_date=date(2026, 12, 20),
        lines=[
            LineDemand(SILVER, 3000, 85),
            LineDemand(GOLD, 1000, 95),
            LineDemand(SILVER, 2000, 80),  # same configuration again: adds up
            LineDemand(
                Configuration(SILVER.product_model, SILVER.surface_treatment, SILVER.colour, "托盘 pallet"),
                5,
                1,
            ),
        ],
    )
    assert [(c.configuration.colour, c.configuration.packaging, c.quantity, c.amount_fen) for c in found] == [
        ("银色 silver", "纸箱 carton", 5000, 3000 * 85 + 2000 * 80),
        ("金色 gold", "纸箱 carton", 1000, 95_000),
        ("银色 silver", "托盘 pallet", 5, 5),
    ]


def test_the_group_is_the_open_candidates_of_one_configuration_within_the_window_oldest_first():
    window = timedelta(hours=72)
    trigger = cand(9, hours=100)
    others = [
        cand(1, hours=27),  # 73 h before: outside
        cand(2, hours=28),  # exactly 72 h before: inside
        cand(3, hours=50, config=GOLD),  # another configuration
        cand(4, hours=60, batch_id="b-1"),  # already in a batch
        cand(5, hours=70, cancelled_at=T0 + timedelta(hours=80)),  # cancelled before the trigger
        cand(6, hours=40),
        cand(7, hours=101),  # 1 h after the trigger, but 73 h after #2: spans of 3 either way
    ]
    # the earliest of the fullest spans
    assert [c.order_no[-1] for c in group_for(trigger, others, window)] == ["2", "6", "9"]


def test_an_approval_handled_after_later_ones_still_joins_them():
    """Replicas and retries reorder events: the first approval, handled last, merges with the two
    that came after it, as it would have in order."""
    window = timedelta(hours=72)
    later = [cand(2, hours=5), cand(3, hours=70), cand(4, hours=80)]
    assert [c.order_no[-1] for c in group_for(cand(1), later, window)] == ["1", "2", "3"]


def test_a_cancellation_after_the_trigger_does_not_count_yet():
    late = cand(1, cancelled_at=T0 + timedelta(hours=5))
    assert [c.order_id for c in group_for(cand(2, hours=1), [late], timedelta(hours=72))] == ["o-1", "o-2"]


def test_the_default_rule_merges_exactly_at_three(tenants):
    rule = active_rule(tenants["hardware"], "batch_merge")
    assert rule is not None
    groups = [[cand(i) for i in range(1, n + 1)] for n in (1, 2, 3)]
    assert [should_merge(rule, g) for g in groups] == [False, False, True]

    result = replay(rule, [cand(i, hours=i) for i in range(1, 5)], [])
    assert [b.order_nos for b in result.would] == [
        ("HW-20261120-00001", "HW-20261120-00002", "HW-20261120-00003")
    ]
    assert result.would[0].quantity == 6000


def test_the_autoparts_rule_makes_a_high_priority_group_alone(tenants):
    rule = active_rule(tenants["autoparts"], "batch_merge")
    assert rule is not None and rule.name == "merge_same_configuration"
    assert should_merge(rule, [cand(1), cand(2), cand(3)])
    assert not should_merge(rule, [cand(1), cand(2, priority="PRIORITY_HIGH"), cand(3)])


def test_a_rule_that_fails_on_real_orders_merges_nothing_and_is_counted():
    rule = compile_rule("odd", "batch_merge", "orders.size() / (orders.size() - 3) > 0", {})
    result = replay(rule, [cand(i, hours=i) for i in range(1, 4)], [])
    assert result.would == [] and result.rule_failures == 1  # the third approval: 3 / 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2), st.integers(0, 400), st.sampled_from(["PRIORITY_NORMAL", "PRIORITY_HIGH"])
        ),
        max_size=40,
    ),
    st.integers(2, 4),
)
def test_merged_orders_share_one_configuration_and_each_order_is_in_at_most_one_batch(rows, min_orders):
    configs = [SILVER, GOLD, Configuration("BK-310 支架 bracket")]
    history = [cand(i + 1, configs[c], hours=h, priority=p) for i, (c, h, p) in enumerate(rows)]
    rule = compile_rule(
        "r",
        "batch_merge",
        "orders.size() >= params.min_orders",
        {"min_orders": min_orders, "window_hours": 48},
    )
    result = replay(rule, history, [])
    by_no = {c.order_no: c for c in history}
    seen: list[str] = []
    for batch in result.would:
        members = [by_no[no] for no in batch.order_nos]
        assert {m.configuration for m in members} == {batch.configuration}
        assert len(members) >= min_orders
        times = [m.approved_at for m in members]
        assert max(times) - min(times) <= timedelta(hours=48)
        seen += batch.order_nos
    assert len(seen) == len(set(seen))


def test_the_dry_run_shows_where_a_candidate_differs_from_what_was_made():
    history = [
        cand(1, hours=0),
        cand(2, hours=1),
        cand(3, hours=2),
        cand(4, GOLD, hours=3),
        cand(5, GOLD, hours=4),
    ]
    made = [
        ReplayedBatch(
            SILVER, tuple(c.order_no for c in history[:3]), 6000, history[2].approved_at, "BT-HW-20261120-01"
        )
    ]
    two = compile_rule("two", "batch_merge", "orders.size() >= params.min_orders", {"min_orders": 2})

    result = replay(two, history, made)

    assert [b.order_nos for b in result.would] == [
        ("HW-20261120-00001", "HW-20261120-00002"),
        ("HW-20261120-00004", "HW-20261120-00005"),
    ]
    assert [(d.order_no, d.would_batch, d.did_batch_no) for d in result.differences] == [
        ("HW-20261120-00001", 1, "BT-HW-20261120-01"),  # with other orders
        ("HW-20261120-00002", 1, "BT-HW-20261120-01"),
        ("HW-20261120-00003", 0, "BT-HW-20261120-01"),  # left out
        ("HW-20261120-00004", 2, ""),  # merged only by the candidate
        ("HW-20261120-00005", 2, ""),
    ]
    same = replay(compile_rule("three", "batch_merge", "orders.size() >= 3"), history, made)
    assert same.differences == []


def test_a_batch_announces_itself_and_its_orders_leaving():
    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    task = BatchTask.merge(
        "b-1", batch_number("HW", date(2026, 11, 25), 1), [cand(1), cand(2)], "merge_same_configuration", now
    )
    codec = EventCodec(
        "production",
        {
            "batch_task_created": production_pb2.BatchTaskCreated,
            "batch_task_changed": production_pb2.BatchTaskChanged,
        },
    )
    created = task.events[0]
    assert task.batch_no == "BT-HW-20261125-01" and task.quantity == 3000
    codec.encode(created, "hardware", {})  # matches its contract

    assert task.drop_order("o-1", now, "订单取消 order cancelled")
    assert not task.drop_order("o-1", now, "again")  # a second cancellation: nothing
    changed = task.events[1]
    codec.encode(changed, "hardware", {})
    assert (changed.quantity, changed.order_count, changed.state, changed.version) == (
        2000,
        1,
        BatchState.PLANNED,
        2,
    )
    task.drop_order("o-2", now, "订单取消 order cancelled")
    assert task.state == BatchState.CANCELLED and task.quantity == 0


def test_a_candidate_rule_is_checked_field_by_field(tenants):
    hw = tenants["hardware"]
    assert candidate_rule(DryRunMerge(name="merge_same_configuration"), hw).params["min_orders"] == 3
    picked = candidate_rule(
        DryRunMerge(expression="orders.size() >= params.min_orders", params_json='{"min_orders": 2}'), hw
    )
    assert (picked.name, dict(picked.params)) == ("candidate", {"min_orders": 2})
    for bad, field in [
        (DryRunMerge(name="no_such_rule"), "name"),
        (DryRunMerge(expression="orders.size() >=", params_json="{}"), "expression"),
        (DryRunMerge(expression="order.amount_cny > 1"), "expression"),  # another kind's variable
        (DryRunMerge(expression="orders.size()"), "expression"),  # not a condition
        (DryRunMerge(expression="true", params_json="{min_orders: 2}"), "params_json"),
        (DryRunMerge(expression="true", params_json="[2]"), "params_json"),
        (DryRunMerge(expression="true", params_json='{"Min": 2}'), "params_json"),
        (DryRunMerge(expression="true", params_json='{"min_orders": {"a": 1}}'), "params_json"),
    ]:
        with pytest.raises(InvalidArgument) as caught:
            candidate_rule(bad, hw)
        assert [v.field for v in caught.value.violations] == [field], bad


def test_the_board_counts_due_days_in_the_plants_calendar():
    shanghai = ZoneInfo("Asia/Shanghai")
    # 2026-11-25 10:00 in Shanghai; 48 h ahead is 2026-11-27 10:00: days ending by then are the
    # 25th and the 26th.
    w = board_window(datetime(2026, 11, 25, 2, 0, tzinfo=UTC), shanghai, 48)
    assert (w.today, w.last_at_risk_day) == (date(2026, 11, 25), date(2026, 11, 26))
    # 23:30 UTC on the 24th is already the 25th in Shanghai
    assert board_window(datetime(2026, 11, 24, 23, 30, tzinfo=UTC), shanghai, 2).today == date(2026, 11, 25)
    # 2 h ahead at 07:30 Shanghai: no due day ends that soon
    w = board_window(datetime(2026, 11, 24, 23, 30, tzinfo=UTC), shanghai, 2)
    assert w.last_at_risk_day < w.today
    assert warning_hours(()) == 48 and warning_hours((24.0, 72.0)) == 72


def test_batching_rides_on_the_core_subscription_of_an_event_it_shares():
    """One subscription per event type in a service (the consumer routes by type): batching runs
    after the work-order core's handler, under the core's name; alone where the core has none."""
    from services.chassis.consumer import Subscription
    from services.production.consumers_batching import tenant_files_policy, with_batching

    calls: list[str] = []
    core = [
        Subscription("order", "order_approved", lambda e, u: calls.append("core"), name="create_work_orders")
    ]
    subs = with_batching(core, tenant_files_policy)
    assert [(s.event_type, s.name) for s in subs] == [
        ("order_approved", "create_work_orders"),
        ("order_cancelled", "leave_batches_on_cancel"),
        ("order_changed", "leave_batches_on_change"),
    ]
    with pytest.raises(MalformedEvent):  # the batching half runs second, and refuses this event
        subs[0].handler(event_of({}), None)
    assert calls == ["core"]


def event_of(data: dict):
    from services.chassis.events import ReceivedEvent

    return ReceivedEvent("e-1", "order_approved", "hardware", "order", "2026-11-25T01:00:00+00:00", data)


@pytest.mark.parametrize(
    "data",
    [
        {"order_no": "HW-1", "due_date": "2026-12-20", "lines": [{"product_model": "m", "quantity": 1}]},
        {
            "order_id": "o",
            "order_no": "HW-1",
            "due_date": "2026-02-30",
            "lines": [{"product_model": "m", "quantity": 1}],
        },
        {"order_id": "o", "order_no": "HW-1", "due_date": "2026-12-20", "lines": []},
        {
            "order_id": "o",
            "order_no": "HW-1",
            "due_date": "2026-12-20",
            "lines": [{"product_model": "m", "quantity": 0}],
        },
    ],
)
def test_an_approval_batching_cannot_read_is_malformed(data):
    from services.production.consumers_batching import approval_from

    with pytest.raises(MalformedEvent):
        approval_from(event_of(data))


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (production_pb2.DryRunRuleRequest(kind="material_lock", name="x"), "kind"),
        (production_pb2.DryRunRuleRequest(kind="batch_merge", name="Bad Name"), "name"),
        (production_pb2.DryRunRuleRequest(kind="batch_merge", expression="a\nb"), "expression"),
        (production_pb2.DryRunRuleRequest(kind="batch_merge", days=366), "days"),
        (production_pb2.GetBoardRequest(workshop="-x"), "workshop"),
        (production_pb2.GetBoardRequest(limit=201), "limit"),
        (production_pb2.GetBatchTaskRequest(batch_id="BT-HW-1"), "batch_id"),
        (production_pb2.ListBatchTasksRequest(state=9), "state"),  # type: ignore[arg-type]
    ],
)
def test_requests_out_of_contract_are_refused_naming_the_field(request_, field):
    import protovalidate

    violations = protovalidate.collect_violations(request_)
    assert [v.proto.field.elements[0].field_name for v in violations] == [field]


def test_an_approved_change_moves_open_candidates_with_it():
    from services.production.domain.batching import revise

    merged, open_silver, dropped = cand(1, batch_id="b-1"), cand(1), cand(1, GOLD)
    bracket = Configuration("BK-310 支架 bracket")
    revised = [replace(cand(1, SILVER), quantity=9000, due_date=date(2026, 12, 31)), cand(1, bracket)]

    change = revise([replace(open_silver, configuration=SILVER), dropped], revised)
    assert [(c.configuration, c.quantity, c.due_date) for c in change.updated] == [
        (SILVER, 9000, date(2026, 12, 31))
    ]
    assert [c.configuration for c in change.left] == [GOLD]
    assert [c.configuration for c in change.added] == [bracket]

    # merged already: keeps the quantity it was merged with; leaves only when its configuration goes
    assert revise([merged], revised).updated == [] and revise([merged], revised).left == []
    assert revise([merged], [cand(1, GOLD)]).left == [merged]


def test_a_rule_is_given_at_most_max_group_orders_the_newest_up_to_the_trigger():
    from services.production.domain.batching import MAX_GROUP

    waiting = [cand(n, hours=n / 100) for n in range(1, 3 * MAX_GROUP)]
    trigger = waiting[2 * MAX_GROUP]

    group = group_for(trigger, waiting, timedelta(hours=72))

    assert len(group) == MAX_GROUP and group[-1] == trigger
    assert group == waiting[MAX_GROUP + 1 : 2 * MAX_GROUP + 1]


def test_a_candidate_that_merges_nothing_still_replays_a_busy_month_in_bounded_groups():
    """min_orders 10^6 keeps every order waiting: each evaluation still sees at most MAX_GROUP."""
    from services.production.domain.batching import MAX_GROUP

    seen: list[int] = []
    rule = compile_rule("never", "batch_merge", "orders.size() >= params.min_orders", {"min_orders": 10**6})
    counting = replace(
        rule, program=type("P", (), {"execute": lambda _s, v: seen.append(len(v["orders"])) or False})()
    )

    result = replay(counting, [cand(n, hours=n / 10) for n in range(1, 400)], [])

    assert result.would == [] and result.replayed == 399
    assert max(seen) == MAX_GROUP and len(seen) == 398  # a lone order is never asked
