"""join the chassis migration branch: from here on the chassis's tables change there, once

Revision ID: production_0007
Revises: production_0006
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "production_0007"
down_revision = "production_0006"
branch_labels = None
depends_on = "chassis_0001"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
