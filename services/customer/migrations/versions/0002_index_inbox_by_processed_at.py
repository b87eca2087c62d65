"""index inbox by processed_at

Revision ID: customer_0002
Revises: customer_0001
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "customer_0002"
down_revision = 'customer_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_inbox_processed_at', 'inbox', ['processed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbox_processed_at', table_name='inbox')
