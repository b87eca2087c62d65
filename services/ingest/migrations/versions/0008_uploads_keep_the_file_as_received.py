"""uploads keep the file as received (the raw archive of the agents' channel)

Revision ID: ingest_0008
Revises: ingest_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "ingest_0008"
down_revision = "ingest_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("uploads", "data")
