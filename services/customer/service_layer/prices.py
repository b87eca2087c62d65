"""Contract price use cases: set one entry, list a scope's entries, resolve an order's models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from services.chassis import identity
from services.chassis.errors import PermissionDenied
from services.chassis.paging import page_size
from services.customer.domain.model import Standing
from services.customer.domain.prices import (
    ContractPrice,
    ContractPriceSet,
    PriceScope,
    ResolvedPrice,
    check_entry,
    resolve,
)
from services.customer.domain.tiers import Tier
from services.customer.service_layer.handlers import Clock, UowFactory, utc_now


@dataclass(frozen=True)
class SetContractPrice:
    scope: PriceScope
    product_model: str
    unit_price_fen: int
    valid_from: date
    valid_to: date | None


def set_contract_price(cmd: SetContractPrice, uow: UowFactory, clock: Clock = utc_now) -> ContractPrice:
    entry = ContractPrice(
        contract_price_id=str(uuid.uuid4()),
        scope=cmd.scope,
        product_model=cmd.product_model,
        unit_price_fen=cmd.unit_price_fen,
        valid_from=cmd.valid_from,
        valid_to=cmd.valid_to,
        updated_by=identity.current().user,
        updated_at=clock(),
    )
    with uow() as tx:
        if cmd.scope.customer_id:
            tx.customers.get(cmd.scope.customer_id)  # NotFound for another tenant's customer
        tx.prices.lock(cmd.scope, cmd.product_model)
        check_entry(entry, tx.prices.entries(cmd.scope, cmd.product_model))
        tx.prices.put(entry)
        stored = tx.prices.find(cmd.scope, cmd.product_model, cmd.valid_from)
        tx.record(
            ContractPriceSet(
                stored.contract_price_id,
                cmd.scope.customer_id or "",
                cmd.scope.tier.value if cmd.scope.tier else "",
                cmd.product_model,
                cmd.valid_from.isoformat(),
                cmd.valid_to.isoformat() if cmd.valid_to else "",
            )
        )
        tx.commit()
        return stored


@dataclass(frozen=True)
class ListContractPrices:
    scope: PriceScope
    product_model: str = ""
    page_size: int = 0  # 0 = 100
    page_token: str = ""


def list_contract_prices(
    query: ListContractPrices, uow: UowFactory
) -> tuple[list[ContractPrice], str, Tier | None]:
    """A page of one scope's entries, and the customer's tier for a customer's scope (price
    visibility of a portal account depends on it). A portal account lists its own customer's."""
    if identity.current().customer_id and not query.scope.customer_id:
        raise PermissionDenied("a customer-portal account lists its own customer's contract prices only")
    with uow(read_only=True) as tx:
        tier = tx.customers.get(query.scope.customer_id).tier if query.scope.customer_id else None
        entries, token = tx.prices.list(
            query.scope,
            product_model=query.product_model,
            page_size=page_size(query.page_size, default=100),
            page_token=query.page_token,
        )
    return entries, token, tier


@dataclass(frozen=True)
class ResolveContractPrices:
    customer_id: str
    product_models: tuple[str, ...]
    on_date: date


def resolve_contract_prices(
    query: ResolveContractPrices, uow: UowFactory
) -> tuple[Standing, list[ResolvedPrice]]:
    with uow(read_only=True) as tx:
        customer = tx.customers.standing(query.customer_id)
        own, of_tier = PriceScope(customer_id=customer.customer_id), PriceScope(tier=customer.tier)
        entries = tx.prices.valid_on([own, of_tier], query.product_models, query.on_date)
    return customer, resolve(
        query.product_models,
        [e for e in entries if e.scope == own],
        [e for e in entries if e.scope == of_tier],
        query.on_date,
    )
