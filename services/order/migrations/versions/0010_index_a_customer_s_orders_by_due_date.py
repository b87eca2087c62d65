"""index a customer's orders by due date

Revision ID: order_0010
Revises: order_0009
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "order_0010"
down_revision = 'order_0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_orders_tenant_customer_due', 'orders', ['tenant_id', 'customer_id', 'due_date', 'order_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_orders_tenant_customer_due', table_name='orders')
