"""applied aggregate versions per consumer

Revision ID: ingest_0004
Revises: ingest_0003
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "ingest_0004"
down_revision = 'ingest_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applied_versions',
    sa.Column('consumer', sa.String(length=100), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('aggregate_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'tenant_id', 'aggregate_id')
    )


def downgrade() -> None:
    op.drop_table('applied_versions')
