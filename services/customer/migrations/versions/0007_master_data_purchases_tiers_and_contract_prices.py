"""master data, purchases, tier history and contract prices

Customers gain tax id, contacts, delivery addresses, an active flag, a version and the day
cooperation began; tiers are counted from purchases. Existing customers become active at version
1, with cooperation_since that many years before the day they were registered (UTC: a migration
knows no tenant calendar) and their typed yearly purchases as an opening balance (期初) dated at
registration, which ages out 12 months after it like any purchase (the daily tier pass reassesses
them).

Revision ID: customer_0007
Revises: customer_0006
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = "customer_0007"
down_revision = "customer_0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _child(name: str, *columns: sa.schema.SchemaItem) -> None:
    op.create_table(
        name,
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(f"ix_{name}_customer_id", name, ["customer_id"], unique=False)


def upgrade() -> None:
    with op.batch_alter_table("customers") as b:
        b.add_column(sa.Column("tax_id", sa.String(length=18), nullable=False, server_default=""))
        b.add_column(sa.Column("cooperation_since", sa.Date(), nullable=True))
        b.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        b.add_column(
            sa.Column("deactivation_reason", sa.String(length=200), nullable=False, server_default="")
        )
        b.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        b.add_column(sa.Column("purchases_12m_fen", sa.BigInteger(), nullable=False, server_default="0"))
        b.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))

    conn = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("customer_id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("years_of_cooperation", sa.Integer),
        sa.column("yearly_purchases_cny", sa.BigInteger),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("cooperation_since", sa.Date),
        sa.column("purchases_12m_fen", sa.BigInteger),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    purchases = sa.table(
        "purchases",
        sa.column("customer_id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("order_id", sa.String),
        sa.column("order_no", sa.String),
        sa.column("amount_fen", sa.BigInteger),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
        sa.column("occurred_on", sa.Date),
        sa.column("recorded_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    opening = []
    for r in conn.execute(sa.select(customers)).all():
        registered = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
        day = registered.astimezone(UTC).date()
        conn.execute(
            sa.update(customers)
            .where(customers.c.customer_id == r.customer_id)
            .values(
                cooperation_since=_years_before(day, r.years_of_cooperation),
                purchases_12m_fen=r.yearly_purchases_cny * 100,
                updated_at=registered,
            )
        )
        if r.yearly_purchases_cny:
            opening.append(
                dict(
                    customer_id=r.customer_id,
                    tenant_id=r.tenant_id,
                    order_id=None,
                    order_no="",
                    amount_fen=r.yearly_purchases_cny * 100,
                    occurred_at=registered,
                    occurred_on=day,
                    recorded_at=now,
                )
            )

    with op.batch_alter_table("customers") as b:
        b.alter_column("cooperation_since", existing_type=sa.Date(), nullable=False)
        b.alter_column("updated_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        b.drop_column("yearly_purchases_cny")

    # Tables that refer to customers come after its last rebuild: SQLite rebuilds a table in batch
    # mode by dropping it, which would cascade to their rows.
    _child(
        "purchases",
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "order_id", name="uq_purchases_tenant_order"),
    )
    op.create_index(
        "ix_purchases_tenant_customer_day", "purchases", ["tenant_id", "customer_id", "occurred_on"]
    )

    if opening:
        conn.execute(sa.insert(purchases), opening)

    _child(
        "customer_contacts",
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("phone_digits", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
    )
    _child(
        "customer_addresses",
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
    )
    _child(
        "tier_changes",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_tier", sa.String(length=16), nullable=True),
        sa.Column("to_tier", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("reason_without_amounts", sa.String(length=400), nullable=False),
        sa.Column("purchases_12m_fen", sa.BigInteger(), nullable=False),
        sa.Column("years_of_cooperation", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "contract_prices",
        sa.Column("contract_price_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("scope_key", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("product_model", sa.String(length=64), nullable=False),
        sa.Column("unit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contract_price_id"),
        sa.UniqueConstraint(
            "tenant_id", "scope_key", "product_model", "valid_from", name="uq_contract_prices_entry"
        ),
    )


def downgrade() -> None:
    op.drop_table("contract_prices")
    for name in ("tier_changes", "customer_addresses", "customer_contacts"):
        op.drop_index(f"ix_{name}_customer_id", table_name=name)
        op.drop_table(name)
    with op.batch_alter_table("customers") as b:
        b.add_column(sa.Column("yearly_purchases_cny", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE customers SET yearly_purchases_cny = purchases_12m_fen / 100")
    op.drop_index("ix_purchases_tenant_customer_day", table_name="purchases")
    op.drop_index("ix_purchases_customer_id", table_name="purchases")
    op.drop_table("purchases")
    with op.batch_alter_table("customers") as b:
        for column in (
            "updated_at",
            "purchases_12m_fen",
            "version",
            "deactivation_reason",
            "active",
            "cooperation_since",
            "tax_id",
        ):
            b.drop_column(column)
