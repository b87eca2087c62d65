"""gRPC API of the production service."""

from __future__ import annotations

from oms.production.v1 import production_pb2, production_pb2_grpc
from services.chassis.fields import date_to_proto, timestamp_of
from services.production.domain.model import Stage, StageReport, WorkOrder, WorkOrderLine
from services.production.domain.requirements import Requirements
from services.production.planning_api import PlanningApi, TenantOf
from services.production.service_layer import handlers


class ProductionApi(PlanningApi, production_pb2_grpc.ProductionServiceServicer):
    def __init__(self, uow: handlers.UowFactory, tenant_of: TenantOf | None = None):
        PlanningApi.__init__(self, uow, tenant_of)  # batch tasks, rule dry-run, board: planning_api.py
        self._uow = uow

    def ListWorkOrders(self, request, context) -> production_pb2.ListWorkOrdersResponse:
        query = handlers.ListWorkOrders(
            order_id=request.order_id,
            order_no=request.order_no,
            work_order_no=request.work_order_no,
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
        wo, reports = handlers.get_work_order_with_reports(request.work_order_id, self._uow)
        return production_pb2.GetWorkOrderResponse(
            work_order=work_order_to_proto(wo), stage_reports=[report_to_proto(r) for r in reports]
        )

    def ReportStage(self, request, context) -> production_pb2.ReportStageResponse:
        wo, report = handlers.report_stage(
            handlers.ReportStage(
                work_order_id=request.work_order_id,
                stage=Stage(production_pb2.Stage.Name(request.stage)),
                good_quantity=request.good_quantity,
                scrap_quantity=request.scrap_quantity,
                note=request.note,
                expected_revision=request.expected_revision,
            ),
            self._uow,
        )
        return production_pb2.ReportStageResponse(
            work_order=work_order_to_proto(wo), report=report_to_proto(report)
        )

    def ListWorkOrderRevisions(self, request, context) -> production_pb2.ListWorkOrderRevisionsResponse:
        wo, old = handlers.work_order_revisions(request.work_order_id, self._uow)
        revisions = [
            production_pb2.WorkOrderRevision(
                revision=r.revision,
                order_revision=r.order_revision,
                due_date=date_to_proto(r.due_date),
                lines=lines_to_proto(r.lines),
                stage=production_pb2.Stage.Value(r.stage.value),
                superseded_at=timestamp_of(r.superseded_at),
                change_id=r.change_id,
                requirements=requirements_to_proto(r.requirements),
            )
            for r in old
        ]
        revisions.append(
            production_pb2.WorkOrderRevision(
                revision=wo.revision,
                order_revision=wo.order_revision,
                due_date=date_to_proto(wo.due_date),
                lines=lines_to_proto(wo.lines),
                stage=production_pb2.Stage.Value(wo.stage.value),
                requirements=requirements_to_proto(wo.requirements),
                current=True,
            )
        )
        return production_pb2.ListWorkOrderRevisionsResponse(revisions=revisions)


def lines_to_proto(lines: list[WorkOrderLine]) -> list[production_pb2.WorkOrderLine]:
    return [
        production_pb2.WorkOrderLine(
            product_model=x.product_model,
            quantity=x.quantity,
            colour=x.colour,
            surface_treatment=x.surface_treatment,
            packaging=x.packaging,
            line_no=x.line_no,
        )
        for x in lines
    ]


def requirements_to_proto(needed: Requirements) -> list[production_pb2.MaterialRequirement]:
    return [
        production_pb2.MaterialRequirement(material=m, unit=u, quantity=q)
        for (m, u), q in sorted(needed.items())
    ]


def report_to_proto(r: StageReport) -> production_pb2.StageReport:
    return production_pb2.StageReport(
        work_order_id=r.work_order_id,
        revision=r.revision,
        reported_at=timestamp_of(r.reported_at),
        reported_by=r.reported_by,
        from_stage=production_pb2.Stage.Value(r.from_stage.value),
        to_stage=production_pb2.Stage.Value(r.to_stage.value),
        good_quantity=r.good_quantity,
        scrap_quantity=r.scrap_quantity,
        note=r.note,
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
        lines=lines_to_proto(w.lines),
        created_at=timestamp_of(w.created_at),
        step=w.step,
        revision=w.revision,
        order_revision=w.order_revision,
        frozen=w.frozen,
        cancelled=w.cancelled,
        good_quantity=w.good_quantity,
        scrap_quantity=w.scrap_quantity,
        requirements=requirements_to_proto(w.requirements),
    )
