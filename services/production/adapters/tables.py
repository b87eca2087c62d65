"""The production service's own database."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from services.chassis.tables import Id, UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

work_orders = Table(
    "work_orders",
    metadata,
    Column("work_order_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("work_order_no", String(48), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("workshop", String(32), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("order_version", Integer, nullable=False, server_default="1"),
    UniqueConstraint("tenant_id", "work_order_no", name="uq_work_orders_tenant_no"),
    Index("ix_work_orders_tenant_order", "tenant_id", "order_id"),
    Index("ix_work_orders_tenant_created", "tenant_id", "created_at"),
)

work_order_lines = Table(
    "work_order_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "work_order_id",
        String(36),
        ForeignKey("work_orders.work_order_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("line_no", Integer, nullable=False),
    Column("product_model", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("colour", String(32), nullable=False),
    Column("surface_treatment", String(32), nullable=False),
)
