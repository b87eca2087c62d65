"""gRPC API of after-sales requests (售后申请). Mixed into OrderApi (api.py)."""

from __future__ import annotations

from oms.order.v1 import order_pb2
from services.chassis.fields import timestamp_of
from services.order.domain.after_sales import AfterSalesRequest, Kind
from services.order.service_layer import after_sales, handlers


class AfterSalesRpcs:
    """The RPCs; OrderApi provides what is declared here."""

    _uow: handlers.UowFactory

    def SubmitAfterSalesRequest(self, request, context) -> order_pb2.SubmitAfterSalesRequestResponse:
        cmd = after_sales.SubmitAfterSales(
            order_id=request.order_id,
            kind=Kind(order_pb2.AfterSalesKind.Name(request.kind)),
            description=request.description,
            request_id=request.request_id,
        )
        made = after_sales.submit(cmd, self._uow)
        return order_pb2.SubmitAfterSalesRequestResponse(after_sales=after_sales_to_proto(made))

    def ListAfterSalesRequests(self, request, context) -> order_pb2.ListAfterSalesRequestsResponse:
        found = after_sales.list_requests(request.order_id, self._uow)
        return order_pb2.ListAfterSalesRequestsResponse(requests=[after_sales_to_proto(r) for r in found])


def after_sales_to_proto(r: AfterSalesRequest) -> order_pb2.AfterSalesRequest:
    return order_pb2.AfterSalesRequest(
        after_sales_id=r.after_sales_id,
        order_id=r.order_id,
        order_no=r.order_no,
        customer_id=r.customer_id,
        kind=order_pb2.AfterSalesKind.Value(r.kind.value),
        description=r.description,
        submitted_by=r.submitted_by,
        submitted_at=timestamp_of(r.submitted_at),
    )
