"""The order service's own database."""

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

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("priority", String(32), nullable=False),
    Column("state", String(40), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("approved_by", String(64), nullable=False, default=""),
    Column("approved_at", UtcDateTime()),
    Column("request_id", String(64)),
    UniqueConstraint("tenant_id", "order_no", name="uq_orders_tenant_order_no"),
    UniqueConstraint("tenant_id", "request_id", name="uq_orders_tenant_request_id"),
    # The board's question: a tenant's orders in one state, by due date (keyset pages).
    Index("ix_orders_tenant_state_due", "tenant_id", "state", "due_date", "order_id"),
    Index("ix_orders_tenant_due", "tenant_id", "due_date", "order_id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "order_id", String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("tenant_id", String(64), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("product_model", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("colour", String(32), nullable=False),
    Column("surface_treatment", String(32), nullable=False),
    Column("workshop", String(32), nullable=False),
    Column("unit_price_fen", Id, nullable=False),
)

# An order's lifecycle steps (services/order/domain/lifecycle.py), one row per version: who moved
# it from which state to which, when and why. The delivery-cycle KPI reads the timestamps.
order_transitions = Table(
    "order_transitions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(40)),
    Column("to_state", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("reason", String(200), nullable=False),
    # One step per version: two concurrent steps from the same version cannot both be stored.
    UniqueConstraint("order_id", "version", name="uq_order_transitions_order_version"),
    Index("ix_order_transitions_tenant_order", "tenant_id", "order_id", "version"),
)
