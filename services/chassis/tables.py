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
    """A timestamp that always comes back timezone-aware (UTC). SQLite stores no offset, and a
    naive datetime beside an aware one fails at the first comparison."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use datetime.now(UTC)")
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


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
        "number_sequences",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("name", String(32), primary_key=True),
        Column("period", String(16), primary_key=True),
        Column("value", Integer, nullable=False),
    )
