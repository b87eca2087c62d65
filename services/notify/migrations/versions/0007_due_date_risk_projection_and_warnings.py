"""due-date risk: notify's projection of work orders, orders' customers and customers' sales
owners, and the warnings raised (once per work order, threshold and due date)

Revision ID: notify_0007
Revises: notify_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0007"
down_revision = "notify_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_owners',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sales_owner', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id')
    )
    op.create_table('due_warnings',
    sa.Column('warning_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('work_order_id', sa.String(length=36), nullable=False),
    sa.Column('work_order_no', sa.String(length=64), nullable=False),
    sa.Column('order_no', sa.String(length=32), nullable=False),
    sa.Column('threshold_hours', sa.Float(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdraw_reason', sa.String(length=32), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('warning_id'),
    sa.UniqueConstraint('tenant_id', 'work_order_id', 'threshold_hours', 'due_date', name='uq_due_warning_once')
    )
    op.create_index('ix_due_warnings_open', 'due_warnings', ['tenant_id', 'state'], unique=False)
    op.create_table('order_customers',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'order_id')
    )
    op.create_table('watched_work_orders',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('work_order_id', sa.String(length=36), nullable=False),
    sa.Column('work_order_no', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('order_no', sa.String(length=32), nullable=False),
    sa.Column('workshop', sa.String(length=32), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('stage_sequence', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
    sa.Column('cancelled', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'work_order_id')
    )
    op.create_index('ix_watched_unfinished', 'watched_work_orders', ['tenant_id', 'due_date'], unique=False, postgresql_where=sa.text('NOT cancelled'))


def downgrade() -> None:
    op.drop_index('ix_watched_unfinished', table_name='watched_work_orders', postgresql_where=sa.text('NOT cancelled'))
    op.drop_table('watched_work_orders')
    op.drop_table('order_customers')
    op.drop_index('ix_due_warnings_open', table_name='due_warnings')
    op.drop_table('due_warnings')
    op.drop_table('customer_owners')
