"""Work orders (生产工单) and production's view of an order (ProductionOrder): one work order per
workshop the order's lines are routed through, frozen while a change of the order waits, revised
(never re-made) when the change is approved. Pure Python."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from services.chassis.errors import FailedPrecondition, InvalidArgument, NotFound, VersionConflict
from services.chassis.events import DomainEvent
from services.production.domain.lines import RoutedLine, WorkOrderLine
from services.production.domain.requirements import Requirements, RoutedBomEntry, requirements_at
from services.production.domain.routing import split_by_route
from services.production.domain.stages import Stage, check_move, least_advanced

__all__ = ["RoutedLine", "Stage", "WorkOrderLine"]

FROZEN = "工单已冻结（订单变更待审批） work order frozen: a change of the order is pending"
Bom = Mapping[str, Sequence[RoutedBomEntry]]


@dataclass(frozen=True)
class OrderContent:
    """What production needs of an order at one version: from order_approved or order_changed."""

    order_id: str
    order_no: str
    due_date: date
    lines: list[RoutedLine]
    version: int = 1  # the order's version (every event of the order has a newer one)
    revision: int = 1  # the order's content revision (a change approved makes a new one)
    change_id: str = ""


# Events (contracts in protos/oms/production/v1/production.proto)


@dataclass(frozen=True)
class WorkOrderCreated(DomainEvent):
    event_type = "work_order_created"
    work_order_id: str
    work_order_no: str
    order_id: str
    order_no: str
    workshop: str
    due_date: str
    lines: list[dict]
    step: int = 1
    revision: int = 1
    requirements: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class WorkOrderStageChanged(DomainEvent):
    event_type = "work_order_stage_changed"
    work_order_id: str
    work_order_no: str
    order_id: str
    order_no: str
    workshop: str
    stage: str
    previous_stage: str
    order_stage: str
    sequence: int
    changed_at: str


@dataclass(frozen=True)
class WorkOrderRevised(DomainEvent):
    event_type = "work_order_revised"
    work_order_id: str
    work_order_no: str
    order_id: str
    order_no: str
    workshop: str
    previous_revision: int
    revision: int
    order_revision: int
    change_id: str
    stage: str
    previous_due_date: str
    due_date: str
    lines: list[dict]
    changes: list[dict]  # [{line_no, product_model, field, before, after}]


@dataclass(frozen=True)
class WorkOrderCancelled(DomainEvent):
    event_type = "work_order_cancelled"
    work_order_id: str
    work_order_no: str
    order_id: str
    order_no: str
    workshop: str
    revision: int
    stage: str
    good_quantity: int
    scrap_quantity: int
    reason: str


@dataclass(frozen=True)
class MaterialRequirementsChanged(DomainEvent):
    event_type = "material_requirements_changed"
    order_id: str
    order_no: str
    revision: int
    previous_revision: int
    change_id: str
    work_orders: list[dict]  # [{work_order_id, work_order_no, workshop, revision, cancelled, materials}]


@dataclass(frozen=True)
class StageReport:
    """报工: one report of a work order's stage, as reported."""

    work_order_id: str
    revision: int
    reported_at: datetime
    reported_by: str
    from_stage: Stage
    to_stage: Stage
    good_quantity: int
    scrap_quantity: int
    note: str = ""


@dataclass(frozen=True)
class WorkOrderRevision:
    """A superseded revision of a work order, kept as it was."""

    work_order_id: str
    revision: int
    order_revision: int
    due_date: date
    lines: list[WorkOrderLine]
    stage: Stage
    superseded_at: datetime
    change_id: str
    requirements: Requirements = field(default_factory=dict)


