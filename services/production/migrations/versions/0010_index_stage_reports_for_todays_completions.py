"""index stage reports by tenant, stage reached and time: the board's completions of today

Revision ID: production_0010
Revises: production_0009
"""

from alembic import op

revision = "production_0010"
down_revision = "production_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_work_order_stage_reports_tenant_to_at",
        "work_order_stage_reports",
        ["tenant_id", "to_stage", "reported_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_work_order_stage_reports_tenant_to_at", "work_order_stage_reports")
