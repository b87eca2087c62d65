"""The material_lock rule in CEL: what it sees of an order, the plant's rule (over 50,000 CNY),
a rule reading priority and lines, and a replay listing only where it differs from what was done."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.bom import MaterialLine
from services.chassis.rules import active_rule, compile_rule
from services.chassis.tenants import load_tenants
from services.inventory.domain.lock_rule import DryRunCase, PastOrder, order_variables, replay

HW = load_tenants(("hardware",))["hardware"]
HINGE = MaterialLine("HB-2040 铰链 hinge", 5000, "金色 gold", "电镀 plating")
TENANT_RULE = active_rule(HW, "material_lock")
assert TENANT_RULE is not None


def test_the_rule_sees_the_order_in_the_plants_terms():
    assert order_variables("HW-1", "c-1", "PRIORITY_HIGH", 5_000_050, [HINGE, MaterialLine("BK-310", 7)]) == {
        "order": {
            "order_no": "HW-1",
            "customer_id": "c-1",
            "priority": "PRIORITY_HIGH",
            "amount_cny": 50000.5,
            "quantity": 5007,
            "lines": [
                {
                    "product_model": "HB-2040 铰链 hinge",
                    "quantity": 5000,
                    "colour": "金色 gold",
                    "surface_treatment": "电镀 plating",
                },
                {"product_model": "BK-310", "quantity": 7, "colour": "", "surface_treatment": ""},
            ],
        }
    }


@given(st.integers(min_value=0, max_value=10**14))
def test_the_plants_rule_locks_exactly_the_orders_over_50000_cny(amount_fen):
    assert TENANT_RULE.name == "lock_large_orders"
    verdict = TENANT_RULE.matches(order_variables("HW-1", "c-1", "PRIORITY_NORMAL", amount_fen, [HINGE]))
    assert verdict == (amount_fen > 5_000_000)


def test_a_rule_may_read_priority_and_lines():
    rule = compile_rule(
        "urgent_gold",
        "material_lock",
        'order.priority == "PRIORITY_HIGH" && order.lines.exists(l, l.colour == params.colour)',
        {"colour": "金色 gold"},
    )
    assert rule.matches(order_variables("HW-1", "c", "PRIORITY_HIGH", 0, [HINGE]))
    assert not rule.matches(order_variables("HW-1", "c", "PRIORITY_NORMAL", 0, [HINGE]))
    assert not rule.matches(order_variables("HW-1", "c", "PRIORITY_HIGH", 0, [MaterialLine("BK-310", 1)]))


def test_a_replay_counts_both_sides_and_lists_only_the_differences():
    history = [
        PastOrder("o-1", "HW-1", "c", "PRIORITY_NORMAL", 4_000_000, (HINGE,), was_locked=False),
        PastOrder("o-2", "HW-2", "c", "PRIORITY_NORMAL", 6_000_000, (HINGE,), was_locked=True),
        PastOrder(
            "o-3", "HW-3", "c", "PRIORITY_NORMAL", 9_000_000, (HINGE,), was_locked=False
        ),  # rule was off
    ]
    lower = compile_rule(
        "lower", "material_lock", "order.amount_cny > params.amount_cny", {"amount_cny": 30000}
    )
    run = replay(lower, history)
    assert (run.rule, run.replayed, run.would_lock, run.was_locked) == ("lower", 3, 3, 1)
    assert run.differences == [
        DryRunCase("o-1", "HW-1", 4_000_000, True, False),
        DryRunCase("o-3", "HW-3", 9_000_000, True, False),
    ]
