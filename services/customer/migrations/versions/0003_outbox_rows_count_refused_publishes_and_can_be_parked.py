"""outbox rows count refused publishes and can be parked

Revision ID: customer_0003
Revises: customer_0002
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "customer_0003"
down_revision = 'customer_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('outbox', sa.Column('last_error', sa.Text(), nullable=True))
    op.add_column('outbox', sa.Column('parked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('outbox', 'parked_at')
    op.drop_column('outbox', 'last_error')
    op.drop_column('outbox', 'attempts')
