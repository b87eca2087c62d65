"""The UTC round trip of tests/unit/test_utc_times.py on PostgreSQL (timestamptz)."""

from __future__ import annotations

import pytest

from services.chassis.db import make_engine
from tests.unit.test_utc_times import check_round_trip

pytestmark = pytest.mark.integration


def test_a_plant_zone_time_reads_back_as_the_same_instant_on_postgresql(fresh_database):
    engine = make_engine(fresh_database("utc"))
    try:
        check_round_trip(engine)
    finally:
        engine.dispose()
