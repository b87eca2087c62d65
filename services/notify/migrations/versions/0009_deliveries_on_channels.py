"""notices delivered on channels: the delivery log and its attempts

Revision ID: notify_0009
Revises: notify_0008
"""

import sqlalchemy as sa
from alembic import op


revision = "notify_0009"
down_revision = "notify_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("kind", sa.String(40), server_default="", nullable=False))
    op.add_column("notifications", sa.Column("order_no", sa.String(32), server_default="", nullable=False))
    op.add_column(
        "notifications", sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    # Notices recorded before channels existed are not sent now (they are history): routed.
    op.add_column(
        "notifications", sa.Column("routed", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.execute("UPDATE notifications SET routed = true")
    op.create_index(
        "ix_notifications_unrouted",
        "notifications",
        ["tenant_id", "created_at"],
        postgresql_where=sa.text("NOT routed"),
    )
    op.create_table(
        "deliveries",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("notification_id", sa.String(36), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("order_no", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_reason", sa.String(64), server_default="", nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(300), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("notification_id", "channel", name="uq_delivery_per_channel"),
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["tenant_id", "next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_deliveries_reference", "deliveries", ["tenant_id", "reference"])
    op.create_index("ix_deliveries_order", "deliveries", ["tenant_id", "order_no"])
    op.create_index("ix_deliveries_recipient", "deliveries", ["tenant_id", "recipient", "created_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("delivery_id", sa.String(36), primary_key=True),
        sa.Column("attempt", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_index("ix_notifications_unrouted", "notifications")
    for column in ("routed", "urgent", "order_no", "kind"):
        op.drop_column("notifications", column)
