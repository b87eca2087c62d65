"""The well-known types at the edge: days in and out as google.type.Date, instants out as
google.protobuf.Timestamp (UTC), and the tenant's options as GetTenantOptions answers them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from google.type.date_pb2 import Date

from oms.order.v1 import order_pb2
from services.chassis.errors import InvalidArgument
from services.chassis.fields import date_from_proto, date_to_proto, optional_date_from_proto, timestamp_of
from services.chassis.tenants import load_tenants
from services.order.api import tenant_options_to_proto


def test_a_day_round_trips():
    assert date_from_proto("due_date", date_to_proto(date(2028, 2, 29))) == date(2028, 2, 29)


@pytest.mark.parametrize("bad", [Date(year=2026, month=2, day=30), Date(), Date(year=2026, month=13, day=1)])
def test_a_date_that_is_no_day_is_the_callers_mistake_on_that_field(bad):
    """The contract's oms.date rule refuses these first; this is what a caller that skipped the
    interceptor (a test, a future HTTP edge) still meets."""
    with pytest.raises(InvalidArgument) as caught:
        date_from_proto("due_from", bad)

    [violation] = caught.value.violations
    assert violation.field == "due_from" and "is not a calendar day" in violation.description


def test_an_unset_optional_date_is_an_open_bound():
    request = order_pb2.ListOrdersRequest(due_to=Date(year=2026, month=12, day=31))

    assert optional_date_from_proto(request, "due_from") is None
    assert optional_date_from_proto(request, "due_to") == date(2026, 12, 31)


def test_instants_leave_in_utc_with_their_microseconds():
    plant_time = datetime(2026, 11, 26, 0, 30, 5, 123456, tzinfo=timezone(timedelta(hours=8)))

    stamp = timestamp_of(plant_time)

    assert stamp.ToDatetime(tzinfo=UTC) == plant_time
    assert stamp.ToJsonString() == "2026-11-25T16:30:05.123456Z"
    assert timestamp_of(None) is None
    with pytest.raises(ValueError, match="naive"):
        timestamp_of(datetime(2026, 11, 25, 16, 30))


def test_tenant_options_carry_the_libraries_the_workshop_names_and_the_time_zone():
    hardware = load_tenants(("hardware",))["hardware"]

    options = tenant_options_to_proto(hardware)

    assert (options.tenant_id, options.time_zone, options.number_prefix) == (
        "hardware",
        "Asia/Shanghai",
        "HW",
    )
    assert list(options.colours) == list(hardware.options.colours)
    assert list(options.surface_treatments) == list(hardware.options.surface_treatments)
    assert [(w.code, w.name) for w in options.workshops] == [
        (code, w.name) for code, w in hardware.workshops.items()
    ]
    assert options.workshops[0].name == "冲压一车间 Stamping 1"
