"""A candidate rule's params are a planner's typing (DryRunRule's params_json) or a tenant file's
values: JSON nested past the parser's recursion limit is the params' fault, named, on either
service; a merge window of 2^31 hours, infinity or NaN is a window, never an overflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.chassis.errors import InvalidArgument
from services.chassis.rules import compile_rule
from services.chassis.tenants import load_tenants
from services.inventory.service_layer import queries
from services.inventory.service_layer.plant import Plant
from services.production.domain.batching import DEFAULT_WINDOW_HOURS, MAX_WINDOW_HOURS, window_of
from services.production.service_layer.batching import DryRunMerge, candidate_rule
from tests.unit.fake_wms import FakeWms

HW = load_tenants(("hardware",))["hardware"]
DEEP = "[" * 999 + "]" * 999  # 1,998 characters: within params_json's 2,000


def test_params_nested_past_the_recursion_limit_are_a_params_json_violation_in_production():
    with pytest.raises(InvalidArgument) as refused:
        candidate_rule(DryRunMerge(name="x", expression="true", params_json=DEEP), HW)
    assert [v.field for v in refused.value.violations] == ["params_json"]


def test_params_nested_past_the_recursion_limit_are_a_params_json_violation_in_inventory():
    plant = Plant("hardware", HW, FakeWms(), None)
    query = queries.DryRunRule(expression="order.amount_cny > 1.0", params_json=DEEP)
    with pytest.raises(InvalidArgument) as refused:
        queries.dry_run_rule(query, uow=None, plant=plant)  # refused before any read
    assert [v.field for v in refused.value.violations] == ["params_json"]


@pytest.mark.parametrize(
    ("hours", "window_h"),
    [
        (2**31, MAX_WINDOW_HOURS),
        (1e308, MAX_WINDOW_HOURS),
        (float("inf"), MAX_WINDOW_HOURS),
        (float("nan"), DEFAULT_WINDOW_HOURS),
        (0, DEFAULT_WINDOW_HOURS),
        (-72, DEFAULT_WINDOW_HOURS),
        (48, 48),
    ],
)
def test_a_merge_window_is_at_most_a_year_and_never_overflows(hours, window_h):
    window = window_of(compile_rule("c", "batch_merge", "true", {"window_hours": hours}))
    assert window == timedelta(hours=window_h)
    assert datetime(2026, 11, 26, tzinfo=UTC) - window > datetime(2025, 1, 1, tzinfo=UTC)
