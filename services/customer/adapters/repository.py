"""Customers of the caller's tenant, with their contacts, delivery addresses and tier history; a
portal account sees only its own customer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Select, bindparam, delete, exists, insert, or_, select, update

from services.chassis import identity
from services.chassis.errors import NotFound, VersionConflict
from services.chassis.paging import decode_token, keyset_page, matching
from services.chassis.scoping import Scoped, scoped
from services.customer.adapters.tables import addresses, contacts, customers, tier_changes
from services.customer.domain.model import (
    Contact,
    Customer,
    DeliveryAddress,
    MasterData,
    Standing,
    Tier,
    TierChange,
)

_STANDING = Scoped(
    select(customers.c.customer_id, customers.c.tier, customers.c.active).where(
        customers.c.customer_id == bindparam("customer_id")
    ),
    customers,
    customer_column="customer_id",
)


class CustomerRepository:
    def __init__(self, db: Connection, track):
        self._db = db
        self._track = track
        self._loaded: dict[str, tuple[int, MasterData]] = {}  # id -> (version, data) as read

    def _scoped(self, query: Select) -> Select:
        return scoped(query, customers, customer_column="customer_id")

    def add(self, c: Customer) -> None:
        tenant = identity.current().tenant_id
        self._db.execute(insert(customers).values(tenant_id=tenant, code=c.code, **_columns(c)))
        self._write_children(c, tenant)
        self._write_tier_changes(c, tenant)
        self._loaded[c.customer_id] = (c.version, c.data)
        self._track(c)

    def get(self, customer_id: str, *, for_update: bool = False) -> Customer:
        """NotFound for a customer the caller may not see. `for_update` locks the row until the
        transaction ends (PostgreSQL), so two writers of one customer take turns."""
        query = self._scoped(select(customers).where(customers.c.customer_id == customer_id))
        row = self._db.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound(f"customer {customer_id} not found")
        return self._hydrate([row])[0]

    def standing(self, customer_id: str) -> Standing:
        """The customer's tier and whether it is active, in one prebuilt query: what an order's
        pricing needs, asked on every order (the whole record, with contacts and addresses, is not)."""
        row = self._db.execute(*_STANDING.bind(customer_id=customer_id)).first()
        if row is None:
            raise NotFound(f"customer {customer_id} not found")
        return Standing(row.customer_id, Tier(row.tier), row.active)

    def find_by_code(self, code: str) -> Customer | None:
        row = self._db.execute(self._scoped(select(customers).where(customers.c.code == code))).first()
        return self._hydrate([row])[0] if row else None

    def save(self, c: Customer) -> None:
        """Write a changed customer; VersionConflict if another writer changed it meanwhile."""
        tenant = identity.current().tenant_id
        version, data = self._loaded[c.customer_id]
        result = self._db.execute(
            update(customers)
            .where(
                customers.c.customer_id == c.customer_id,
                customers.c.tenant_id == tenant,
                customers.c.version == version,
            )
            .values(**_columns(c))
        )
        if result.rowcount != 1:
            raise VersionConflict(f"customer {c.code} was changed by someone else; reload it")
        if c.data.contacts != data.contacts or c.data.addresses != data.addresses:
            for table in (contacts, addresses):
                self._db.execute(delete(table).where(table.c.customer_id == c.customer_id))
            self._write_children(c, tenant)
        self._write_tier_changes(c, tenant)
        self._loaded[c.customer_id] = (c.version, c.data)

    def tier_history(self, customer_id: str) -> list[TierChange]:
        """Newest first; NotFound for a customer the caller may not see."""
        self.get(customer_id)
        rows = self._db.execute(
            select(tier_changes)
            .where(
                tier_changes.c.tenant_id == identity.current().tenant_id,
                tier_changes.c.customer_id == customer_id,
            )
            .order_by(tier_changes.c.id.desc())
        )
        return [
            TierChange(
                Tier(r.from_tier) if r.from_tier else None,
                Tier(r.to_tier),
                r.reason,
                r.reason_without_amounts,
                r.purchases_12m_fen,
                r.years_of_cooperation,
                r.at,
                r.version,
            )
            for r in rows
        ]

    def _write_children(self, c: Customer, tenant: str) -> None:
        own = {"customer_id": c.customer_id, "tenant_id": tenant}
        if c.data.contacts:
            self._db.execute(
                insert(contacts),
                [
                    {**own, "position": i, "name": x.name, "phone": x.phone, "role": x.role}
                    | {"phone_digits": _digits(x.phone)}
                    for i, x in enumerate(c.data.contacts)
                ],
            )
        if c.data.addresses:
            self._db.execute(
                insert(addresses),
                [
                    {
                        **own,
                        "position": i,
                        "label": x.label,
                        "address": x.address,
                        "receiver": x.receiver,
                        "phone": x.phone,
                        "is_default": x.is_default,
                    }
                    for i, x in enumerate(c.data.addresses)
                ],
            )

    def _write_tier_changes(self, c: Customer, tenant: str) -> None:
        if not c.tier_changes:
            return
        self._db.execute(
            insert(tier_changes),
            [
                {
                    "customer_id": c.customer_id,
                    "tenant_id": tenant,
                    "version": t.version,
                    "from_tier": t.from_tier.value if t.from_tier else None,
                    "to_tier": t.to_tier.value,
                    "reason": t.reason,
                    "reason_without_amounts": t.reason_without_amounts,
                    "purchases_12m_fen": t.purchases_12m_fen,
                    "years_of_cooperation": t.years_of_cooperation,
                    "at": t.at,
                }
                for t in c.tier_changes
            ],
        )
        c.tier_changes.clear()

    def _hydrate(self, rows: Sequence) -> list[Customer]:
        ids = [r.customer_id for r in rows]
        people: dict[str, list[Contact]] = {i: [] for i in ids}
        places: dict[str, list[DeliveryAddress]] = {i: [] for i in ids}
        if ids:
            for x in self._db.execute(_children_of(contacts, ids)):
                people[x.customer_id].append(Contact(x.name, x.phone, x.role))
            for x in self._db.execute(_children_of(addresses, ids)):
                places[x.customer_id].append(
                    DeliveryAddress(x.label, x.address, x.receiver, x.phone, x.is_default)
                )
        out = []
        for r in rows:
            data = MasterData(
                name=r.name,
                sales_owner=r.sales_owner,
                cooperation_since=r.cooperation_since,
                tax_id=r.tax_id,
                contacts=tuple(people[r.customer_id]),
                addresses=tuple(places[r.customer_id]),
            )
            c = Customer(
                customer_id=r.customer_id,
                code=r.code,
                data=data,
                tier=Tier(r.tier),
                years_of_cooperation=r.years_of_cooperation,
                purchases_12m_fen=r.purchases_12m_fen,
                created_at=r.created_at,
                updated_at=r.updated_at,
                active=r.active,
                version=r.version,
                deactivation_reason=r.deactivation_reason,
            )
            self._loaded[c.customer_id] = (c.version, data)
            self._track(c)
            out.append(c)
        return out

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(
        self,
        *,
        query: str = "",
        code: str = "",
        active: bool | None = None,
        page_size: int,
        page_token: str = "",
    ) -> tuple[list[Customer], str]:
        """One keyset page ordered by code (unique in a tenant). `query` is found anywhere in
        the name, the code or a contact's phone, ignoring case, matched literally (no wildcards);
        text that could be a phone number also matches phones with other separators."""
        select_ = self._scoped(select(customers))
        if code:
            select_ = select_.where(customers.c.code == code)
        if active is not None:
            select_ = select_.where(customers.c.active == active)
        if query:
            select_ = select_.where(_matches(query))
        if page_token:
            (after,) = decode_token(page_token, _CODE)
            select_ = select_.where(customers.c.code > after)
        rows = self._db.execute(select_.order_by(customers.c.code).limit(page_size + 1)).all()
        page, token = keyset_page(rows, page_size, lambda r: (r.code,))
        return self._hydrate(page), token


_CODE = matching(r"[A-Z0-9][A-Z0-9_-]{0,31}")
_PHONE_TEXT = re.compile(r"\+?[0-9 ()-]+")


def _columns(c: Customer) -> dict:
    """The customers row of `c`, without tenant and code (fixed once registered)."""
    return dict(
        customer_id=c.customer_id,
        name=c.data.name,
        tax_id=c.data.tax_id,
        sales_owner=c.data.sales_owner,
        cooperation_since=c.data.cooperation_since,
        active=c.active,
        deactivation_reason=c.deactivation_reason,
        version=c.version,
        tier=c.tier.value,
        years_of_cooperation=c.years_of_cooperation,
        purchases_12m_fen=c.purchases_12m_fen,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _children_of(table, ids: Iterable[str]) -> Select:
    return select(table).where(table.c.customer_id.in_(list(ids))).order_by(table.c.position)


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _matches(query: str):
    pattern = "%" + _escape_like(query) + "%"
    phone = exists().where(
        contacts.c.customer_id == customers.c.customer_id, contacts.c.phone.ilike(pattern, escape="\\")
    )
    found = [
        customers.c.name.ilike(pattern, escape="\\"),
        customers.c.code.ilike(pattern, escape="\\"),
        phone,
    ]
    digits = _digits(query)
    if _PHONE_TEXT.fullmatch(query) and len(digits) >= 3:
        found.append(
            exists().where(
                contacts.c.customer_id == customers.c.customer_id,
                contacts.c.phone_digits.contains(digits, autoescape=True),
            )
        )
    return or_(*found)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
