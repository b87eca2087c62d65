"""delivery address, custom fields, price deviations, packaging and routes

Revision ID: order_0009
Revises: order_0008
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "order_0009"
down_revision = 'order_0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('order_lines', sa.Column('packaging', sa.String(length=64), server_default='', nullable=False))
    op.add_column('order_lines', sa.Column('route', sa.JSON(), nullable=True))
    op.add_column('orders', sa.Column('delivery_address', sa.String(length=200), server_default='', nullable=False))
    op.add_column('orders', sa.Column('custom_fields', sa.JSON(), nullable=True))
    op.add_column('orders', sa.Column('price_deviations', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('orders', 'price_deviations')
    op.drop_column('orders', 'custom_fields')
    op.drop_column('orders', 'delivery_address')
    op.drop_column('order_lines', 'route')
    op.drop_column('order_lines', 'packaging')
