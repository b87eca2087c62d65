"""the chassis branch begins: outbox, inbox, number_sequences, applied_versions, job_leases as the
services' own revisions left them

Revision ID: chassis_0001
Revises:
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "chassis_0001"
down_revision = None
branch_labels = ("chassis",)
depends_on = None


def upgrade() -> None:
    # Nothing to do: every service's history up to its "join the chassis branch" revision created
    # these tables. New chassis changes are revisions on this branch, written once.
    pass


def downgrade() -> None:
    pass
