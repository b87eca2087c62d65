"""The identity service's own database."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, MetaData, String, Table, Text, UniqueConstraint

from services.chassis.tables import UtcDateTime, add_chassis_tables

metadata = MetaData()
add_chassis_tables(metadata)

users = Table(
    "users",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("user", String(64), nullable=False),
    # login_key(user): one account per canonical name in a tenant
    Column("login_key", String(255), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("roles", Text, nullable=False),  # JSON list
    Column("customer_id", String(36), nullable=False),
    Column("customer_code", String(32), nullable=False),
    # Argon2id, in the PHC string format (algorithm, parameters, salt and hash)
    Column("password_hash", String(200), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime()),
    Column("updated_by", String(64), nullable=False),
    Column("last_sign_in_at", UtcDateTime()),
    UniqueConstraint("tenant_id", "login_key", name="uq_users_tenant_login_key"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column(
        "user_id", String(36), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, index=True
    ),
    # SHA-256 of the refresh token's secret (hex): a copy of this table signs nobody in
    Column("refresh_hash", String(64), nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("client", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("refreshed_at", UtcDateTime()),
    Column("ended_at", UtcDateTime()),
    Column("end_reason", String(64), nullable=False),
)

# Failed sign-ins per user name, kept whether or not the name exists (answers must not tell).
sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("login_key", String(255), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UtcDateTime(), index=True),
)
