"""a delivery's claim names its dispatcher round (claim_id), so a round records only what it holds

Revision ID: notify_0011
Revises: notify_0010
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0011"
down_revision = "notify_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("claim_id", sa.String(36), nullable=True))


def downgrade() -> None:
    op.drop_column("deliveries", "claim_id")
