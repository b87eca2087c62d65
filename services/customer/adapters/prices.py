"""Contract prices of the caller's tenant. A portal account sees its own customer's entries only
(a tier's entries belong to no customer: it sees none of them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Connection, Select, and_, or_, select, text, update
from sqlalchemy import insert as sql_insert

from services.chassis import identity
from services.chassis.paging import day_part, decode_token, keyset_page
from services.chassis.scoping import scoped
from services.customer.adapters.tables import contract_prices
from services.customer.domain.prices import ContractPrice, PriceScope
from services.customer.domain.tiers import Tier

t = contract_prices


class ContractPriceRepository:
    def __init__(self, db: Connection):
        self._db = db

    def _scoped(self, query: Select) -> Select:
        return scoped(query, t, customer_column="customer_id")

    def lock(self, scope: PriceScope, product_model: str) -> None:
        """Writers of one scope and model take turns until their transactions end, so two
        overlapping windows set at once cannot both pass the overlap check (PostgreSQL; SQLite
        has one writer at a time anyway)."""
        if self._db.dialect.name == "postgresql":
            key = f"contract_price|{identity.current().tenant_id}|{scope.key}|{product_model}"
            self._db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})

    def entries(self, scope: PriceScope, product_model: str) -> list[ContractPrice]:
        """Every entry of one scope and model, by valid_from."""
        query = self._scoped(select(t)).where(t.c.scope_key == scope.key, t.c.product_model == product_model)
        return [_hydrate(r) for r in self._db.execute(query.order_by(t.c.valid_from))]

    def put(self, entry: ContractPrice) -> None:
        """Insert, or replace the entry of the same scope, model and valid_from (keeping its id)."""
        tenant = identity.current().tenant_id
        values = dict(
            unit_price_fen=entry.unit_price_fen,
            valid_to=entry.valid_to,
            updated_by=entry.updated_by,
            updated_at=entry.updated_at,
        )
        replaced = self._db.execute(
            update(t)
            .where(
                t.c.tenant_id == tenant,
                t.c.scope_key == entry.scope.key,
                t.c.product_model == entry.product_model,
                t.c.valid_from == entry.valid_from,
            )
            .values(**values)
        ).rowcount
        if not replaced:
            self._db.execute(
                sql_insert(t).values(
                    contract_price_id=entry.contract_price_id,
                    tenant_id=tenant,
                    scope_key=entry.scope.key,
                    customer_id=entry.scope.customer_id or None,
                    tier=entry.scope.tier.value if entry.scope.tier else None,
                    product_model=entry.product_model,
                    valid_from=entry.valid_from,
                    **values,
                )
            )

    def find(self, scope: PriceScope, product_model: str, valid_from: date) -> ContractPrice:
        query = self._scoped(select(t)).where(
            t.c.scope_key == scope.key, t.c.product_model == product_model, t.c.valid_from == valid_from
        )
        return _hydrate(self._db.execute(query).one())

    def valid_on(self, scopes: Sequence[PriceScope], models: Sequence[str], day: date) -> list[ContractPrice]:
        """The entries of these scopes for these models that cover `day`."""
        query = self._scoped(select(t)).where(
            t.c.scope_key.in_([s.key for s in scopes]),
            t.c.product_model.in_(sorted(set(models))),
            t.c.valid_from <= day,
            or_(t.c.valid_to.is_(None), t.c.valid_to >= day),
        )
        return [_hydrate(r) for r in self._db.execute(query)]

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(
        self, scope: PriceScope, *, product_model: str = "", page_size: int, page_token: str = ""
    ) -> tuple[list[ContractPrice], str]:
        """One keyset page ordered by (product_model, valid_from), unique within a scope."""
        query = self._scoped(select(t)).where(t.c.scope_key == scope.key)
        if product_model:
            query = query.where(t.c.product_model == product_model)
        if page_token:
            model, day = decode_token(page_token, _hex_text, day_part)
            query = query.where(
                or_(t.c.product_model > model, and_(t.c.product_model == model, t.c.valid_from > day))
            )
        rows = self._db.execute(query.order_by(t.c.product_model, t.c.valid_from).limit(page_size + 1)).all()
        page, token = keyset_page(
            rows, page_size, lambda r: (r.product_model.encode().hex(), r.valid_from.isoformat())
        )
        return [_hydrate(r) for r in page], token


def _hex_text(part: str) -> str:
    """A product model in a page token: hex of its UTF-8 (a model may hold the token's "|")."""
    value = bytes.fromhex(part).decode("utf-8")
    if not 0 < len(value) <= 64:
        raise ValueError("not a product model")
    return value


def _hydrate(r) -> ContractPrice:
    scope = PriceScope(customer_id=r.customer_id) if r.customer_id else PriceScope(tier=Tier(r.tier))
    return ContractPrice(
        contract_price_id=r.contract_price_id,
        scope=scope,
        product_model=r.product_model,
        unit_price_fen=r.unit_price_fen,
        valid_from=r.valid_from,
        valid_to=r.valid_to,
        updated_by=r.updated_by,
        updated_at=r.updated_at,
    )