@dataclass
class WorkOrder:
    work_order_id: str
    work_order_no: str
    order_id: str
    order_no: str
    workshop: str
    due_date: date
    lines: list[WorkOrderLine]
    created_at: datetime
    stage: Stage = Stage.TO_SCHEDULE
    order_version: int = 1  # the order version this work order was last planned from
    step: int = 1
    revision: int = 1
    order_revision: int = 1
    frozen: bool = False
    cancelled: bool = False
    good_quantity: int = 0
    scrap_quantity: int = 0
    requirements: Requirements = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)
    # Written by the repository on save, then forgotten.
    new_reports: list[StageReport] = field(default_factory=list, repr=False, compare=False)
    superseded: list[WorkOrderRevision] = field(default_factory=list, repr=False, compare=False)

    def announce(self) -> None:
        self.events.append(
            WorkOrderCreated(
                self.work_order_id,
                self.work_order_no,
                self.order_id,
                self.order_no,
                self.workshop,
                self.due_date.isoformat(),
                [_line_payload(x) for x in self.lines],
                self.step,
                self.revision,
                requirements_payload(self.requirements),
            )
        )

    def report(
        self,
        target: Stage,
        *,
        good: int,
        scrap: int,
        note: str,
        reporter: str,
        now: datetime,
        expected_revision: int = 0,
    ) -> bool:
        """Record a stage report; True when the stage moved (an event is due)."""
        if self.cancelled:
            raise FailedPrecondition(f"工单已取消 work order {self.work_order_no} is cancelled")
        if self.frozen:
            raise FailedPrecondition(FROZEN)
        if expected_revision and expected_revision != self.revision:
            raise VersionConflict(
                f"工单已修订 work order {self.work_order_no} is at revision {self.revision},"
                f" not {expected_revision}: read it again"
            )
        if good < 0 or scrap < 0:
            raise InvalidArgument("good and scrap quantities cannot be negative")
        moved = check_move(self.stage, target)
        self.new_reports.append(
            StageReport(
                self.work_order_id, self.revision, now, reporter, self.stage, target, good, scrap, note
            )
        )
        self.good_quantity += good
        self.scrap_quantity += scrap
        self.stage = target
        return moved

    def revise(
        self,
        step_lines: list[WorkOrderLine],
        content: OrderContent,
        step: int,
        requirements: Requirements,
        now: datetime,
    ) -> bool:
        """The order's content changed: the same work order, amended (number, stage and reports
        stay; the shop floor keeps one job). The revision it was is kept. False if nothing of
        this work order changed (it only follows the order's version)."""
        self.order_version = content.version
        self.frozen = False
        changes = line_changes(self.lines, step_lines)
        if not changes and self.due_date == content.due_date and self.requirements == requirements:
            self.order_revision = content.revision
            return False
        self.superseded.append(
            WorkOrderRevision(
                self.work_order_id,
                self.revision,
                self.order_revision,
                self.due_date,
                list(self.lines),
                self.stage,
                now,
                content.change_id,
                dict(self.requirements),
            )
        )
        previous_due, previous_revision = self.due_date, self.revision
        self.lines = list(step_lines)
        self.due_date = content.due_date
        self.step = step
        self.revision += 1
        self.order_revision = content.revision
        self.requirements = dict(requirements)
        self.events.append(
            WorkOrderRevised(
                self.work_order_id,
                self.work_order_no,
                self.order_id,
                self.order_no,
                self.workshop,
                previous_revision,
                self.revision,
                content.revision,
                content.change_id,
                self.stage.value,
                previous_due.isoformat(),
                self.due_date.isoformat(),
                [_line_payload(x) for x in self.lines],
                changes,
            )
        )
        return True

    def cancel(self, reason: str, order_version: int) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        self.frozen = False
        self.order_version = max(self.order_version, order_version)
        self.events.append(
            WorkOrderCancelled(
                self.work_order_id,
                self.work_order_no,
                self.order_id,
                self.order_no,
                self.workshop,
                self.revision,
                self.stage.value,
                self.good_quantity,
                self.scrap_quantity,
                reason,
            )
        )


