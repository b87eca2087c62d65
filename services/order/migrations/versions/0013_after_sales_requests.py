"""after-sales requests (售后申请), each about one order of a customer

Revision ID: order_0013
Revises: order_0012
"""

import sqlalchemy as sa
from alembic import op

revision = "order_0013"
down_revision = "order_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "after_sales_requests",
        sa.Column("after_sales_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("after_sales_id"),
        sa.UniqueConstraint("tenant_id", "request_id", name="uq_after_sales_tenant_request_id"),
    )
    op.create_index("ix_after_sales_customer", "after_sales_requests", ["tenant_id", "customer_id", "submitted_at"])
    op.create_index("ix_after_sales_order", "after_sales_requests", ["order_id"])


def downgrade() -> None:
    op.drop_table("after_sales_requests")
