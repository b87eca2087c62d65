"""order lifecycle history

Revision ID: order_0007
Revises: order_0006
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "order_0007"
down_revision = 'order_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_transitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=40), nullable=True),
    sa.Column('to_state', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.order_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id', 'version', name='uq_order_transitions_order_version')
    )
    op.create_index('ix_order_transitions_tenant_order', 'order_transitions', ['tenant_id', 'order_id', 'version'], unique=False)
    # Orders made before the history existed get the steps their columns still tell: created
    # (version 1) and, if approved, approved (version 2).
    op.execute(
        "INSERT INTO order_transitions (order_id, tenant_id, version, action, from_state, to_state,"
        " actor, at, reason) SELECT order_id, tenant_id, 1, 'create', NULL,"
        " 'ORDER_STATE_PENDING_APPROVAL', created_by, created_at, '' FROM orders"
    )
    op.execute(
        "INSERT INTO order_transitions (order_id, tenant_id, version, action, from_state, to_state,"
        " actor, at, reason) SELECT order_id, tenant_id, 2, 'approve', 'ORDER_STATE_PENDING_APPROVAL',"
        " 'ORDER_STATE_APPROVED', approved_by, approved_at, '' FROM orders"
        " WHERE state = 'ORDER_STATE_APPROVED' AND approved_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index('ix_order_transitions_tenant_order', table_name='order_transitions')
    op.drop_table('order_transitions')