@dataclass
class ProductionOrder:
    """Production's view of one order and its work orders. Events of one order reach production
    through several consumers, so which is stale is judged here by the order's version."""

    order_id: str
    order_no: str
    order_version: int = 0
    revision: int = 1
    frozen: bool = False
    change_id: str = ""
    cancelled: bool = False
    stage_sequence: int = 0
    work_orders: list[WorkOrder] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)
    is_new: bool = field(default=False, repr=False, compare=False)

    # order events

    def approved(self, content: OrderContent, bom: Bom, now: datetime, new_id: Callable[[], str]) -> bool:
        """order_approved. An approval arriving after newer events of the order (a change request
        overtook it) still makes the work orders if none exist, frozen if the order is."""
        if not self.work_orders and not self.cancelled:
            self._plan(content, bom, now, new_id)
            self._follow(content.version)
            return True
        if content.version <= self.order_version or self.cancelled:
            return False
        # A newer approval of an order already planned (re-approved): revise. An approval carries
        # no content revision; the order's stays what its last change made it.
        self._apply(replace(content, revision=self.revision), bom, now, new_id)
        return True

    def change_requested(self, version: int, change_id: str) -> bool:
        if version <= self.order_version or self.cancelled:
            return False
        self.order_version = version
        self.frozen, self.change_id = True, change_id
        for wo in self._open():
            wo.frozen = True
        return True

    def change_rejected(self, version: int, change_id: str) -> bool:
        if version <= self.order_version or self.cancelled:
            return False
        self.order_version = version
        self._unfreeze()
        return True

    def changed(
        self, content: OrderContent, cancels_order: bool, bom: Bom, now: datetime, new_id: Callable[[], str]
    ) -> bool:
        if content.version <= self.order_version or self.cancelled:
            return False
        if cancels_order:
            self.cancel(content.version, "订单变更取消订单 the approved change cancels the order")
            return True
        if not self.work_orders:  # the approval has not arrived: plan from this content
            self._plan(content, bom, now, new_id)
            self._follow(content.version)
            self._unfreeze()
            return True
        self._apply(content, bom, now, new_id)
        return True

    def rerouted(
        self,
        version: int,
        line_no: int,
        route: tuple[str, ...],
        bom: Bom,
        now: datetime,
        new_id: Callable[[], str],
    ) -> bool:
        """A planner changed one line's workshops on the approved order: the work orders follow
        as for a change (revised, cancelled where no line passes any more, added where one now
        does). False if stale or if no open work order holds that line."""
        if version <= self.order_version or self.cancelled or not route:
            return False
        content = self.current_content(version)
        if not any(x.line.line_no == line_no for x in content.lines):
            return False
        lines = [RoutedLine(x.line, route) if x.line.line_no == line_no else x for x in content.lines]
        self._apply(replace(content, lines=lines), bom, now, new_id)
        return True

    def current_content(self, version: int) -> OrderContent:
        """The order as its open work orders hold it: each line (by its number) with the
        workshops that make it, in step order."""
        routes: dict[object, tuple[WorkOrderLine, list[str]]] = {}
        open_ = sorted(self._open(), key=lambda w: (w.step, w.work_order_no))
        for wo in open_:
            for x in wo.lines:
                # Lines planned before lines were numbered (line_no 0) are told apart by content.
                routes.setdefault(x.line_no or x, (x, []))[1].append(wo.workshop)
        return OrderContent(
            self.order_id,
            self.order_no,
            max((w.due_date for w in open_), default=date.min),
            [RoutedLine(line, tuple(route)) for line, route in routes.values()],
            version,
            self.revision,
        )

    def cancel(self, version: int, reason: str) -> bool:
        """Cancellation is final: applied whatever version it carries (order_changed with
        cancels_order and the order_cancelled after it carry the same one)."""
        if self.cancelled:
            return False
        self.cancelled = True
        self.order_version = max(self.order_version, version)
        self._unfreeze()
        for wo in self.work_orders:
            wo.cancel(reason, version)
        return True

    # shop floor

    def report_stage(
        self,
        work_order_id: str,
        target: Stage,
        *,
        good: int,
        scrap: int,
        note: str,
        reporter: str,
        now: datetime,
        expected_revision: int = 0,
    ) -> WorkOrder:
        wo = self.work_order(work_order_id)
        previous = wo.stage
        if wo.report(
            target,
            good=good,
            scrap=scrap,
            note=note,
            reporter=reporter,
            now=now,
            expected_revision=expected_revision,
        ):
            self.stage_sequence += 1
            order_stage = least_advanced([w.stage for w in self._open()]) or target
            wo.events.append(
                WorkOrderStageChanged(
                    wo.work_order_id,
                    wo.work_order_no,
                    self.order_id,
                    self.order_no,
                    wo.workshop,
                    target.value,
                    previous.value,
                    order_stage.value,
                    self.stage_sequence,
                    now.isoformat(),
                )
            )
        return wo

    def work_order(self, work_order_id: str) -> WorkOrder:
        for wo in self.work_orders:
            if wo.work_order_id == work_order_id:
                return wo
        raise NotFound(f"work order {work_order_id} not found")

    # inside

    def _open(self) -> list[WorkOrder]:
        return [wo for wo in self.work_orders if not wo.cancelled]

    def _follow(self, version: int) -> None:
        self.order_version = max(self.order_version, version)

    def _unfreeze(self) -> None:
        self.frozen, self.change_id = False, ""
        for wo in self.work_orders:
            wo.frozen = False

    def _plan(self, content: OrderContent, bom: Bom, now: datetime, new_id: Callable[[], str]) -> None:
        self.revision = content.revision
        index = next_index(self.work_orders)
        for step in split_by_route(content.lines):
            self.work_orders.append(self._new_work_order(content, step, index, bom, now, new_id))
            index += 1

    def _new_work_order(self, content, step, index, bom, now, new_id) -> WorkOrder:
        wo = WorkOrder(
            work_order_id=new_id(),
            work_order_no=work_order_number(content.order_no, index),
            order_id=self.order_id,
            order_no=self.order_no,
            workshop=step.workshop,
            due_date=content.due_date,
            lines=step.lines,
            created_at=now,
            order_version=content.version,
            step=step.step,
            order_revision=content.revision,
            frozen=self.frozen,
            requirements=requirements_at(bom, step.workshop, content.lines),
        )
        wo.announce()
        return wo

    def _apply(self, content: OrderContent, bom: Bom, now: datetime, new_id: Callable[[], str]) -> None:
        """New content of the order: each workshop still routed is revised, one no longer routed
        is cancelled, a newly routed one gets a new work order; requirements recomputed."""
        previous_revision = self.revision
        before = {wo.work_order_id: dict(wo.requirements) for wo in self.work_orders}
        by_workshop = {wo.workshop: wo for wo in self._open()}
        steps = split_by_route(content.lines)
        index = next_index(self.work_orders)
        touched: list[WorkOrder] = []
        for step in steps:
            needed = requirements_at(bom, step.workshop, content.lines)
            wo = by_workshop.pop(step.workshop, None)
            if wo is None:
                wo = self._new_work_order(content, step, index, bom, now, new_id)
                index += 1
                self.work_orders.append(wo)
            else:
                wo.revise(step.lines, content, step.step, needed, now)
            touched.append(wo)
        for wo in by_workshop.values():
            wo.cancel(
                "订单变更后不再经过此车间 the changed order no longer passes this workshop", content.version
            )
            touched.append(wo)
        self.revision = content.revision
        self._follow(content.version)
        self._unfreeze()
        self.events.append(
            MaterialRequirementsChanged(
                self.order_id,
                self.order_no,
                content.revision,
                previous_revision,
                content.change_id,
                [
                    {
                        "work_order_id": wo.work_order_id,
                        "work_order_no": wo.work_order_no,
                        "workshop": wo.workshop,
                        "revision": wo.revision,
                        "cancelled": wo.cancelled,
                        "materials": material_changes(
                            before.get(wo.work_order_id, {}), {} if wo.cancelled else wo.requirements
                        ),
                    }
                    for wo in touched
                ],
            )
        )


