"""routed work orders: steps, revisions, the change freeze, stage reports, material requirements

Revision ID: production_0008
Revises: production_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "production_0008"
down_revision = "production_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "production_orders",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("order_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("frozen", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("change_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("cancelled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("stage_sequence", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_production_orders_tenant_no", "production_orders", ["tenant_id", "order_no"])
    # Work orders planned before this revision become their orders' rows (not frozen, revision 1).
    op.execute(
        "INSERT INTO production_orders (order_id, tenant_id, order_no, order_version, updated_at) "
        "SELECT order_id, MIN(tenant_id), MIN(order_no), MAX(order_version), MAX(created_at) "
        "FROM work_orders GROUP BY order_id"
    )
    for column in (
        sa.Column("step", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("order_revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("frozen", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("good_quantity", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("scrap_quantity", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    ):
        op.add_column("work_orders", column)
    op.add_column(
        "work_order_lines", sa.Column("packaging", sa.String(length=64), server_default="", nullable=False)
    )
    op.add_column(
        "work_order_lines",
        sa.Column("order_line_no", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "work_order_stage_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("work_order_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.String(length=128), nullable=False),
        sa.Column("from_stage", sa.String(length=32), nullable=False),
        sa.Column("to_stage", sa.String(length=32), nullable=False),
        sa.Column("good_quantity", sa.BigInteger(), nullable=False),
        sa.Column("scrap_quantity", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.work_order_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_work_order_stage_reports_wo", "work_order_stage_reports", ["work_order_id", "id"])
    op.create_table(
        "work_order_revisions",
        sa.Column("work_order_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_revision", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.work_order_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("work_order_id", "revision"),
    )
    op.create_table(
        "work_order_requirements",
        sa.Column("work_order_id", sa.String(length=36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("material", sa.String(length=128), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.work_order_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("work_order_id", "revision", "material", "unit"),
    )


def downgrade() -> None:
    op.drop_table("work_order_requirements")
    op.drop_table("work_order_revisions")
    op.drop_index("ix_work_order_stage_reports_wo", table_name="work_order_stage_reports")
    op.drop_table("work_order_stage_reports")
    op.drop_column("work_order_lines", "order_line_no")
    op.drop_column("work_order_lines", "packaging")
    for name in ("scrap_quantity", "good_quantity", "cancelled", "frozen", "order_revision", "revision", "step"):
        op.drop_column("work_orders", name)
    op.drop_index("ix_production_orders_tenant_no", table_name="production_orders")
    op.drop_table("production_orders")
