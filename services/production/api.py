"""gRPC API of the production service."""

from __future__ import annotations

from oms.production.v1 import production_pb2, production_pb2_grpc
from services.chassis.fields import date_to_proto, timestamp_of
from services.production.domain.model import Stage, WorkOrder
from services.production.service_layer import handlers


class ProductionApi(production_pb2_grpc.ProductionServiceServicer):
    def __init__(self, uow: handlers.UowFactory):
        self._uow = uow

    def ListWorkOrders(self, request, context) -> production_pb2.ListWorkOrdersResponse:
        query = handlers.ListWorkOrders(
            order_id=request.order_id,
            order_no=request.order_no,
            workshop=request.workshop,
            stage=Stage(production_pb2.Stage.Name(request.stage)) if request.stage else None,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        found, token = handlers.list_work_orders(query, self._uow)
        return production_pb2.ListWorkOrdersResponse(
            work_orders=[work_order_to_proto(w) for w in found], next_page_token=token
        )

    def GetWorkOrder(self, request, context) -> production_pb2.GetWorkOrderResponse:
        return production_pb2.GetWorkOrderResponse(
            work_order=work_order_to_proto(handlers.get_work_order(request.work_order_id, self._uow))
        )


def work_order_to_proto(w: WorkOrder) -> production_pb2.WorkOrder:
    return production_pb2.WorkOrder(
        work_order_id=w.work_order_id,
        work_order_no=w.work_order_no,
        order_id=w.order_id,
        order_no=w.order_no,
        workshop=w.workshop,
        stage=production_pb2.Stage.Value(w.stage.value),
        due_date=date_to_proto(w.due_date),
        lines=[
            production_pb2.WorkOrderLine(
                product_model=x.product_model,
                quantity=x.quantity,
                colour=x.colour,
                surface_treatment=x.surface_treatment,
            )
            for x in w.lines
        ],
        created_at=timestamp_of(w.created_at),
    )
