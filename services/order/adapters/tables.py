"""The order service's own database."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from services.chassis.tables import Id, UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("priority", String(32), nullable=False),
    Column("state", String(40), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("approved_by", String(64), nullable=False, default=""),
    Column("approved_at", UtcDateTime()),
    Column("request_id", String(64)),
    # 版本: the content's revision (+1 per approved change) and since when it is in force.
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("revision_since", UtcDateTime()),
    # Change control: the pending change, and the state a decided change returns the order to.
    Column("pending_change_id", String(36)),
    Column("state_before_change", String(40)),
    # The state production last reported (the order's least advanced work order).
    Column("production_state", String(40)),
    Column("delivery_address", String(200), nullable=False, server_default=""),
    Column("custom_fields", JSON),  # {key: normalised value} of the tenant's [custom_fields]
    # Typed prices off the contract beyond the tenant's tolerance ([{line_no, ...}]): approval
    # needs a manager.
    Column("price_deviations", JSON),
    Column("delivery_batches", JSON),  # [{batch_no, due_date, lines, cancelled}] (分批交货)
    # Inventory's answer at approval: accepted short of materials by an override (the approve
    # step in order_transitions says who, why and what), hard-locked by a tenant rule.
    Column("materials_short", Boolean, nullable=False, server_default="false"),
    Column("materials_locked", Boolean, nullable=False, server_default="false"),
    Column("lock_rule", String(64), nullable=False, server_default=""),
    UniqueConstraint("tenant_id", "order_no", name="uq_orders_tenant_order_no"),
    UniqueConstraint("tenant_id", "request_id", name="uq_orders_tenant_request_id"),
    # The board's question: a tenant's orders in one state, by due date (keyset pages).
    Index("ix_orders_tenant_state_due", "tenant_id", "state", "due_date", "order_id"),
    Index("ix_orders_tenant_due", "tenant_id", "due_date", "order_id"),
    # A customer's orders (its portal accounts list nothing else), by due date.
    Index("ix_orders_tenant_customer_due", "tenant_id", "customer_id", "due_date", "order_id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "order_id", String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("tenant_id", String(64), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("product_model", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("colour", String(32), nullable=False),
    Column("surface_treatment", String(32), nullable=False),
    Column("workshop", String(32), nullable=False),
    Column("unit_price_fen", Id, nullable=False),
    Column("packaging", String(64), nullable=False, server_default=""),
    Column("route", JSON),  # the workshops in sequence (from the tenant's routing)
)

# An order's lifecycle steps (services/order/domain/lifecycle.py), one row per version: who moved
# it from which state to which, when and why. The delivery-cycle KPI reads the timestamps.
order_transitions = Table(
    "order_transitions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(40)),
    Column("to_state", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("reason", String(200), nullable=False),
    # The audit trail's "before and after": [{path, label, before, after}] (a change's diff).
    Column("changes", JSON),
    # One step per version: two concurrent steps from the same version cannot both be stored.
    UniqueConstraint("order_id", "version", name="uq_order_transitions_order_version"),
    Index("ix_order_transitions_tenant_order", "tenant_id", "order_id", "version"),
    # The audit trail of one user, by time.
    Index("ix_order_transitions_tenant_actor_at", "tenant_id", "actor", "at"),
)

# An order's revisions (版本历史) once it has been changed: each with its whole content, when it
# took effect (it lasts until the next one's valid_from) and the change that made it. Written by
# the first approved change (revision 1 and 2) and each one after; an order never changed has
# none here: its only revision is the order's own row and lines.
order_revisions = Table(
    "order_revisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("content", JSON, nullable=False),
    Column("valid_from", UtcDateTime(), nullable=False),
    # The change that made this revision (none for revision 1).
    Column("change_id", String(36)),
    Column("reason", String(200), nullable=False),
    Column("approved_by", String(64), nullable=False),
    Column("diff", JSON, nullable=False),
    UniqueConstraint("order_id", "revision", name="uq_order_revisions_order_revision"),
)

# Change requests with their proposal, diff and impact (stored when asked, shown to approvers).
order_changes = Table(
    "order_changes",
    metadata,
    Column("change_id", String(36), primary_key=True),
    Column("order_id", String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("base_revision", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("proposed", JSON),  # null: the change cancels the order
    Column("diff", JSON, nullable=False),
    Column("impact", JSON, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("decided_by", String(64), nullable=False, default=""),
    Column("decided_at", UtcDateTime()),
    Column("decision_note", String(200), nullable=False, default=""),
    Index("ix_order_changes_tenant_order", "tenant_id", "order_id", "requested_at"),
)

# 售后申请: a customer's after-sales requests, each about one of its orders.
after_sales_requests = Table(
    "after_sales_requests",
    metadata,
    Column("after_sales_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("order_id", String(36), ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("submitted_by", String(64), nullable=False),
    Column("submitted_at", UtcDateTime(), nullable=False),
    Column("request_id", String(64), nullable=False),
    UniqueConstraint("tenant_id", "request_id", name="uq_after_sales_tenant_request_id"),
    Index("ix_after_sales_customer", "tenant_id", "customer_id", "submitted_at"),
    Index("ix_after_sales_order", "order_id"),
)

# The stage of each work order of its orders, from production's stage reports (one work order
# per workshop of an order: each line's route says which of them make it), for the progress of
# each line (ListOrderProgress). Never read from production's database.
work_order_progress = Table(
    "work_order_progress",
    metadata,
    Column("work_order_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("order_id", String(36), nullable=False, index=True),
    Column("work_order_no", String(64), nullable=False),
    Column("workshop", String(32), nullable=False),
    Column("stage", String(32), nullable=False),
)
