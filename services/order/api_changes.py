"""gRPC API of change control, revisions, the audit trail and the late lifecycle steps (ship,
close): translate, call the handler, translate back, with prices withheld from callers who may
not see them (services/price_visibility.py). Mixed into OrderApi (api.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from oms.order.v1 import order_pb2
from services.chassis import identity
from services.chassis.errors import FieldViolation, InvalidArgument
from services.chassis.fields import date_from_proto, date_to_proto, optional_instant_from_proto, timestamp_of
from services.chassis.tenants import Tenant
from services.order.domain.batches import DeliveryBatch, batch_label
from services.order.domain.changes import (
    ChangeRequest,
    FieldChange,
    Impact,
    OrderContent,
    OrderLine,
    Revision,
)
from services.order.domain.lifecycle import Transition
from services.order.domain.model import OptionLibrary, Order, Priority
from services.order.service_layer import changes, handlers
from services.order.service_layer.impact import ShopFloor


class ChangeControlRpcs:
    """The RPCs; OrderApi provides what is declared here."""

    _uow: handlers.UowFactory
    _shop_floor: ShopFloor
    _options_for: Callable[[str], OptionLibrary]
    _tenant_for: Callable[[str], Tenant]

    def _withhold_prices(self) -> bool:
        raise NotImplementedError

    def _order(self, order: Order, withhold: bool) -> order_pb2.Order:
        raise NotImplementedError

    def RequestOrderChange(self, request, context) -> order_pb2.RequestOrderChangeResponse:
        proposed = None
        if request.WhichOneof("change") == "proposed":
            p = request.proposed
            proposed = changes.Proposal(
                due_date=date_from_proto("proposed.due_date", p.due_date),
                priority=Priority(order_pb2.Priority.Name(p.priority)),
                lines=[line_from_proto(x) for x in p.lines],
                delivery_address=p.delivery_address,
                custom_fields=custom_fields_from_proto(p.custom_fields, "proposed.custom_fields"),
                batches=batches_from_proto(p.batches, "proposed.batches"),
            )
        cmd = changes.RequestChange(
            order_id=request.order_id,
            expected_version=request.expected_version,
            reason=request.reason,
            proposed=proposed,
        )
        tenant = self._tenant_for(identity.current().tenant_id)
        change, order = changes.request_change(
            cmd, self._uow, self._shop_floor, self._options_for(tenant.tenant_id), plant_tz=tenant.tz
        )
        withhold = self._withhold_prices()
        return order_pb2.RequestOrderChangeResponse(
            change=change_to_proto(change, withhold), order=self._order(order, withhold)
        )

    def _decide(self, request, approve: bool):
        cmd = changes.DecideChange(
            order_id=request.order_id,
            change_id=request.change_id,
            expected_version=request.expected_version,
            note=request.note,
            approve=approve,
        )
        change, order = changes.decide_change(cmd, self._uow)
        withhold = self._withhold_prices()
        return change_to_proto(change, withhold), self._order(order, withhold)

    def ApproveOrderChange(self, request, context) -> order_pb2.ApproveOrderChangeResponse:
        change, order = self._decide(request, approve=True)
        return order_pb2.ApproveOrderChangeResponse(change=change, order=order)

    def RejectOrderChange(self, request, context) -> order_pb2.RejectOrderChangeResponse:
        change, order = self._decide(request, approve=False)
        return order_pb2.RejectOrderChangeResponse(change=change, order=order)

    def GetOrderChange(self, request, context) -> order_pb2.GetOrderChangeResponse:
        change = changes.get_change(request.order_id, request.change_id, self._uow)
        return order_pb2.GetOrderChangeResponse(change=self._changes_for_caller([change])[0])

    def ListOrderChanges(self, request, context) -> order_pb2.ListOrderChangesResponse:
        found = changes.list_changes(request.order_id, self._uow)
        return order_pb2.ListOrderChangesResponse(changes=self._changes_for_caller(found))

    def _changes_for_caller(self, found: list[ChangeRequest]) -> list[order_pb2.ChangeRequest]:
        """A portal account reads what was asked and decided, never the impact: the plant's work
        orders and its stock are the plant's business. (Whether prices show is asked once.)"""
        withhold, portal = self._withhold_prices(), bool(identity.current().customer_id)
        out = [change_to_proto(c, withhold) for c in found]
        for change in out if portal else ():
            change.ClearField("impact")
        return out

    def ListOrderRevisions(self, request, context) -> order_pb2.ListOrderRevisionsResponse:
        revisions, current = changes.list_revisions(request.order_id, self._uow)
        withhold = self._withhold_prices()
        out = []
        for i, r in enumerate(revisions):
            until = revisions[i + 1].valid_from if i + 1 < len(revisions) else None
            out.append(revision_to_proto(r, until, r.revision == current, withhold))
        return order_pb2.ListOrderRevisionsResponse(revisions=out, prices_withheld=withhold)

    def ListOrderAudit(self, request, context) -> order_pb2.ListOrderAuditResponse:
        query = changes.ListAudit(
            order_id=request.order_id,
            actor=request.actor,
            since=optional_instant_from_proto(request, "since"),
            until=optional_instant_from_proto(request, "until"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        entries, token = changes.list_audit(query, self._uow)
        withhold = self._withhold_prices()
        return order_pb2.ListOrderAuditResponse(
            entries=[audit_to_proto(oid, no, t, withhold) for oid, no, t in entries],
            next_page_token=token,
            prices_withheld=withhold,
        )

    def ShipOrder(self, request, context) -> order_pb2.ShipOrderResponse:
        cmd = handlers.Step(order_id=request.order_id, expected_version=request.expected_version)
        order = handlers.ship_order(cmd, self._uow)
        return order_pb2.ShipOrderResponse(order=self._order(order, self._withhold_prices()))

    def RerouteOrderLine(self, request, context) -> order_pb2.RerouteOrderLineResponse:
        cmd = changes.Reroute(
            order_id=request.order_id,
            expected_version=request.expected_version,
            line_no=request.line_no,
            route=tuple(request.route),
            reason=request.reason,
        )
        order = changes.reroute_line(
            cmd, self._uow, self._options_for(identity.current().tenant_id).workshops
        )
        return order_pb2.RerouteOrderLineResponse(order=self._order(order, self._withhold_prices()))

    def CloseOrder(self, request, context) -> order_pb2.CloseOrderResponse:
        cmd = handlers.Step(order_id=request.order_id, expected_version=request.expected_version)
        order = handlers.close_order(cmd, self._uow)
        return order_pb2.CloseOrderResponse(order=self._order(order, self._withhold_prices()))


def line_from_proto(x: order_pb2.OrderLine) -> OrderLine:
    return OrderLine(
        product_model=x.product_model,
        quantity=x.quantity,
        workshop=x.workshop,
        colour=x.colour,
        surface_treatment=x.surface_treatment,
        unit_price_fen=x.unit_price_fen,
        line_no=x.line_no,
        packaging=x.packaging,
    )


def custom_fields_from_proto(values, path: str) -> dict[str, str]:
    """Key -> value; a key given twice is the caller's mistake, not a silent overwrite."""
    out: dict[str, str] = {}
    twice = []
    for i, v in enumerate(values):
        if v.key in out:
            twice.append(FieldViolation(f"{path}[{i}].key", f"{v.key!r} is given twice"))
        out[v.key] = v.value
    if twice:
        raise InvalidArgument("a custom field is given twice", twice)
    return out


def batches_from_proto(batches, path: str) -> tuple[DeliveryBatch, ...]:
    return tuple(
        DeliveryBatch(
            b.batch_no,
            date_from_proto(f"{path}[{i}].due_date", b.due_date),
            tuple((x.line_no, x.quantity) for x in b.lines),
            b.cancelled,
        )
        for i, b in enumerate(batches)
    )


def batches_to_proto(order_no: str, batches) -> list[order_pb2.DeliveryBatch]:
    return [
        order_pb2.DeliveryBatch(
            batch_no=b.batch_no,
            due_date=date_to_proto(b.due_date),
            lines=[order_pb2.BatchLine(line_no=n, quantity=q) for n, q in b.quantities],
            cancelled=b.cancelled,
            label=batch_label(order_no, b.batch_no) if order_no else "",
        )
        for b in batches
    ]


def custom_fields_to_proto(fields) -> list[order_pb2.CustomFieldValue]:
    return [order_pb2.CustomFieldValue(key=k, value=v) for k, v in sorted(fields.items())]


def lines_to_proto(lines, withhold: bool) -> list[order_pb2.OrderLine]:
    return [
        order_pb2.OrderLine(
            product_model=x.product_model,
            quantity=x.quantity,
            colour=x.colour,
            surface_treatment=x.surface_treatment,
            workshop=x.workshop,
            unit_price_fen=0 if withhold else x.unit_price_fen,
            line_no=x.line_no,
            packaging=x.packaging,
            route=x.route,
        )
        for x in lines
    ]


def content_to_proto(c: OrderContent, withhold: bool) -> order_pb2.OrderContent:
    return order_pb2.OrderContent(
        due_date=date_to_proto(c.due_date),
        priority=order_pb2.Priority.Value(c.priority),
        lines=lines_to_proto(c.lines, withhold),
        delivery_address=c.delivery_address,
        custom_fields=custom_fields_to_proto(c.custom_fields),
        batches=batches_to_proto("", c.batches),
    )


def field_change_to_proto(f: FieldChange, withhold: bool) -> order_pb2.FieldChange:
    before, after = f.before, f.after
    if withhold and f.is_price:
        before = after = ""
    elif withhold and f.path.startswith("lines[") and "." not in f.path:
        # A whole line added or removed: its description ends with " @<unit price>".
        before, after = before.rsplit(" @", 1)[0], after.rsplit(" @", 1)[0]
    return order_pb2.FieldChange(path=f.path, label=f.label, before=before, after=after)


def impact_to_proto(i: Impact, withhold: bool) -> order_pb2.ChangeImpact:
    # The impact's parts are named as the contract names them: one field list, not two.
    return order_pb2.ChangeImpact(
        work_orders=[order_pb2.ImpactedWorkOrder(**asdict(w)) for w in i.work_orders],
        materials=[order_pb2.ImpactedMaterial(**asdict(m)) for m in i.materials],
        scrap_value_fen=0 if withhold else i.scrap_value_fen,
        unavailable=i.unavailable,
        notes=i.notes,
    )


def change_to_proto(c: ChangeRequest, withhold: bool) -> order_pb2.ChangeRequest:
    return order_pb2.ChangeRequest(
        change_id=c.change_id,
        order_id=c.order_id,
        base_revision=c.base_revision,
        state=order_pb2.ChangeState.Value(c.state.value),
        reason=c.reason,
        cancels_order=c.cancels_order,
        proposed=content_to_proto(c.proposed, withhold) if c.proposed else None,
        diff=[field_change_to_proto(f, withhold) for f in c.diff],
        impact=impact_to_proto(c.impact, withhold),
        requested_by=c.requested_by,
        requested_at=timestamp_of(c.requested_at),
        decided_by=c.decided_by,
        decided_at=timestamp_of(c.decided_at),
        decision_note=c.decision_note,
        prices_withheld=withhold,
    )


def revision_to_proto(r: Revision, until, current: bool, withhold: bool) -> order_pb2.OrderRevision:
    return order_pb2.OrderRevision(
        revision=r.revision,
        content=content_to_proto(r.content, withhold),
        valid_from=timestamp_of(r.valid_from),
        valid_to=timestamp_of(until),
        change_id=r.change_id,
        reason=r.reason,
        approved_by=r.approved_by,
        diff=[field_change_to_proto(f, withhold) for f in r.diff],
        current=current,
    )


def audit_to_proto(order_id: str, order_no: str, t: Transition, withhold: bool) -> order_pb2.AuditEntry:
    return order_pb2.AuditEntry(
        order_id=order_id,
        order_no=order_no,
        action=t.action.value,
        actor=t.actor,
        at=timestamp_of(t.at),
        from_state=order_pb2.OrderState.Value(
            t.from_state.value if t.from_state else "ORDER_STATE_UNSPECIFIED"
        ),
        to_state=order_pb2.OrderState.Value(t.to_state.value),
        version=t.version,
        reason=t.reason,
        changes=[field_change_to_proto(f, withhold) for f in t.changes],
    )
