"""Hot queries scoped by bound parameters follow the same rule as `scoped`: the caller's tenant,
and for a portal account its own customer, or no access at all to tables that are not a
customer's."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, bindparam, create_engine, insert, select

from services.chassis.errors import PermissionDenied
from services.chassis.identity import Identity, acting_as
from services.chassis.scoping import Scoped

metadata = MetaData()
orders = Table(
    "orders",
    metadata,
    Column("order_id", String, primary_key=True),
    Column("tenant_id", String),
    Column("customer_id", String),
    Column("colour", String),
)
stock = Table("stock", metadata, Column("model", String, primary_key=True), Column("tenant_id", String))
BY_COLOUR = Scoped(
    select(orders.c.order_id).where(orders.c.colour == bindparam("colour")), orders, "customer_id"
)
ALL_STOCK = Scoped(select(stock.c.model), stock)


@pytest.fixture
def conn():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(
            insert(orders),
            [
                {"order_id": "hw-midea", "tenant_id": "hardware", "customer_id": "midea", "colour": "银色"},
                {"order_id": "hw-gree", "tenant_id": "hardware", "customer_id": "gree", "colour": "银色"},
                {"order_id": "ap-byd", "tenant_id": "autoparts", "customer_id": "byd", "colour": "银色"},
            ],
        )
        c.execute(insert(stock), [{"model": "HB-2040", "tenant_id": "hardware"}])
    with engine.connect() as c:
        yield c


def found(conn, query: Scoped, **params) -> set[str]:
    return set(conn.execute(*query.bind(**params)).scalars())


def test_staff_see_their_tenants_rows_only(conn):
    with acting_as(Identity("hardware", "陈丽", frozenset({"sales"}))):
        assert found(conn, BY_COLOUR, colour="银色") == {"hw-midea", "hw-gree"}
    with acting_as(Identity("autoparts", "吴晓燕", frozenset({"sales"}))):
        assert found(conn, BY_COLOUR, colour="银色") == {"ap-byd"}


def test_a_portal_account_sees_its_own_customers_rows_only(conn):
    with acting_as(Identity("hardware", "portal", frozenset({"customer"}), customer_id="gree")):
        assert found(conn, BY_COLOUR, colour="银色") == {"hw-gree"}


def test_a_portal_account_is_refused_a_table_that_belongs_to_no_customer(conn):
    portal = Identity("hardware", "portal", frozenset({"customer"}), customer_id="gree")
    with acting_as(portal), pytest.raises(PermissionDenied):
        ALL_STOCK.bind()
    with acting_as(Identity("hardware", "陈丽", frozenset({"planner"}))):
        assert found(conn, ALL_STOCK) == {"HB-2040"}
