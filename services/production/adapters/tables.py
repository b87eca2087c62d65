"""The production service's own database."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
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

from services.chassis.tables import Id, UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

# Production's view of one order: the freeze while a change waits, the order version and revision
# last applied (events of one order arrive through several consumers, so staleness is judged here,
# per order, not per consumer), and the counter of the order's stage events. Its row is locked by
# every write to the order's work orders, which serialises the counter.
production_orders = Table(
    "production_orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("order_version", Integer, nullable=False),
    Column("revision", Integer, nullable=False, server_default=text("1")),
    Column("frozen", Boolean, nullable=False, server_default=false()),
    Column("change_id", String(36), nullable=False, server_default=""),
    Column("cancelled", Boolean, nullable=False, server_default=false()),
    Column("stage_sequence", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_production_orders_tenant_no", "tenant_id", "order_no"),
)

work_orders = Table(
    "work_orders",
    metadata,
    Column("work_order_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("work_order_no", String(48), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("workshop", String(32), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("order_version", Integer, nullable=False, server_default="1"),
    # Its position in the route (stamping 1, plating 2, assembly 3).
    Column("step", Integer, nullable=False, server_default=text("1")),
    Column("revision", Integer, nullable=False, server_default=text("1")),
    Column("order_revision", Integer, nullable=False, server_default=text("1")),
    Column("frozen", Boolean, nullable=False, server_default=false()),
    Column("cancelled", Boolean, nullable=False, server_default=false()),
    Column("good_quantity", BigInteger, nullable=False, server_default=text("0")),
    Column("scrap_quantity", BigInteger, nullable=False, server_default=text("0")),
    UniqueConstraint("tenant_id", "work_order_no", name="uq_work_orders_tenant_no"),
    Index("ix_work_orders_tenant_order", "tenant_id", "order_id"),
    Index("ix_work_orders_tenant_created", "tenant_id", "created_at"),
)

work_order_lines = Table(
    "work_order_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "work_order_id",
        String(36),
        ForeignKey("work_orders.work_order_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("line_no", Integer, nullable=False),
    Column("product_model", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("colour", String(32), nullable=False),
    Column("surface_treatment", String(32), nullable=False),
    Column("packaging", String(64), nullable=False, server_default=""),
    Column("order_line_no", Integer, nullable=False, server_default=text("0")),
)

# 报工: every stage report, as reported.
work_order_stage_reports = Table(
    "work_order_stage_reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column(
        "work_order_id",
        String(36),
        ForeignKey("work_orders.work_order_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("revision", Integer, nullable=False),
    Column("reported_at", UtcDateTime(), nullable=False),
    Column("reported_by", String(128), nullable=False),
    Column("from_stage", String(32), nullable=False),
    Column("to_stage", String(32), nullable=False),
    Column("good_quantity", BigInteger, nullable=False),
    Column("scrap_quantity", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Index("ix_work_order_stage_reports_wo", "work_order_id", "id"),
    # the board's 今日完工: the tenant's reports to one stage since a moment
    Index("ix_work_order_stage_reports_tenant_to_at", "tenant_id", "to_stage", "reported_at"),
)

# Superseded revisions of a work order, as they were (lines as JSON: read back, never queried).
work_order_revisions = Table(
    "work_order_revisions",
    metadata,
    Column(
        "work_order_id",
        String(36),
        ForeignKey("work_orders.work_order_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("revision", Integer, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("order_revision", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("superseded_at", UtcDateTime(), nullable=False),
    Column("change_id", String(36), nullable=False),
)

# 物料需求: what each revision of a work order needs, from the tenant's BOM.
work_order_requirements = Table(
    "work_order_requirements",
    metadata,
    Column(
        "work_order_id",
        String(36),
        ForeignKey("work_orders.work_order_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("revision", Integer, primary_key=True),
    Column("material", String(128), primary_key=True),
    Column("unit", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("quantity", Float, nullable=False),
)

# --- batch merging (合并批量生产) and the board: services/production/domain/batching.py, board.py ---

# Each approved order's demand per configuration: a candidate for merging until it is in a batch
# (batch_id) or its order is cancelled (cancelled_at). A merged candidate is the batch's link to
# the order it serves, quantity included.
merge_candidates = Table(
    "merge_candidates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("priority", String(32), nullable=False),
    Column("product_model", String(64), nullable=False),
    Column("surface_treatment", String(32), nullable=False),
    Column("colour", String(32), nullable=False),
    Column("packaging", String(64), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("approved_at", UtcDateTime(), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("batch_id", String(36), nullable=True),
    Column("cancelled_at", UtcDateTime(), nullable=True),
    UniqueConstraint(
        "tenant_id",
        "order_id",
        "product_model",
        "surface_treatment",
        "colour",
        "packaging",
        name="uq_merge_candidates_order_configuration",
    ),
    # the open group of one configuration, by approval time (every approval asks it)
    Index(
        "ix_merge_candidates_open",
        "tenant_id",
        "product_model",
        "surface_treatment",
        "colour",
        "packaging",
        "approved_at",
        postgresql_where=text("batch_id IS NULL AND cancelled_at IS NULL"),
        sqlite_where=text("batch_id IS NULL AND cancelled_at IS NULL"),
    ),
    Index("ix_merge_candidates_tenant_approved", "tenant_id", "approved_at"),  # the dry-run's period
    Index("ix_merge_candidates_batch", "batch_id"),
)

batch_tasks = Table(
    "batch_tasks",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("batch_no", String(48), nullable=False),
    Column("product_model", String(64), nullable=False),
    Column("surface_treatment", String(32), nullable=False),
    Column("colour", String(32), nullable=False),
    Column("packaging", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("tenant_id", "batch_no", name="uq_batch_tasks_tenant_no"),
    Index("ix_batch_tasks_tenant_created", "tenant_id", "created_at"),
)

# The board reads open work orders per workshop and stage, and unfinished ones by due date: two
# partial indexes keep both to the open rows however many shipped ones pile up (measured with
# EXPLAIN in bench/cases/board.py). The board's queries use these very predicates as SQL text.
OPEN_WORK = "NOT cancelled AND stage <> 'STAGE_SHIPPED'"
UNFINISHED_WORK = "NOT cancelled AND stage IN ('STAGE_TO_SCHEDULE', 'STAGE_IN_PROCESS')"
Index(
    "ix_work_orders_board_open",
    work_orders.c.tenant_id,
    work_orders.c.workshop,
    work_orders.c.stage,
    postgresql_where=text(OPEN_WORK),
    sqlite_where=text(OPEN_WORK),
)
Index(
    "ix_work_orders_board_due",
    work_orders.c.tenant_id,
    work_orders.c.due_date,
    work_orders.c.work_order_no,
    postgresql_include=["workshop"],
    postgresql_where=text(UNFINISHED_WORK),
    sqlite_where=text(UNFINISHED_WORK),
)
