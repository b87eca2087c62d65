"""Customers of the caller's tenant; a portal account sees only its own customer."""

from __future__ import annotations

from sqlalchemy import Connection, Select, insert, or_, select

from services.chassis import identity
from services.chassis.errors import NotFound
from services.chassis.paging import decode_token, encode_token, matching
from services.chassis.scoping import scoped
from services.customer.adapters.tables import customers
from services.customer.domain.model import Customer, Tier


class CustomerRepository:
    def __init__(self, db: Connection, track):
        self._db = db
        self._track = track

    def _scoped(self, query: Select) -> Select:
        return scoped(query, customers, customer_column="customer_id")

    def add(self, c: Customer) -> None:
        self._db.execute(
            insert(customers).values(
                customer_id=c.customer_id,
                tenant_id=identity.current().tenant_id,
                code=c.code,
                name=c.name,
                tier=c.tier.value,
                years_of_cooperation=c.years_of_cooperation,
                yearly_purchases_cny=c.yearly_purchases_cny,
                sales_owner=c.sales_owner,
                created_at=c.created_at,
            )
        )
        self._track(c)

    def get(self, customer_id: str) -> Customer:
        row = self._db.execute(
            self._scoped(select(customers).where(customers.c.customer_id == customer_id))
        ).first()
        if row is None:
            raise NotFound(f"customer {customer_id} not found")
        return _hydrate(row)

    def find_by_code(self, code: str) -> Customer | None:
        row = self._db.execute(self._scoped(select(customers).where(customers.c.code == code))).first()
        return _hydrate(row) if row else None

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(
        self, *, query: str = "", code: str = "", page_size: int, page_token: str = ""
    ) -> tuple[list[Customer], str]:
        """One keyset page ordered by code (unique in a tenant); `query` is found anywhere in the
        name or the code, ignoring case, and is matched literally (no wildcards)."""
        select_ = self._scoped(select(customers))
        if code:
            select_ = select_.where(customers.c.code == code)
        if query:
            pattern = "%" + _escape_like(query) + "%"
            select_ = select_.where(
                or_(
                    customers.c.name.ilike(pattern, escape="\\"),
                    customers.c.code.ilike(pattern, escape="\\"),
                )
            )
        if page_token:
            (after,) = decode_token(page_token, _CODE)
            select_ = select_.where(customers.c.code > after)
        rows = self._db.execute(select_.order_by(customers.c.code).limit(page_size + 1)).all()
        more = len(rows) > page_size
        rows = rows[:page_size]
        token = encode_token(rows[-1].code) if more and rows else ""
        return [_hydrate(r) for r in rows], token


_CODE = matching(r"[A-Z0-9][A-Z0-9_-]{0,31}")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _hydrate(r) -> Customer:
    return Customer(
        r.customer_id,
        r.code,
        r.name,
        Tier(r.tier),
        r.years_of_cooperation,
        r.yearly_purchases_cny,
        r.sales_owner,
        r.created_at,
    )
