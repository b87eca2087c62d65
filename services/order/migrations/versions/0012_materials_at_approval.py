"""materials at approval: accepted short by an override, locked by a tenant rule

Revision ID: order_0012
Revises: order_0011
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "order_0012"
down_revision = 'order_0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('materials_short', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('orders', sa.Column('materials_locked', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('orders', sa.Column('lock_rule', sa.String(length=64), server_default='', nullable=False))


def downgrade() -> None:
    op.drop_column('orders', 'lock_rule')
    op.drop_column('orders', 'materials_locked')
    op.drop_column('orders', 'materials_short')
