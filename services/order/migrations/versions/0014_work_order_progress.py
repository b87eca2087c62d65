"""work order progress: production's work orders as the order service follows them (workshop,
step, stage, the order lines each makes), for the progress of each order line

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
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("line_nos", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("work_order_id"),
    )
    op.create_index("ix_work_order_progress_order_id", "work_order_progress", ["order_id"])


def downgrade() -> None:
    op.drop_table("work_order_progress")
