"""The customer service's proto messages in and out: requests become commands, domain objects
become replies. Price fields leave zeroed when the caller may not see prices."""

from __future__ import annotations

from oms.customer.v1 import customer_pb2
from services.chassis.fields import date_to_proto, optional_date_from_proto, timestamp_of
from services.customer.domain.model import Contact, Customer, DeliveryAddress, TierChange
from services.customer.domain.prices import ContractPrice, PriceScope, ResolvedPrice
from services.customer.domain.tiers import FEN_PER_CNY, Tier
from services.customer.service_layer.handlers import EditableFields


def editable_fields(request) -> EditableFields:
    """The editable fields of a CreateCustomerRequest or an UpdateCustomerRequest."""
    return EditableFields(
        name=request.name,
        sales_owner=request.sales_owner,
        tax_id=request.tax_id,
        contacts=tuple(Contact(x.name, x.phone, x.role) for x in request.contacts),
        addresses=tuple(
            DeliveryAddress(x.label, x.address, x.receiver, x.phone, x.is_default) for x in request.addresses
        ),
        cooperation_since=optional_date_from_proto(request, "cooperation_since"),
    )


def scope_of(request) -> PriceScope:
    """The `scope` oneof of a contract-price request (the contract makes one of them required)."""
    if request.WhichOneof("scope") == "customer_id":
        return PriceScope(customer_id=request.customer_id)
    return PriceScope(tier=Tier(customer_pb2.Tier.Name(request.tier)))


def tier_to_proto(tier: Tier | None) -> customer_pb2.Tier:
    return customer_pb2.Tier.Value(tier.value) if tier else customer_pb2.TIER_UNSPECIFIED


def customer_to_proto(c: Customer, *, withheld: bool = False) -> customer_pb2.Customer:
    fen = 0 if withheld else c.purchases_12m_fen
    return customer_pb2.Customer(
        customer_id=c.customer_id,
        code=c.code,
        name=c.name,
        tier=tier_to_proto(c.tier),
        years_of_cooperation=c.years_of_cooperation,
        yearly_purchases_cny=fen // FEN_PER_CNY,
        sales_owner=c.sales_owner,
        created_at=timestamp_of(c.created_at),
        tax_id=c.data.tax_id,
        contacts=[customer_pb2.Contact(name=x.name, phone=x.phone, role=x.role) for x in c.data.contacts],
        addresses=[
            customer_pb2.DeliveryAddress(
                label=x.label, address=x.address, receiver=x.receiver, phone=x.phone, is_default=x.is_default
            )
            for x in c.data.addresses
        ],
        active=c.active,
        version=c.version,
        cooperation_since=date_to_proto(c.data.cooperation_since),
        updated_at=timestamp_of(c.updated_at),
        purchases_12m_fen=fen,
        deactivation_reason=c.deactivation_reason,
    )


def tier_change_to_proto(t: TierChange, *, withheld: bool = False) -> customer_pb2.TierChange:
    return customer_pb2.TierChange(
        from_tier=tier_to_proto(t.from_tier),
        to_tier=tier_to_proto(t.to_tier),
        reason=t.reason_without_amounts if withheld else t.reason,
        purchases_12m_fen=0 if withheld else t.purchases_12m_fen,
        years_of_cooperation=t.years_of_cooperation,
        at=timestamp_of(t.at),
        version=t.version,
    )


def contract_price_to_proto(p: ContractPrice, *, withheld: bool = False) -> customer_pb2.ContractPrice:
    return customer_pb2.ContractPrice(
        contract_price_id=p.contract_price_id,
        customer_id=p.scope.customer_id,
        tier=tier_to_proto(p.scope.tier),
        product_model=p.product_model,
        unit_price_fen=0 if withheld else p.unit_price_fen,
        valid_from=date_to_proto(p.valid_from),
        valid_to=date_to_proto(p.valid_to) if p.valid_to else None,
        updated_by=p.updated_by,
        updated_at=timestamp_of(p.updated_at),
    )


def resolved_to_proto(r: ResolvedPrice, *, withheld: bool = False) -> customer_pb2.ResolvedPrice:
    if r.entry is None or r.source is None:
        return customer_pb2.ResolvedPrice(product_model=r.product_model)
    e = r.entry
    return customer_pb2.ResolvedPrice(
        product_model=r.product_model,
        source=customer_pb2.PriceSource.Value(r.source.value),
        unit_price_fen=0 if withheld else e.unit_price_fen,
        contract_price_id=e.contract_price_id,
        valid_from=date_to_proto(e.valid_from),
        valid_to=date_to_proto(e.valid_to) if e.valid_to else None,
    )
