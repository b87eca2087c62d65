"""The ingest service's own database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from services.chassis.tables import UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

# A phone form, once per idempotency key (the phone's own).
intakes = Table(
    "intakes",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("idempotency_key", String(64), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("order_id", String(36), nullable=False),
    Column("order_no", String(32), nullable=False),
    Column("received_by", String(64), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("signed_at", UtcDateTime(), nullable=True),
    Column("latitude", Float(), nullable=True),
    Column("longitude", Float(), nullable=True),
    Column("accuracy_m", Float(), nullable=True),
    Column("attachments", Text(), nullable=False, server_default="[]"),  # JSON [{sha256, filename}]
)

# Signed contract scans and other files from the field, stored once per content hash.
attachments = Table(
    "attachments",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("content_type", String(64), nullable=False),
    Column("size", Integer(), nullable=False),
    Column("data", LargeBinary(), nullable=False),
    Column("stored_at", UtcDateTime(), nullable=False),
)

# Every record as received, before anything reads it (identical repeats are kept once).
raw_payloads = Table(
    "raw_payloads",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("source", String(16), primary_key=True),  # jd | pdd | tmall | upload | form
    Column("source_ref", String(200), primary_key=True),  # shop:order id, file hash:row, form key
    Column("content_hash", String(64), primary_key=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("payload", Text(), nullable=False),
)

# What ingest knows of each platform order (identity: platform, shop, platform order id).
market_orders = Table(
    "market_orders",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("platform", String(8), primary_key=True),
    Column("shop", String(64), primary_key=True),
    Column("platform_order_id", String(64), primary_key=True),
    Column("modified_at", UtcDateTime(), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("platform_status", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("order_id", String(36), nullable=False, server_default=""),
    Column("order_no", String(32), nullable=False, server_default=""),
    Column("record", Text(), nullable=False),  # the normalised order (JSON), raw included
    Column("left_out", Text(), nullable=False, server_default="[]"),  # refunded sub-orders (JSON)
    Column("note", String(200), nullable=False, server_default=""),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Orders a person must look at before they are made.
review_items = Table(
    "review_items",
    metadata,
    Column("item_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("source", String(16), nullable=False),  # marketplace | upload | form
    Column("platform", String(8), nullable=False, server_default=""),
    Column("shop", String(64), nullable=False, server_default=""),
    Column("external_id", String(200), nullable=False),  # platform order id, file hash:row
    Column("state", String(16), nullable=False),  # open | accepted | rejected | withdrawn
    Column("reasons", Text(), nullable=False),  # JSON [{code, message}]
    Column("raw", Text(), nullable=False),  # the full record as received (JSON)
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("resolved_by", String(64), nullable=False, server_default=""),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("note", String(200), nullable=False, server_default=""),
    Column("order_id", String(36), nullable=False, server_default=""),
    Column("order_no", String(32), nullable=False, server_default=""),
    Index(
        "review_items_one_open",
        "tenant_id",
        "source",
        "platform",
        "shop",
        "external_id",
        unique=True,
        postgresql_where=text("state = 'open'"),
        sqlite_where=text("state = 'open'"),
    ),
    Index("review_items_by_state", "tenant_id", "state", "opened_at", "item_id"),
)

# A buyer a person tied to a customer when resolving a review item: their next orders follow it.
buyer_links = Table(
    "buyer_links",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("platform", String(8), primary_key=True),
    Column("shop", String(64), primary_key=True),
    Column("buyer_id", String(128), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("linked_by", String(64), nullable=False),
    Column("linked_at", UtcDateTime(), nullable=False),
)

# Per shop: how far its orders have been pulled, and when it may be pulled next.
shop_checkpoints = Table(
    "shop_checkpoints",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("shop", String(64), primary_key=True),
    Column("platform", String(8), nullable=False),
    Column("pulled_until", UtcDateTime(), nullable=True),  # every change before it is in
    Column("next_pull_at", UtcDateTime(), nullable=False),
    Column("lease_until", UtcDateTime(), nullable=True),  # a replica is pulling it until then
    Column("failures", Integer(), nullable=False, server_default="0"),
    Column("last_error", String(300), nullable=False, server_default=""),
    Column("last_success_at", UtcDateTime(), nullable=True),
)

# One row per pull, upload, or day of phone forms: what came in and what became of it.
ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("source", String(16), nullable=False),  # marketplace | upload | form
    Column("ref", String(200), nullable=False, server_default=""),  # shop, file name
    Column("day", Date(), nullable=False),  # the plant's calendar day it started on
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("window_start", UtcDateTime(), nullable=True),
    Column("window_end", UtcDateTime(), nullable=True),
    Column("received", BigInteger(), nullable=False, server_default="0"),
    Column("created", BigInteger(), nullable=False, server_default="0"),
    Column("updated", BigInteger(), nullable=False, server_default="0"),
    Column("duplicates", BigInteger(), nullable=False, server_default="0"),
    Column("skipped", BigInteger(), nullable=False, server_default="0"),
    Column("rejected", BigInteger(), nullable=False, server_default="0"),
    Column("review", BigInteger(), nullable=False, server_default="0"),
    Column("cancelled", BigInteger(), nullable=False, server_default="0"),
    Column("error", String(300), nullable=False, server_default=""),
    Index("ingest_runs_by_day", "tenant_id", "day", "started_at"),
)

# An agent's spreadsheet, once per content hash: the same file twice creates nothing twice.
uploads = Table(
    "uploads",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("file_sha256", String(64), primary_key=True),
    Column("filename", String(200), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", UtcDateTime(), nullable=False),
    Column("state", String(16), nullable=False),  # processing | done | refused
    Column("run_id", String(36), nullable=False),
    Column("rows_ok", Integer(), nullable=False, server_default="0"),
    Column("rows_bad", Integer(), nullable=False, server_default="0"),
    Column("orders", Text(), nullable=False, server_default="[]"),  # JSON [{order_id, order_no, rows}]
    Column("error_report", LargeBinary(), nullable=True),
    Column("refusal", String(300), nullable=False, server_default=""),
    Column("data", LargeBinary(), nullable=True),  # the file as uploaded (the raw archive)
)
