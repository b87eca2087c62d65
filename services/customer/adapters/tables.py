"""The customer service's own database."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, UniqueConstraint

from services.chassis.tables import UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False, index=True),
    Column("code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("years_of_cooperation", Integer, nullable=False),
    Column("yearly_purchases_cny", BigInteger, nullable=False),
    Column("sales_owner", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("tenant_id", "code", name="uq_customers_tenant_code"),
)