def material_changes(before: Requirements, after: Requirements) -> list[dict]:
    return [
        {"material": m, "unit": u, "before": before.get((m, u), 0.0), "after": after.get((m, u), 0.0)}
        for (m, u) in sorted(before.keys() | after.keys())
    ]


def requirements_payload(requirements: Requirements) -> list[dict]:
    return [{"material": m, "unit": u, "quantity": q} for (m, u), q in sorted(requirements.items())]


def line_changes(before: list[WorkOrderLine], after: list[WorkOrderLine]) -> list[dict]:
    """Field by field, line by line (matched by the order's line number, else by position):
    quantity and specification (colour, treatment, packaging, model)."""

    def key(i: int, x: WorkOrderLine) -> str:
        return f"n{x.line_no}" if x.line_no else f"i{i}"

    old = {key(i, x): x for i, x in enumerate(before)}
    new = {key(i, x): x for i, x in enumerate(after)}
    out: list[dict] = []
    for k in list(old) + [k for k in new if k not in old]:
        a, b = old.get(k), new.get(k)
        ref = b or a
        assert ref is not None
        for name in ("product_model", "quantity", "colour", "surface_treatment", "packaging"):
            was = getattr(a, name) if a else ("" if name != "quantity" else 0)
            now = getattr(b, name) if b else ("" if name != "quantity" else 0)
            if was != now:
                out.append(
                    {
                        "line_no": ref.line_no,
                        "product_model": ref.product_model,
                        "field": name,
                        "before": str(was),
                        "after": str(now),
                    }
                )
    return out


def _line_payload(x: WorkOrderLine) -> dict:
    return {
        "product_model": x.product_model,
        "quantity": x.quantity,
        "colour": x.colour,
        "surface_treatment": x.surface_treatment,
        "packaging": x.packaging,
        "line_no": x.line_no,
    }


def next_index(existing: list[WorkOrder]) -> int:
    """The next free <nn> of an order's work-order numbers."""
    used = [int(wo.work_order_no.rsplit("-", 1)[1]) for wo in existing if wo.work_order_no[-2:].isdigit()]
    return max(used, default=0) + 1


def work_order_number(order_no: str, index: int) -> str:
    """WO-<order number>-<nn>: unique because order numbers are, and readable on the floor."""
    return f"WO-{order_no}-{index:02d}"
