"""join the chassis migration branch: from here on the chassis's tables change there, once

Revision ID: ingest_0006
Revises: ingest_0005
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "ingest_0006"
down_revision = "ingest_0005"
branch_labels = None
depends_on = "chassis_0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
