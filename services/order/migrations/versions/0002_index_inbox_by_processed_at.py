"""index inbox by processed_at

Revision ID: order_0002
Revises: order_0001
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "order_0002"
down_revision = 'order_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_inbox_processed_at', 'inbox', ['processed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbox_processed_at', table_name='inbox')
