"""batch merging (merge candidates, batch tasks) and the board's partial indexes on work orders

Revision ID: production_0009
Revises: production_0008
"""

import sqlalchemy as sa
from alembic import op

revision = "production_0009"
down_revision = "production_0008"
branch_labels = None
depends_on = None

CONFIGURATION = ["product_model", "surface_treatment", "colour", "packaging"]
OPEN_CANDIDATE = "batch_id IS NULL AND cancelled_at IS NULL"
OPEN_WORK = "NOT cancelled AND stage <> 'STAGE_SHIPPED'"
UNFINISHED_WORK = "NOT cancelled AND stage IN ('STAGE_TO_SCHEDULE', 'STAGE_IN_PROCESS')"


def upgrade() -> None:
    op.create_table(
        "merge_candidates",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("priority", sa.String(length=32), nullable=False),
        sa.Column("product_model", sa.String(length=64), nullable=False),
        sa.Column("surface_treatment", sa.String(length=32), nullable=False),
        sa.Column("colour", sa.String(length=32), nullable=False),
        sa.Column("packaging", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "tenant_id", "order_id", *CONFIGURATION, name="uq_merge_candidates_order_configuration"
        ),
    )
    op.create_index(
        "ix_merge_candidates_open",
        "merge_candidates",
        ["tenant_id", *CONFIGURATION, "approved_at"],
        postgresql_where=sa.text(OPEN_CANDIDATE),
        sqlite_where=sa.text(OPEN_CANDIDATE),
    )
    op.create_index("ix_merge_candidates_tenant_approved", "merge_candidates", ["tenant_id", "approved_at"])
    op.create_index("ix_merge_candidates_batch", "merge_candidates", ["batch_id"])
    op.create_table(
        "batch_tasks",
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("batch_no", sa.String(length=48), nullable=False),
        sa.Column("product_model", sa.String(length=64), nullable=False),
        sa.Column("surface_treatment", sa.String(length=32), nullable=False),
        sa.Column("colour", sa.String(length=32), nullable=False),
        sa.Column("packaging", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id"),
        sa.UniqueConstraint("tenant_id", "batch_no", name="uq_batch_tasks_tenant_no"),
    )
    op.create_index("ix_batch_tasks_tenant_created", "batch_tasks", ["tenant_id", "created_at"])
    op.create_index(
        "ix_work_orders_board_open",
        "work_orders",
        ["tenant_id", "workshop", "stage"],
        postgresql_where=sa.text(OPEN_WORK),
        sqlite_where=sa.text(OPEN_WORK),
    )
    op.create_index(
        "ix_work_orders_board_due",
        "work_orders",
        ["tenant_id", "due_date", "work_order_no"],
        postgresql_include=["workshop"],
        postgresql_where=sa.text(UNFINISHED_WORK),
        sqlite_where=sa.text(UNFINISHED_WORK),
    )


def downgrade() -> None:
    op.drop_index("ix_work_orders_board_due", table_name="work_orders")
    op.drop_index("ix_work_orders_board_open", table_name="work_orders")
    op.drop_table("batch_tasks")
    op.drop_table("merge_candidates")
