"""The customer service's own database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
from sqlalchemy.schema import SchemaItem

from services.chassis.tables import Id, UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False, index=True),
    Column("code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("tax_id", String(18), nullable=False),
    Column("sales_owner", String(64), nullable=False),
    Column("cooperation_since", Date, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("deactivation_reason", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    # The last tier assessment: the tier and the two numbers it was made from.
    Column("tier", String(16), nullable=False),
    Column("years_of_cooperation", Integer, nullable=False),
    Column("purchases_12m_fen", BigInteger, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("tenant_id", "code", name="uq_customers_tenant_code"),
)


def _child(name: str, *columns: SchemaItem) -> Table:
    """A table of rows that belong to one customer (replaced with it, deleted with it)."""
    return Table(
        name,
        metadata,
        Column("id", Id, primary_key=True, autoincrement=True),
        Column(
            "customer_id",
            String(36),
            ForeignKey("customers.customer_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("tenant_id", String(64), nullable=False),
        *columns,
    )


contacts = _child(
    "customer_contacts",
    Column("position", Integer, nullable=False),
    Column("name", String(64), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("phone_digits", String(32), nullable=False),  # what a search by phone compares
    Column("role", String(32), nullable=False),
)

addresses = _child(
    "customer_addresses",
    Column("position", Integer, nullable=False),
    Column("label", String(32), nullable=False),
    Column("address", String(200), nullable=False),
    Column("receiver", String(64), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("is_default", Boolean, nullable=False),
)

# What the tier counts: one row per shipped order (unique per order: a re-shipped order is
# counted once) and one opening balance (期初, order_id NULL) per customer registered with one.
purchases = _child(
    "purchases",
    Column("order_id", String(36)),
    Column("order_no", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("occurred_on", Date, nullable=False),  # the tenant's calendar day: what ages out
    Column("recorded_at", UtcDateTime(), nullable=False),
    UniqueConstraint("tenant_id", "order_id", name="uq_purchases_tenant_order"),
    Index("ix_purchases_tenant_customer_day", "tenant_id", "customer_id", "occurred_on"),
)

tier_changes = _child(
    "tier_changes",
    Column("version", Integer, nullable=False),
    Column("from_tier", String(16)),  # NULL: the assessment at registration
    Column("to_tier", String(16), nullable=False),
    Column("reason", String(400), nullable=False),
    Column("reason_without_amounts", String(400), nullable=False),
    Column("purchases_12m_fen", BigInteger, nullable=False),
    Column("years_of_cooperation", Integer, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)

contract_prices = Table(
    "contract_prices",
    metadata,
    Column("contract_price_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("scope_key", String(36), nullable=False),  # the customer id, or "TIER_A"
    Column("customer_id", String(36), ForeignKey("customers.customer_id", ondelete="CASCADE")),
    Column("tier", String(16)),
    Column("product_model", String(64), nullable=False),
    Column("unit_price_fen", BigInteger, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),  # inclusive; NULL = open-ended
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint(
        "tenant_id", "scope_key", "product_model", "valid_from", name="uq_contract_prices_entry"
    ),
)
