"""gRPC API of the customer service: translate, call the handler, translate back, withholding
prices from a caller who may not see them (services/price_visibility.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from oms.customer.v1 import customer_pb2 as pb
from oms.customer.v1 import customer_pb2_grpc
from services.chassis import identity
from services.chassis.fields import date_from_proto, optional_date_from_proto
from services.chassis.tenants import Tenant
from services.customer import messages as m
from services.customer.domain.model import Customer
from services.customer.domain.tiers import Tier, TierThresholds
from services.customer.service_layer import handlers, prices
from services.customer.service_layer.handlers import TenantRules
from services.price_visibility import may_see_prices

_R = TypeVar("_R", bound=Any)  # a reply message with `customer` and `prices_withheld`


def tenant_rules(tenant: Tenant) -> TenantRules:
    tiers = tenant.customer_tiers
    return TenantRules(
        TierThresholds(
            a_min_years=tiers.a_min_years,
            a_min_yearly_cny=tiers.a_min_yearly_cny,
            b_min_years=tiers.b_min_years,
            b_min_yearly_cny=tiers.b_min_yearly_cny,
        ),
        tenant.tz,
    )


class CustomerApi(customer_pb2_grpc.CustomerServiceServicer):
    def __init__(self, uow: handlers.UowFactory, tenant_for: Callable[[str], Tenant]):
        self._uow = uow
        self._tenant_for = tenant_for  # tenant id -> Tenant (tiers, calendar, price visibility)

    def _rules(self) -> TenantRules:
        return tenant_rules(self._tenant_for(identity.current().tenant_id))

    def _withheld(self, customer_tier: Tier | None = None) -> bool:
        """True if the caller may not see prices (a portal account: judged by its customer's tier)."""
        caller = identity.current()
        rules = self._tenant_for(caller.tenant_id).price_visibility
        return not may_see_prices(caller, rules, customer_tier.value if customer_tier else "")

    def _with_customer(self, reply: type[_R], customer: Customer) -> _R:
        """A reply carrying one customer, its purchase amounts withheld from who may not see them."""
        withheld = self._withheld(customer.tier)
        return reply(customer=m.customer_to_proto(customer, withheld=withheld), prices_withheld=withheld)

    def CreateCustomer(self, request: pb.CreateCustomerRequest, context) -> pb.CreateCustomerResponse:
        cmd = handlers.RegisterCustomer(
            code=request.code,
            fields=m.editable_fields(request),
            years_of_cooperation=request.years_of_cooperation,
            yearly_purchases_cny=request.yearly_purchases_cny,
        )
        customer = handlers.register_customer(cmd, self._uow, self._rules())
        return self._with_customer(pb.CreateCustomerResponse, customer)

    def GetCustomer(self, request: pb.GetCustomerRequest, context) -> pb.GetCustomerResponse:
        customer = handlers.get_customer(request.customer_id, self._uow)
        return self._with_customer(pb.GetCustomerResponse, customer)

    def ListCustomers(self, request: pb.ListCustomersRequest, context) -> pb.ListCustomersResponse:
        query = handlers.ListCustomers(
            query=request.query,
            code=request.code,
            active=request.active if request.HasField("active") else None,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        found, token = handlers.list_customers(query, self._uow)
        withheld = self._withheld()  # staff only: judged by their roles
        return pb.ListCustomersResponse(
            customers=[m.customer_to_proto(c, withheld=withheld) for c in found],
            next_page_token=token,
            prices_withheld=withheld,
        )

    def UpdateCustomer(self, request: pb.UpdateCustomerRequest, context) -> pb.UpdateCustomerResponse:
        cmd = handlers.UpdateCustomer(
            request.customer_id, request.expected_version, m.editable_fields(request)
        )
        customer = handlers.update_customer(cmd, self._uow, self._rules())
        return self._with_customer(pb.UpdateCustomerResponse, customer)

    def DeactivateCustomer(
        self, request: pb.DeactivateCustomerRequest, context
    ) -> pb.DeactivateCustomerResponse:
        cmd = handlers.DeactivateCustomer(request.customer_id, request.expected_version, request.reason)
        customer = handlers.deactivate_customer(cmd, self._uow)
        return self._with_customer(pb.DeactivateCustomerResponse, customer)

    def ReactivateCustomer(
        self, request: pb.ReactivateCustomerRequest, context
    ) -> pb.ReactivateCustomerResponse:
        cmd = handlers.ReactivateCustomer(request.customer_id, request.expected_version)
        customer = handlers.reactivate_customer(cmd, self._uow)
        return self._with_customer(pb.ReactivateCustomerResponse, customer)

    def ListTierChanges(self, request: pb.ListTierChangesRequest, context) -> pb.ListTierChangesResponse:
        changes = handlers.tier_history(request.customer_id, self._uow)
        withheld = self._withheld()
        return pb.ListTierChangesResponse(
            changes=[m.tier_change_to_proto(t, withheld=withheld) for t in changes], prices_withheld=withheld
        )

    def SetContractPrice(self, request: pb.SetContractPriceRequest, context) -> pb.SetContractPriceResponse:
        cmd = prices.SetContractPrice(
            scope=m.scope_of(request),
            product_model=request.product_model,
            unit_price_fen=request.unit_price_fen,
            valid_from=date_from_proto("valid_from", request.valid_from),
            valid_to=optional_date_from_proto(request, "valid_to"),
        )
        entry = prices.set_contract_price(cmd, self._uow)
        withheld = self._withheld()
        return pb.SetContractPriceResponse(
            contract_price=m.contract_price_to_proto(entry, withheld=withheld), prices_withheld=withheld
        )

    def ListContractPrices(
        self, request: pb.ListContractPricesRequest, context
    ) -> pb.ListContractPricesResponse:
        query = prices.ListContractPrices(
            scope=m.scope_of(request),
            product_model=request.product_model,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        entries, token, tier = prices.list_contract_prices(query, self._uow)
        withheld = self._withheld(tier)
        return pb.ListContractPricesResponse(
            contract_prices=[m.contract_price_to_proto(e, withheld=withheld) for e in entries],
            next_page_token=token,
            prices_withheld=withheld,
        )

    def ResolveContractPrices(
        self, request: pb.ResolveContractPricesRequest, context
    ) -> pb.ResolveContractPricesResponse:
        query = prices.ResolveContractPrices(
            customer_id=request.customer_id,
            product_models=tuple(x.product_model for x in request.product_models),
            on_date=date_from_proto("on_date", request.on_date),
        )
        customer, resolved = prices.resolve_contract_prices(query, self._uow)
        withheld = self._withheld(customer.tier)
        return pb.ResolveContractPricesResponse(
            customer_id=customer.customer_id,
            tier=m.tier_to_proto(customer.tier),
            active=customer.active,
            prices=[m.resolved_to_proto(r, withheld=withheld) for r in resolved],
            prices_withheld=withheld,
        )
