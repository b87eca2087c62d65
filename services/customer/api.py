"""gRPC API of the customer service."""

from __future__ import annotations

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from services.chassis import identity
from services.chassis.fields import timestamp_of
from services.customer.domain.model import Customer, TierThresholds
from services.customer.service_layer import handlers


class CustomerApi(customer_pb2_grpc.CustomerServiceServicer):
    def __init__(self, uow: handlers.UowFactory, thresholds_for):
        self._uow = uow
        self._thresholds_for = thresholds_for  # tenant id -> TierThresholds

    def CreateCustomer(self, request, context) -> customer_pb2.CreateCustomerResponse:
        cmd = handlers.RegisterCustomer(
            code=request.code,
            name=request.name,
            years_of_cooperation=request.years_of_cooperation,
            yearly_purchases_cny=request.yearly_purchases_cny,
            sales_owner=request.sales_owner,
        )
        thresholds: TierThresholds = self._thresholds_for(identity.current().tenant_id)
        customer = handlers.register_customer(cmd, self._uow, thresholds)
        return customer_pb2.CreateCustomerResponse(customer=customer_to_proto(customer))

    def GetCustomer(self, request, context) -> customer_pb2.GetCustomerResponse:
        customer = handlers.get_customer(request.customer_id, self._uow)
        return customer_pb2.GetCustomerResponse(customer=customer_to_proto(customer))

    def ListCustomers(self, request, context) -> customer_pb2.ListCustomersResponse:
        query = handlers.ListCustomers(
            query=request.query,
            code=request.code,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        found, token = handlers.list_customers(query, self._uow)
        return customer_pb2.ListCustomersResponse(
            customers=[customer_to_proto(c) for c in found], next_page_token=token
        )


def customer_to_proto(c: Customer) -> customer_pb2.Customer:
    return customer_pb2.Customer(
        customer_id=c.customer_id,
        code=c.code,
        name=c.name,
        tier=customer_pb2.Tier.Value(c.tier.value),
        years_of_cooperation=c.years_of_cooperation,
        yearly_purchases_cny=c.yearly_purchases_cny,
        sales_owner=c.sales_owner,
        created_at=timestamp_of(c.created_at),
    )
