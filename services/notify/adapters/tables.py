"""The notify service's own database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from services.chassis.tables import UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("recipient_role", String(32), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("kind", String(40), nullable=False, server_default=""),
    Column("order_no", String(32), nullable=False, server_default=""),
    Column("urgent", Boolean(), nullable=False, server_default=false()),
    # false until the dispatcher has turned it into deliveries (one per channel of the recipient)
    Column("routed", Boolean(), nullable=False, server_default=false()),
    Index("ix_notifications_tenant_reference", "tenant_id", "reference"),
    Index("ix_notifications_unrouted", "tenant_id", "created_at", postgresql_where=text("NOT routed")),
)

# The delivery log: one row per notification and channel of its recipient, its state and when it
# is tried next; every try is a row of delivery_attempts. The dispatcher claims a due row
# (claimed_until) before sending, so two dispatchers never send one row twice.
deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("notification_id", String(36), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("urgent", Boolean(), nullable=False),
    # pending | sent | rejected (permanent) | failed (gave up) | undeliverable (no channel)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("held_reason", String(64), nullable=False, server_default=""),  # e.g. quiet hours
    Column("claimed_until", UtcDateTime(), nullable=True),
    Column("claim_id", String(36), nullable=True),  # the dispatcher round that holds it
    Column("detail", String(300), nullable=False, server_default=""),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    UniqueConstraint("notification_id", "channel", name="uq_delivery_per_channel"),
    Index("ix_deliveries_due", "tenant_id", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    Index("ix_deliveries_reference", "tenant_id", "reference"),
    Index("ix_deliveries_order", "tenant_id", "order_no"),
    Index("ix_deliveries_recipient", "tenant_id", "recipient", "created_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("attempt", Integer(), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # sent | rejected | failed
    Column("detail", String(300), nullable=False),
    Column("status", Integer(), nullable=True),  # HTTP status or SMTP reply code
    Column("code", Integer(), nullable=True),  # the platform's answer code
    Column("at", UtcDateTime(), nullable=False),
    Column("duration_ms", Integer(), nullable=False),
)

# Notify's own projection of work orders for the due-date check (it reads no other service's
# database): kept from production's events, version-aware (stage events by their sequence,
# revisions by their number), so a late or repeated event never moves it back.
watched_work_orders = Table(
    "watched_work_orders",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("work_order_id", String(36), primary_key=True),
    Column("work_order_no", String(64), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("workshop", String(32), nullable=False),
    Column("due_date", Date(), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("stage_sequence", BigInteger(), nullable=False, server_default="0"),
    Column("revision", Integer(), nullable=False, server_default="1"),
    Column("cancelled", Boolean(), nullable=False, server_default=false()),
    Column("updated_at", UtcDateTime(), nullable=False),
    # the check reads unfinished work only
    Index("ix_watched_unfinished", "tenant_id", "due_date", postgresql_where=text("NOT cancelled")),
)

# Whose an order is (order_created) and who owns a customer (customer_created / _updated): the
# sales owner told of a due-date risk.
order_customers = Table(
    "order_customers",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("order_id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    # OrderCreated.channel by its enum name ("CHANNEL_MARKETPLACE"); "" when not known
    Column("channel", String(32), nullable=False, server_default=""),
)
customer_owners = Table(
    "customer_owners",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("customer_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("sales_owner", String(64), nullable=False),
    Column("version", Integer(), nullable=False),
)

# Each due-date warning, once per (work order, threshold, due date): the unique key is what makes
# it once across restarts and several workers.
due_warnings = Table(
    "due_warnings",
    metadata,
    Column("warning_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("work_order_id", String(36), nullable=False),
    Column("work_order_no", String(64), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("threshold_hours", Float(), nullable=False),
    Column("due_date", Date(), nullable=False),
    Column("state", String(16), nullable=False),  # raised | withdrawn
    Column("recipients", Text(), nullable=False),  # JSON [name]
    Column("raised_at", UtcDateTime(), nullable=False),
    Column("withdrawn_at", UtcDateTime(), nullable=True),
    Column("withdraw_reason", String(32), nullable=False, server_default=""),
    Column("acknowledgements", Text(), nullable=False, server_default="[]"),  # JSON [[name, at]]
    UniqueConstraint("tenant_id", "work_order_id", "threshold_hours", "due_date", name="uq_due_warning_once"),
    Index("ix_due_warnings_open", "tenant_id", "state"),
)
