"""gRPC API of what a customer follows after ordering: after-sales requests (售后申请) and where
each order line is on the shop floor. Mixed into OrderApi (api.py)."""

from __future__ import annotations

from oms.order.v1 import order_pb2
from services.chassis.fields import timestamp_of
from services.order.domain.after_sales import AfterSalesRequest, Kind
from services.order.domain.progress import LineProgress
from services.order.service_layer import after_sales, handlers, progress


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

    def ListOrderProgress(self, request, context) -> order_pb2.ListOrderProgressResponse:
        found = progress.progress_of(list(request.order_ids), self._uow)
        return order_pb2.ListOrderProgressResponse(
            orders=[
                order_pb2.OrderProgress(order_id=order_id, lines=[line_to_proto(p) for p in found[order_id]])
                for order_id in request.order_ids
                if order_id in found
            ]
        )


def line_to_proto(p: LineProgress) -> order_pb2.LineProgress:
    steps = [
        order_pb2.StepProgress(workshop=s.workshop, stage=s.stage, work_order_no=s.work_order_no)
        for s in p.steps
    ]
    return order_pb2.LineProgress(line_no=p.line_no, stage=p.stage, workshop=p.workshop, steps=steps)


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
