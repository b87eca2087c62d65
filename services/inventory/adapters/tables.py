"""The inventory service's own database."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

from services.chassis.tables import UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("product_model", String(64), primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, default=0),
    Column("synced_at", UtcDateTime(), nullable=False),
)
