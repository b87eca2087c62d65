"""Tables every service database has: outbox, inbox and number sequences.

Each service calls `add_chassis_tables(metadata)` so that its own Alembic history creates them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER keys


class UtcDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (UTC), on every database.

    Any aware datetime is accepted and converted to UTC before it is stored: SQLite keeps no
    offset, so a plant-zone time (+08:00) stored as it is would read back as that wall-clock time
    in UTC, 8 hours late. A naive datetime is refused (which zone would it be in?). Convert to a
    tenant's zone only to show a time or to number by the plant's calendar."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def add_chassis_tables(metadata: MetaData) -> None:
    Table(
        "outbox",
        metadata,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("tenant_id", String(64), nullable=False),
        Column("exchange", String(64), nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("body", Text, nullable=False),
        Column("headers", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime()),
        # Refused publishes: counted per row; at the relay's limit the row is parked (kept, with
        # its reason, out of the relay's way) for a person to look at and release.
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text),
        Column("parked_at", UtcDateTime()),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )
    Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", UtcDateTime(), nullable=False),
        Index("ix_inbox_processed_at", "processed_at"),  # housekeeping purges by age
    )
    Table(
        "applied_versions",
        metadata,
        # Per consumer and aggregate, the newest version whose event was applied: an event of an
        # older or the same version (retries and parallel relays reorder events) changes nothing.
        Column("consumer", String(100), primary_key=True),
        Column("tenant_id", String(64), primary_key=True),
        Column("aggregate_id", String(64), primary_key=True),
        Column("version", BigInteger, nullable=False),
        Column("applied_at", UtcDateTime(), nullable=False),
    )
    Table(
        "job_leases",
        metadata,
        # One row per scheduled job and tenant ("*" for a service-wide job): whoever moves
        # next_run_at forward runs it; services/chassis/jobs.py.
        Column("job", String(64), primary_key=True),
        Column("tenant_id", String(64), primary_key=True),
        Column("next_run_at", UtcDateTime(), nullable=False),
        Column("holder", String(200), nullable=False),
        Column("last_run_at", UtcDateTime()),
    )
    Table(
        "number_sequences",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("name", String(32), primary_key=True),
        Column("period", String(16), primary_key=True),
        Column("value", Integer, nullable=False),
    )
