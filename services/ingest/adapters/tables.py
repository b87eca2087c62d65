"""The ingest service's own database."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table

from services.chassis.tables import UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

intakes = Table(
    "intakes",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("idempotency_key", String(64), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("received_by", String(64), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)
