"""Customers through the public gRPC API only, for both run modes: master data with contacts,
optimistic versions, deactivation, search by phone, contract prices set and resolved, and a tier
C portal account that sees no prices and cannot read another customer."""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import grpc
from google.type import date_pb2

from oms.customer.v1 import customer_pb2 as pb
from tests.e2e.scenario import Api, Caller, bad_request_fields


def _refused(call, request, caller: Caller) -> tuple[grpc.StatusCode, set[str]]:
    try:
        call(request, metadata=caller.metadata())
    except grpc.RpcError as exc:
        return exc.code(), bad_request_fields(exc)
    raise AssertionError(f"{type(request).__name__} was accepted")


def _today() -> date_pb2.Date:
    # The tenant's day (its file's time zone), not the machine's: after 16:00 UTC they differ.
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return date_pb2.Date(year=today.year, month=today.month, day=today.day)


def check_customers(api: Api) -> None:
    sales = Caller("hardware", "陈丽", ("sales",))
    manager = Caller("hardware", "王经理", ("manager",))
    tag = uuid.uuid4().hex[:6].upper()
    phone = f"139 {random.randrange(10**4):04d} {random.randrange(10**4):04d}"
    c = api.customers

    # a tier C customer (one year, small purchases) with a buyer and a default address
    created = c.CreateCustomer(
        pb.CreateCustomerRequest(
            code=f"CS-{tag}",
            name="华顺五金贸易 Huashun Trading",
            sales_owner="周强",
            years_of_cooperation=1,
            yearly_purchases_cny=150_000,
            contacts=[pb.Contact(name="刘敏", phone=phone, role="采购 buyer")],
            addresses=[
                pb.DeliveryAddress(label="仓库 Warehouse", address="佛山市南海区桂城", is_default=True)
            ],
        ),
        metadata=sales.metadata(),
    ).customer
    assert (created.tier, created.version, created.active) == (pb.TIER_C, 1, True)
    assert [x.phone for x in created.contacts] == [phone]

    # a bad create names its fields; a stale update is ABORTED; a good one is version 2
    code, fields = _refused(
        c.CreateCustomer,
        pb.CreateCustomerRequest(code="cs lower", name="x", contacts=[pb.Contact(name="a", phone="x")]),
        sales,
    )
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, {"code", "contacts[0].phone"})
    update = pb.UpdateCustomerRequest(
        customer_id=created.customer_id,
        expected_version=1,
        name="华顺五金贸易 Huashun Trading (agent)",
        sales_owner="周强",
        contacts=list(created.contacts),
        addresses=list(created.addresses),
    )
    updated = c.UpdateCustomer(update, metadata=sales.metadata()).customer
    assert (updated.version, updated.name) == (2, "华顺五金贸易 Huashun Trading (agent)")
    assert _refused(c.UpdateCustomer, update, sales)[0] == grpc.StatusCode.ABORTED

    # found by its buyer's phone, with or without the spaces
    for query in (phone, phone.replace(" ", "")):
        found = c.ListCustomers(pb.ListCustomersRequest(query=query), metadata=sales.metadata()).customers
        assert [x.code for x in found] == [f"CS-{tag}"], query

    # contract prices: its own for one model, its tier's for another; resolved for an order
    model, other_model = f"HB-{tag} 铰链", f"BK-{tag} 支架"
    for scope in ({"customer_id": created.customer_id}, {"tier": pb.TIER_C}):
        c.SetContractPrice(
            pb.SetContractPriceRequest(
                product_model=model if "customer_id" in scope else other_model,
                unit_price_fen=85 if "customer_id" in scope else 40,
                valid_from=_today(),
                **scope,
            ),
            metadata=manager.metadata(),
        )
    resolved = c.ResolveContractPrices(
        pb.ResolveContractPricesRequest(
            customer_id=created.customer_id,
            product_models=[pb.PriceQuery(product_model=m) for m in (model, other_model, "SP-08")],
            on_date=_today(),
        ),
        metadata=Caller("hardware", "svc:order", ("service",)).metadata(),
    )
    assert (resolved.tier, resolved.active, resolved.prices_withheld) == (pb.TIER_C, True, False)
    assert [(p.source, p.unit_price_fen) for p in resolved.prices] == [
        (pb.PRICE_SOURCE_CUSTOMER, 85),
        (pb.PRICE_SOURCE_TIER, 40),
        (pb.PRICE_SOURCE_UNSPECIFIED, 0),
    ]

    # its tier C portal account: its own record and prices, every amount withheld
    portal = Caller("hardware", "门户 portal", ("customer",), customer_id=created.customer_id)
    own = c.GetCustomer(pb.GetCustomerRequest(customer_id=created.customer_id), metadata=portal.metadata())
    assert own.prices_withheld and own.customer.purchases_12m_fen == 0 and own.customer.code == f"CS-{tag}"
    prices = c.ListContractPrices(
        pb.ListContractPricesRequest(customer_id=created.customer_id), metadata=portal.metadata()
    )
    assert prices.prices_withheld and [
        (p.product_model, p.unit_price_fen) for p in prices.contract_prices
    ] == [(model, 0)]
    # ...and nothing of another customer's
    other = c.CreateCustomer(
        pb.CreateCustomerRequest(code=f"CS-{tag}-B", name="美的 Midea", years_of_cooperation=8),
        metadata=sales.metadata(),
    ).customer
    assert (
        _refused(c.GetCustomer, pb.GetCustomerRequest(customer_id=other.customer_id), portal)[0]
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        _refused(c.ListContractPrices, pb.ListContractPricesRequest(customer_id=other.customer_id), portal)[0]
        == grpc.StatusCode.NOT_FOUND
    )
    # another business line does not see it either
    assert (
        _refused(
            c.GetCustomer,
            pb.GetCustomerRequest(customer_id=created.customer_id),
            Caller("autoparts", "吴晓燕", ("sales",)),
        )[0]
        == grpc.StatusCode.NOT_FOUND
    )

    # deactivated: listed among the inactive, with its reason; versions keep counting
    off = c.DeactivateCustomer(
        pb.DeactivateCustomerRequest(
            customer_id=created.customer_id, expected_version=2, reason="停止合作 cooperation ended"
        ),
        metadata=sales.metadata(),
    ).customer
    assert (off.active, off.version, off.deactivation_reason) == (False, 3, "停止合作 cooperation ended")
    inactive = c.ListCustomers(
        pb.ListCustomersRequest(code=f"CS-{tag}", active=False), metadata=sales.metadata()
    ).customers
    assert [x.customer_id for x in inactive] == [created.customer_id]
    assert not c.ListCustomers(
        pb.ListCustomersRequest(code=f"CS-{tag}", active=True), metadata=sales.metadata()
    ).customers
    history = c.ListTierChanges(
        pb.ListTierChangesRequest(customer_id=created.customer_id), metadata=sales.metadata()
    ).changes
    assert [(h.from_tier, h.to_tier) for h in history] == [(pb.TIER_UNSPECIFIED, pb.TIER_C)]
