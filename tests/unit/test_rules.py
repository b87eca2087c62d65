"""Tenant rules in CEL (services/chassis/rules.py): compiled and probed once, evaluated per use, a
broken rule refused with one line naming it, never Python eval."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.chassis.errors import InvalidArgument
from services.chassis.rules import (
    DEFAULTS,
    RuleFailed,
    RuleInvalid,
    active_rule,
    check_tenant_rules,
    compile_rule,
    rule_to_try,
)
from services.chassis.tenant_config import Rule
from services.chassis.tenants import load_tenants


@pytest.fixture(scope="module")
def tenants():
    return load_tenants(("hardware", "autoparts"))


def order(amount_cny: float, priority: str = "PRIORITY_NORMAL") -> dict:
    return {"order": {"order_no": "HW-1", "amount_cny": amount_cny, "priority": priority, "lines": []}}


def group(*priorities: str) -> dict:
    return {
        "orders": [{"order_no": f"AP-{i}", "priority": p} for i, p in enumerate(priorities)],
        "config": {},
    }


def test_the_plants_lock_rule_locks_above_fifty_thousand_only(tenants):
    rule = active_rule(tenants["hardware"], "material_lock")

    assert rule is not None and rule.name == "lock_large_orders"
    assert [rule.matches(order(x)) for x in (49_999.99, 50_000, 50_000.01, 120_000)] == [
        False,
        False,
        True,
        True,
    ]


def test_three_orders_of_one_configuration_merge_and_two_do_not(tenants):
    rule = active_rule(tenants["hardware"], "batch_merge")

    assert rule is not None and rule.param("window_hours", 0) == 72
    assert not rule.matches(group("PRIORITY_NORMAL", "PRIORITY_NORMAL"))
    assert rule.matches(group("PRIORITY_NORMAL", "PRIORITY_HIGH", "PRIORITY_NORMAL"))


def test_the_auto_parts_line_makes_a_high_priority_order_alone(tenants):
    rule = active_rule(tenants["autoparts"], "batch_merge")

    assert rule is not None and rule.param("window_hours", 0) == 48
    assert rule.matches(group("PRIORITY_NORMAL", "PRIORITY_NORMAL", "PRIORITY_NORMAL"))
    assert not rule.matches(group("PRIORITY_NORMAL", "PRIORITY_HIGH", "PRIORITY_NORMAL"))


def test_a_file_without_a_rule_of_a_kind_gets_the_plants_default(tenants):
    bare = tenants["hardware"].model_copy(update={"rules": {}})

    rule = active_rule(bare, "material_lock")

    assert rule is not None and rule.name == "default_material_lock"
    assert rule.expression == DEFAULTS["material_lock"].expression
    assert rule.matches(order(60_000)) and not rule.matches(order(40_000))


def test_a_file_that_disables_its_only_rule_of_a_kind_turns_the_kind_off(tenants):
    off = Rule(kind="batch_merge", expression="true", enabled=False)
    tenant = tenants["hardware"].model_copy(update={"rules": {"merge_same_configuration": off}})

    assert active_rule(tenant, "batch_merge") is None


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("orders.size( >= 3", "does not compile"),
        ("order.amount_cny > 5", "Undefined variable"),  # a lock rule's variable in a merge rule
        ("orders.size()", "not true or false"),
        ("orders.size() / 0 > 1", "division by zero"),
        ("", "1-2000 characters"),
        ("x" * 2001, "1-2000 characters"),
    ],
    ids=["syntax", "variable-of-another-kind", "not-a-condition", "runtime", "empty", "too-long"],
)
def test_a_broken_rule_is_refused_in_one_line_naming_it(expression, says):
    with pytest.raises(RuleInvalid) as refused:
        compile_rule("merge_same_configuration", "batch_merge", expression)

    assert "merge_same_configuration" in str(refused.value)
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_an_unknown_kind_is_refused():
    with pytest.raises(RuleInvalid, match="unknown kind 'discount'"):
        compile_rule("x", "discount", "true")


def test_python_is_not_reachable_from_a_rule():
    with pytest.raises(RuleInvalid):
        compile_rule("x", "material_lock", "__import__('os').system('true') == 0")


def test_a_rule_failing_on_real_data_says_so_instead_of_answering():
    rule = compile_rule("per_line", "material_lock", "order.quantity / order.lines.size() > 1")

    with pytest.raises(RuleFailed, match="per_line"):
        rule.matches({"order": {"quantity": 5, "lines": []}})


def test_every_rule_of_the_shipped_files_compiles(tenants):
    for tenant in tenants.values():
        check_tenant_rules(tenant)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False), st.integers(min_value=0, max_value=10**9))
def test_the_lock_rule_agrees_with_python_on_any_amount(amount, threshold):
    rule = compile_rule(
        "lock", "material_lock", DEFAULTS["material_lock"].expression, {"amount_cny": threshold}
    )

    assert rule.matches(order(amount)) is (amount > threshold)


# What a dry-run replays (rule_to_try): both services' DryRunRule, one reading of the request.


def test_a_named_rule_is_tried_as_the_file_has_it_or_with_other_params(tenants):
    hardware = tenants["hardware"]

    as_filed = rule_to_try(hardware, "batch_merge", "merge_same_configuration")
    stricter = rule_to_try(
        hardware, "batch_merge", "merge_same_configuration", params_json='{"min_orders": 4}'
    )

    assert (as_filed.expression, dict(as_filed.params)) == (
        "orders.size() >= params.min_orders",
        {"min_orders": 3, "window_hours": 72},
    )
    assert dict(stricter.params) == {"min_orders": 4}
    assert as_filed.matches(group(*["PRIORITY_NORMAL"] * 3)) and not stricter.matches(
        group(*["PRIORITY_NORMAL"] * 3)
    )


def test_nothing_named_tries_the_active_rule_and_a_candidate_takes_the_defaults_params(tenants):
    assert rule_to_try(tenants["hardware"], "material_lock").name == "lock_large_orders"
    candidate = rule_to_try(
        tenants["hardware"], "material_lock", expression="order.amount_cny >= params.amount_cny"
    )
    assert candidate.name == "candidate" and dict(candidate.params) == {"amount_cny": 50000}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (dict(name="merge_same_configuration"), "name"),  # a merge rule is not a lock rule
        (dict(name="no_such_rule"), "name"),
        (dict(expression="order.amount_cny >"), "expression"),
        (dict(expression="true", params_json="{not json"), "params_json"),
        (dict(expression="true", params_json="[1, 2]"), "params_json"),
        (dict(expression="true", params_json="[" * 999 + "]" * 999), "params_json"),
        (dict(expression="true", params_json='{"Amount": 1}'), "params_json"),
        (dict(expression="true", params_json='{"amount": {"nested": 1}}'), "params_json"),
    ],
)
def test_a_bad_request_to_try_a_rule_names_its_field(tenants, request_, field):
    with pytest.raises(InvalidArgument) as refused:
        rule_to_try(tenants["hardware"], "material_lock", **request_)

    assert [v.field for v in refused.value.violations] == [field]


# A rule loops over one list at a time: nested comprehensions multiply (six nested `.all` over
# ten items took 0.2 s, each level ×10, holding the GIL), so one request could stall a service.


@pytest.mark.parametrize(
    "expression",
    [
        "orders.size() >= params.min_orders && orders.all(o, o.priority != 'PRIORITY_HIGH')",
        "orders.map(o, o.quantity).filter(q, q > 1).size() > 0",  # chained, not nested
        "orders.all(o, o.order_no != 'x.all(y, [1].all(z, true))')",  # a call inside text is text
        'orders.all(o, o.order_no != "\\\\") && orders.exists(o, true)',
    ],
)
def test_a_rule_may_loop_over_one_list_at_a_time(expression):
    compile_rule("r", "batch_merge", expression, {"min_orders": 3})


@pytest.mark.parametrize(
    "expression",
    [
        "[0,1,2,3,4,5,6,7,8,9].all(a, [0,1,2,3,4,5,6,7,8,9].all(b, true))",
        "orders.all(o, orders.exists(p, p.quantity > o.quantity))",
        "orders.all (o, orders . exists ( p, true))",
        "orders.all(o, o.order_no != '\\'' || orders.exists(p, true))",  # an escaped quote ends no text
        "orders.all(o, r'\\' != '' && orders.exists(p, true))",  # a raw string's backslash escapes nothing
        "orders.all(o, '''it's''' != '' && orders.exists(p, true))",
        "orders.all(o,true) && orders.all(o,true) && orders.all(o,true) && orders.all(o,true) "
        "&& orders.all(o,true)",
    ],
)
def test_a_comprehension_inside_another_or_too_many_is_refused(expression):
    with pytest.raises(RuleInvalid, match="comprehension"):
        compile_rule("r", "batch_merge", expression, {"min_orders": 3})
