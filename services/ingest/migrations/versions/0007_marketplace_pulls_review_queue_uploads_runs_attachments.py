"""marketplace pulls (shop checkpoints, platform orders, raw archive), the review queue, agent
uploads, runs for the ingest report, phone-form attachments and location

Revision ID: ingest_0007
Revises: ingest_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "ingest_0007"
down_revision = "ingest_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attachments',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'sha256')
    )
    op.create_table('buyer_links',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=8), nullable=False),
    sa.Column('shop', sa.String(length=64), nullable=False),
    sa.Column('buyer_id', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('linked_by', sa.String(length=64), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'platform', 'shop', 'buyer_id')
    )
    op.create_table('ingest_runs',
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=200), server_default='', nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('updated', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('duplicates', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('skipped', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rejected', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('review', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('cancelled', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('error', sa.String(length=300), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_index('ingest_runs_by_day', 'ingest_runs', ['tenant_id', 'day', 'started_at'], unique=False)
    op.create_table('market_orders',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=8), nullable=False),
    sa.Column('shop', sa.String(length=64), nullable=False),
    sa.Column('platform_order_id', sa.String(length=64), nullable=False),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('platform_status', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('order_id', sa.String(length=36), server_default='', nullable=False),
    sa.Column('order_no', sa.String(length=32), server_default='', nullable=False),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('left_out', sa.Text(), server_default='[]', nullable=False),
    sa.Column('note', sa.String(length=200), server_default='', nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'platform', 'shop', 'platform_order_id')
    )
    op.create_table('raw_payloads',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'source', 'source_ref', 'content_hash')
    )
    op.create_table('review_items',
    sa.Column('item_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('platform', sa.String(length=8), server_default='', nullable=False),
    sa.Column('shop', sa.String(length=64), server_default='', nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by', sa.String(length=64), server_default='', nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=200), server_default='', nullable=False),
    sa.Column('order_id', sa.String(length=36), server_default='', nullable=False),
    sa.Column('order_no', sa.String(length=32), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('item_id')
    )
    op.create_index('review_items_by_state', 'review_items', ['tenant_id', 'state', 'opened_at', 'item_id'], unique=False)
    op.create_index('review_items_one_open', 'review_items', ['tenant_id', 'source', 'platform', 'shop', 'external_id'], unique=True, postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))
    op.create_table('shop_checkpoints',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('shop', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=8), nullable=False),
    sa.Column('pulled_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_pull_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.String(length=300), server_default='', nullable=False),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'shop')
    )
    op.create_table('uploads',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('rows_ok', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rows_bad', sa.Integer(), server_default='0', nullable=False),
    sa.Column('orders', sa.Text(), server_default='[]', nullable=False),
    sa.Column('error_report', sa.LargeBinary(), nullable=True),
    sa.Column('refusal', sa.String(length=300), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'file_sha256')
    )
    op.add_column('intakes', sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('intakes', sa.Column('latitude', sa.Float(), nullable=True))
    op.add_column('intakes', sa.Column('longitude', sa.Float(), nullable=True))
    op.add_column('intakes', sa.Column('accuracy_m', sa.Float(), nullable=True))
    op.add_column('intakes', sa.Column('attachments', sa.Text(), server_default='[]', nullable=False))


def downgrade() -> None:
    op.drop_column('intakes', 'attachments')
    op.drop_column('intakes', 'accuracy_m')
    op.drop_column('intakes', 'longitude')
    op.drop_column('intakes', 'latitude')
    op.drop_column('intakes', 'signed_at')
    op.drop_table('uploads')
    op.drop_table('shop_checkpoints')
    op.drop_index('review_items_one_open', table_name='review_items', postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))
    op.drop_index('review_items_by_state', table_name='review_items')
    op.drop_table('review_items')
    op.drop_table('raw_payloads')
    op.drop_table('market_orders')
    op.drop_index('ingest_runs_by_day', table_name='ingest_runs')
    op.drop_table('ingest_runs')
    op.drop_table('buyer_links')
    op.drop_table('attachments')
