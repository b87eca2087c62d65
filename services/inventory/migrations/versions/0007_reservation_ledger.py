"""reservation ledger: material balances, reservations and their lines

Revision ID: inventory_0007
Revises: inventory_0006
"""

import sqlalchemy as sa
from alembic import op


revision = "inventory_0007"
down_revision = "inventory_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "material_balances",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("material", sa.String(length=128), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("locked", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "material"),
    )
    op.create_table(
        "reservations",
        sa.Column("reservation_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.String(length=32), nullable=False),
        sa.Column("order_lines", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("lock_rule", sa.String(length=64), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("overridden_by", sa.String(length=128), nullable=False),
        sa.Column("override_reason", sa.String(length=200), nullable=False),
        sa.Column("wms_synced", sa.Boolean(), nullable=False),
        sa.Column("ledger_version", sa.Integer(), nullable=False),
        sa.Column("wms_round", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reservation_id"),
        sa.UniqueConstraint("tenant_id", "order_id", name="uq_reservations_tenant_order"),
    )
    op.create_index("ix_reservations_tenant_created", "reservations", ["tenant_id", "created_at"])
    op.create_index(
        "ix_reservations_unsynced",
        "reservations",
        ["tenant_id", "updated_at"],
        postgresql_where=sa.text("NOT wms_synced"),
        sqlite_where=sa.text("NOT wms_synced"),
    )
    op.create_table(
        "reservation_lines",
        sa.Column("reservation_id", sa.String(length=36), nullable=False),
        sa.Column("material", sa.String(length=128), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("needed", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("short", sa.BigInteger(), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.reservation_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("reservation_id", "material"),
    )
    op.create_index("ix_reservation_lines_material", "reservation_lines", ["material"])


def downgrade() -> None:
    op.drop_index("ix_reservation_lines_material", table_name="reservation_lines")
    op.drop_table("reservation_lines")
    op.drop_index("ix_reservations_unsynced", table_name="reservations")
    op.drop_index("ix_reservations_tenant_created", table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("material_balances")
