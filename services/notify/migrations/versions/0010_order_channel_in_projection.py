"""an order's channel in notify's projection (a marketplace order's cancellation stops work)

Revision ID: notify_0010
Revises: notify_0009
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0010"
down_revision = "notify_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Orders projected before this know no channel: "" (not a marketplace order, as far as notify knows).
    op.add_column("order_customers", sa.Column("channel", sa.String(32), server_default="", nullable=False))


def downgrade() -> None:
    op.drop_column("order_customers", "channel")
