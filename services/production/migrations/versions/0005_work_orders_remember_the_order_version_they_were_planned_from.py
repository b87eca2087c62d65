"""work orders remember the order version they were planned from

Revision ID: production_0005
Revises: production_0004
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "production_0005"
down_revision = 'production_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('work_orders', sa.Column('order_version', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    op.drop_column('work_orders', 'order_version')
