"""delivery batches

Revision ID: order_0011
Revises: order_0010
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "order_0011"
down_revision = 'order_0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('delivery_batches', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('orders', 'delivery_batches')
