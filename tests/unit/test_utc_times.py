"""Timestamps are stored in UTC and read back as the same instant, whatever zone they were
given in. SQLite keeps no offset: a plant-zone (+08:00) time stored as it was read back as that
wall-clock time in UTC, 8 hours late (an order appeared created after its approval)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select

from services.chassis.db import make_engine
from services.chassis.tables import UtcDateTime

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLANT_MORNING = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=SHANGHAI)  # 01:30:15Z


def make_table(engine: Engine) -> Table:
    metadata = MetaData()
    table = Table(
        "stamps",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime(), nullable=False),
    )
    metadata.create_all(engine)
    return table


def check_round_trip(engine: Engine) -> None:
    """Shared by the SQLite case here and the PostgreSQL case in tests/integration."""
    table = make_table(engine)
    utc_same_instant = PLANT_MORNING.astimezone(UTC)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "at": PLANT_MORNING}, {"id": 2, "at": utc_same_instant}])
    with engine.connect() as conn:
        got = dict(conn.execute(select(table.c.id, table.c.at)).all())
        # compared in the database: the stored values order as instants, not as wall clocks
        earlier = conn.execute(
            select(table.c.id).where(table.c.at < utc_same_instant + timedelta(minutes=1))
        ).scalars()
        later = conn.execute(select(table.c.id).where(table.c.at > PLANT_MORNING - timedelta(hours=1)))
        assert sorted(earlier) == [1, 2] and sorted(later.scalars()) == [1, 2]
    for value in got.values():
        assert value == PLANT_MORNING  # the same instant (aware datetimes compare as instants)
        assert value.utcoffset() == timedelta(0), "read back in UTC"
        assert value.replace(tzinfo=None) == datetime(2026, 3, 2, 1, 30, 15, 123456)


def test_a_plant_zone_time_reads_back_as_the_same_instant_on_sqlite(tmp_path):
    check_round_trip(make_engine(f"sqlite:///{tmp_path}/stamps.db"))


def test_a_naive_time_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/stamps.db")
    table = make_table(engine)
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=datetime(2026, 3, 2, 9, 30)))
