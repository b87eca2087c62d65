"""work order progress: the stage of each work order of an order, from production's stage
reports, for the progress of each order line

Revision ID: order_0014
Revises: order_0013
"""

import sqlalchemy as sa
from alembic import op

revision = "order_0014"
down_revision = "order_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_order_progress",
        sa.Column("work_order_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("work_order_no", sa.String(length=64), nullable=False),
        sa.Column("workshop", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("work_order_id"),
    )
    op.create_index("ix_work_order_progress_order_id", "work_order_progress", ["order_id"])


def downgrade() -> None:
    op.drop_table("work_order_progress")
