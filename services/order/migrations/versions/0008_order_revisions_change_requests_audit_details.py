"""order revisions, change requests, audit details

Revision ID: order_0008
Revises: order_0007
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "order_0008"
down_revision = 'order_0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_changes',
    sa.Column('change_id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('base_revision', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('proposed', sa.JSON(), nullable=True),
    sa.Column('diff', sa.JSON(), nullable=False),
    sa.Column('impact', sa.JSON(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.order_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('change_id')
    )
    op.create_index('ix_order_changes_tenant_order', 'order_changes', ['tenant_id', 'order_id', 'requested_at'], unique=False)
    op.create_table('order_revisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('change_id', sa.String(length=36), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=False),
    sa.Column('diff', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.order_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id', 'revision', name='uq_order_revisions_order_revision')
    )
    op.add_column('order_transitions', sa.Column('changes', sa.JSON(), nullable=True))
    op.create_index('ix_order_transitions_tenant_actor_at', 'order_transitions', ['tenant_id', 'actor', 'at'], unique=False)
    op.add_column('orders', sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
    op.add_column('orders', sa.Column('revision_since', sa.DateTime(timezone=True), nullable=True))
    op.add_column('orders', sa.Column('pending_change_id', sa.String(length=36), nullable=True))
    op.add_column('orders', sa.Column('state_before_change', sa.String(length=40), nullable=True))
    op.add_column('orders', sa.Column('production_state', sa.String(length=40), nullable=True))
    # Lines are numbered 1, 2, … and keep their number across revisions (they were 0-based).
    op.execute("UPDATE order_lines SET line_no = line_no + 1")
    op.execute("UPDATE orders SET revision_since = created_at")


def downgrade() -> None:
    op.execute("UPDATE order_lines SET line_no = line_no - 1")
    op.drop_column('orders', 'production_state')
    op.drop_column('orders', 'state_before_change')
    op.drop_column('orders', 'pending_change_id')
    op.drop_column('orders', 'revision_since')
    op.drop_column('orders', 'revision')
    op.drop_index('ix_order_transitions_tenant_actor_at', table_name='order_transitions')
    op.drop_column('order_transitions', 'changes')
    op.drop_table('order_revisions')
    op.drop_index('ix_order_changes_tenant_order', table_name='order_changes')
    op.drop_table('order_changes')
