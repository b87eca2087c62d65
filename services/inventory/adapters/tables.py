"""The inventory service's own database: the reservation ledger (and the finished-goods stock
levels the deprecated CheckAvailability reads)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

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

# Quantities are integer millionths of the material's unit (domain/quantity.py): exact, no float
# drift between the ledger, its lines and the WMS.

# One row per material: every reservation of the material goes through it with one guarded UPDATE
# (reserved + q <= on_hand), which is what keeps 50 racing approvals from over-committing.
material_balances = Table(
    "material_balances",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("material", String(128), primary_key=True),
    Column("unit", String(16), nullable=False),
    Column("on_hand", BigInteger, nullable=False),  # as last read from the WMS
    Column("reserved", BigInteger, nullable=False),  # open reservations (held or frozen)
    Column("locked", BigInteger, nullable=False),  # of which hard-locked by a material_lock rule
    Column("updated_at", UtcDateTime(), nullable=False),
)

reservations = Table(
    "reservations",
    metadata,
    Column("reservation_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("priority", String(32), nullable=False),
    Column("order_lines", Text, nullable=False),  # JSON: the revision's order lines (dry-runs)
    Column("state", String(16), nullable=False),
    Column("locked", Boolean, nullable=False),
    Column("lock_rule", String(64), nullable=False),
    Column("overridden", Boolean, nullable=False),
    Column("overridden_by", String(128), nullable=False),
    Column("override_reason", String(200), nullable=False),
    Column("wms_synced", Boolean, nullable=False),
    Column("ledger_version", Integer, nullable=False),
    Column("wms_round", Integer, nullable=False),  # +1 per issue: the WMS id of what is held next
    # The issuing mark (domain/reservation.py): set while the WMS issues, with the ledger version
    # it issues and who asked; the sync job resolves a mark a crashed process left.
    Column("issuing_since", UtcDateTime()),
    Column("issuing_version", Integer, nullable=False, server_default=text("0")),
    Column("issuing_by", String(128), nullable=False, server_default=text("''")),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("tenant_id", "order_id", name="uq_reservations_tenant_order"),
    Index("ix_reservations_tenant_created", "tenant_id", "created_at"),
    Index(
        "ix_reservations_unsynced",
        "tenant_id",
        "updated_at",
        postgresql_where=text("NOT wms_synced"),
        sqlite_where=text("NOT wms_synced"),
    ),
    Index(
        "ix_reservations_issuing",
        "tenant_id",
        "issuing_since",
        postgresql_where=text("issuing_since IS NOT NULL"),
        sqlite_where=text("issuing_since IS NOT NULL"),
    ),
)

reservation_lines = Table(
    "reservation_lines",
    metadata,
    Column(
        "reservation_id",
        String(36),
        ForeignKey("reservations.reservation_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("material", String(128), primary_key=True),
    Column("unit", String(16), nullable=False),
    Column("needed", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("issued", BigInteger, nullable=False),
    Column("short", BigInteger, nullable=False),
    Column("available", BigInteger, nullable=False),
    Index("ix_reservation_lines_material", "material"),
)
