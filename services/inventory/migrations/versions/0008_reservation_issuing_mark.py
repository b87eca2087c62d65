"""reservation issuing mark: set while the WMS issues a reservation, so no change slips in between

Revision ID: inventory_0008
Revises: inventory_0007
"""

import sqlalchemy as sa
from alembic import op


revision = "inventory_0008"
down_revision = "inventory_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reservations", sa.Column("issuing_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "reservations",
        sa.Column("issuing_version", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column(
        "reservations",
        sa.Column("issuing_by", sa.String(length=128), nullable=False, server_default=sa.text("''")),
    )
    op.create_index(
        "ix_reservations_issuing",
        "reservations",
        ["tenant_id", "issuing_since"],
        postgresql_where=sa.text("issuing_since IS NOT NULL"),
        sqlite_where=sa.text("issuing_since IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_reservations_issuing", table_name="reservations")
    op.drop_column("reservations", "issuing_by")
    op.drop_column("reservations", "issuing_version")
    op.drop_column("reservations", "issuing_since")
