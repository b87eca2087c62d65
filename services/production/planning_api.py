"""gRPC methods of production planning: batch tasks, the merge-rule dry-run, the board. A mixin of
ProductionApi (one servicer per gRPC service): request -> query -> handler -> response."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from oms.production.v1 import production_pb2
from services.chassis import identity
from services.chassis.fields import date_to_proto, timestamp_of
from services.chassis.tenant_config import TenantConfig
from services.chassis.tenants import tenant_file
from services.chassis.uow import UowFactory
from services.production.domain.batching import BatchTask, Configuration, ReplayedBatch
from services.production.domain.board import BoardItem
from services.production.service_layer import batching, board
from services.production.service_layer.unit_of_work import ProductionUnitOfWork

TenantOf = Callable[[str], TenantConfig]


class PlanningApi:
    def __init__(self, uow: UowFactory[ProductionUnitOfWork], tenant_of: TenantOf | None = None):
        self._planning_uow = uow
        self._tenant_of = tenant_of or tenant_file  # built without the service context: tests, tools

    def _tenant(self) -> TenantConfig:
        return self._tenant_of(identity.current().tenant_id)

    def ListBatchTasks(self, request, context) -> production_pb2.ListBatchTasksResponse:
        state = production_pb2.BatchState.Name(request.state) if request.state else ""
        found, token = batching.list_batch_tasks(
            state, request.page_size, request.page_token, self._planning_uow
        )
        return production_pb2.ListBatchTasksResponse(
            batch_tasks=[batch_task_to_proto(t) for t in found], next_page_token=token
        )

    def GetBatchTask(self, request, context) -> production_pb2.GetBatchTaskResponse:
        task = batching.get_batch_task(request.batch_id, self._planning_uow)
        return production_pb2.GetBatchTaskResponse(batch_task=batch_task_to_proto(task))

    def DryRunRule(self, request, context) -> production_pb2.DryRunRuleResponse:
        query = batching.DryRunMerge(request.name, request.expression, request.params_json, request.days)
        result = batching.dry_run(query, self._tenant(), self._planning_uow)
        r = result.replay
        return production_pb2.DryRunRuleResponse(
            rule=result.rule.name,
            expression=result.rule.expression,
            params_json=json.dumps(dict(result.rule.params), ensure_ascii=False, sort_keys=True),
            days=result.days,
            replayed=r.replayed,
            would_have_made=[_replayed(b) for b in r.would],
            made=[_replayed(b) for b in r.did],
            would_merge=result.would_merge,
            did_merge=result.did_merge,
            differences=[
                production_pb2.DryRunMergeDifference(
                    order_no=d.order_no,
                    configuration=_configuration(d.configuration),
                    would_batch=d.would_batch,
                    did_batch_no=d.did_batch_no,
                )
                for d in r.differences
            ],
            rule_failures=r.rule_failures,
        )

    def GetBoard(self, request, context) -> production_pb2.GetBoardResponse:
        now = datetime.now(UTC)
        found = board.get_board(
            self._tenant(), self._planning_uow, workshop=request.workshop, limit=request.limit, now=now
        )
        return production_pb2.GetBoardResponse(
            cells=[
                production_pb2.BoardCell(workshop=c.workshop, stage=_stage(c.stage), count=c.count)
                for c in found.cells
            ],
            overdue=[_board_item(x) for x in found.overdue],
            overdue_total=found.overdue_total,
            at_risk=[_board_item(x) for x in found.at_risk],
            at_risk_total=found.at_risk_total,
            today=date_to_proto(found.window.today),
            at_risk_hours=found.window.hours,
            as_of=timestamp_of(now),
            completed_today=[
                production_pb2.BoardCompletion(
                    work_order_no=c.work_order_no,
                    order_no=c.order_no,
                    workshop=c.workshop,
                    good_quantity=c.good_quantity,
                    completed_at=timestamp_of(c.completed_at),
                )
                for c in found.completed_today
            ],
            completed_today_total=found.completed_today_total,
        )


def batch_task_to_proto(t: BatchTask) -> production_pb2.BatchTask:
    return production_pb2.BatchTask(
        batch_id=t.batch_id,
        batch_no=t.batch_no,
        configuration=_configuration(t.configuration),
        state=production_pb2.BatchState.Value(t.state),
        quantity=t.quantity,
        due_date=date_to_proto(t.due_date),
        rule=t.rule,
        orders=[
            production_pb2.BatchTaskOrder(
                order_id=o.order_id,
                order_no=o.order_no,
                customer_id=o.customer_id,
                quantity=o.quantity,
                due_date=date_to_proto(o.due_date),
                approved_at=timestamp_of(o.approved_at),
                cancelled=o.cancelled_at is not None,
            )
            for o in t.orders
        ],
        created_at=timestamp_of(t.created_at),
    )


def _configuration(c: Configuration) -> production_pb2.Configuration:
    return production_pb2.Configuration(
        product_model=c.product_model,
        surface_treatment=c.surface_treatment,
        colour=c.colour,
        packaging=c.packaging,
    )


def _replayed(b: ReplayedBatch) -> production_pb2.DryRunBatch:
    return production_pb2.DryRunBatch(
        configuration=_configuration(b.configuration),
        order_nos=list(b.order_nos),
        quantity=b.quantity,
        formed_at=timestamp_of(b.formed_at),
        batch_no=b.batch_no,
    )


def _board_item(x: BoardItem) -> production_pb2.BoardWorkOrder:
    return production_pb2.BoardWorkOrder(
        work_order_id=x.work_order_id,
        work_order_no=x.work_order_no,
        order_no=x.order_no,
        workshop=x.workshop,
        stage=_stage(x.stage),
        due_date=date_to_proto(x.due_date),
    )


def _stage(value: str) -> Any:
    """A stored stage as the enum (UNSPECIFIED for one this contract does not know yet)."""
    known = production_pb2.Stage.keys()
    return production_pb2.Stage.Value(value) if value in known else production_pb2.STAGE_UNSPECIFIED
