"""a due-date warning's acknowledgements by its recipients

Revision ID: notify_0008
Revises: notify_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0008"
down_revision = "notify_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("due_warnings", sa.Column("acknowledgements", sa.Text(), server_default="[]", nullable=False))


def downgrade() -> None:
    op.drop_column("due_warnings", "acknowledgements")
