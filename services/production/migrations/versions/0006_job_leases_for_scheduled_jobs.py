"""job leases for scheduled jobs

Revision ID: production_0006
Revises: production_0005
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "production_0006"
down_revision = 'production_0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_leases',
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('job', 'tenant_id')
    )


def downgrade() -> None:
    op.drop_table('job_leases')
