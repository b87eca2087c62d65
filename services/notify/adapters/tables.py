"""The notify service's own database."""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, String, Table, Text

from services.chassis.tables import UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("recipient_role", String(32), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_notifications_tenant_reference", "tenant_id", "reference"),
)
