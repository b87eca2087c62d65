"""Event entry points whose people come from the tenant file's roles and notify's projection (a
customer's sales owner): an order's change, materials locked or short, an order's milestones and
shipping, a cancelled order, an incoming order waiting for review. Shared by the embedded stack
and the nameko worker, as services/notify/consumers.py."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone

from oms.ingest.v1 import ingest_pb2
from oms.inventory.v1 import inventory_pb2
from oms.order.v1 import order_pb2
from services.chassis import identity
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.chassis.tenants import Tenant
from services.notify.service_layer import order_notices
from services.notify.service_layer.unit_of_work import NotifyUnitOfWork

TenantOf = Callable[[str], Tenant]


def on_order_change(tenant_of: TenantOf):
    """order.order_change_requested / order_changed / order_change_rejected -> planning, the
    warehouse and the customer's sales owner (work and material issues freeze, then go on)."""

    def tell_of_order_change(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        tenant = tenant_of(identity.current().tenant_id)
        if event.event_type == "order_change_requested":
            asked = event.as_proto(order_pb2.OrderChangeRequested)
            what = "取消订单 cancel the order" if asked.cancels_order else f"{len(asked.diff)} 项修改 changes"
            subject = f"订单变更申请 change requested: {asked.order_no} ({what})"
            frozen = "工单与领料已冻结 work orders and material issues frozen"
            body = f"{asked.requested_by}: {asked.reason}; {frozen}"
            msg = asked
        elif event.event_type == "order_changed":
            done = event.as_proto(order_pb2.OrderChanged)
            revisions = f"{done.previous_revision} → {done.revision}"
            subject = f"订单变更已批准 change approved: {done.order_no} 版本 rev {revisions}"
            body = f"{done.approved_by}: {done.reason}; 交期 due {done.due_date}"
            msg = done
        else:
            no = event.as_proto(order_pb2.OrderChangeRejected)
            subject = f"订单变更被拒绝 change rejected: {no.order_no}"
            body = f"{no.rejected_by}: {no.note}; 工单与领料解冻 work orders and material issues go on"
            msg = no
        if not msg.order_id or not msg.order_no:
            raise MalformedEvent(f"{event.event_type} {event.event_id} has no order")
        people = order_notices.change_audience(tenant, uow, msg.customer_id)
        order_notices.tell(
            uow,
            people,
            subject,
            body,
            event.event_id,
            msg.order_no,
            kind=event.event_type,
            order_no=msg.order_no,
        )

    return tell_of_order_change


def on_review_item_opened(tenant_of: TenantOf):
    """ingest.review_item_opened -> the order desk: an incoming order waits for a person."""

    def tell_order_desk(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        msg = event.as_proto(ingest_pb2.ReviewItemOpened)
        if not msg.item_id:
            raise MalformedEvent(f"review_item_opened {event.event_id} has no item")
        tenant = tenant_of(identity.current().tenant_id)
        where = "/".join(x for x in (msg.platform, msg.shop) if x) or msg.source
        subject = f"待审核订单 order waiting for review: {where} {msg.external_id}"
        body = "原因 reasons: " + ", ".join(msg.reason_codes)
        people = order_notices.people_with(tenant, ("order_desk",))
        reference = msg.external_id or msg.item_id
        order_notices.tell(uow, people, subject, body, event.event_id, reference, kind="review_item_opened")

    return tell_order_desk


PLANNERS = ("planner",)


def on_materials_reserved(tenant_of: TenantOf):
    """inventory.materials_reserved -> the tenant's planners: materials a lock rule holds for this
    order alone, and materials an override accepted short (each its own notice). An order neither
    locked nor short is routine: nobody is told."""

    def tell_planners_of_reservation(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        msg = event.as_proto(inventory_pb2.MaterialsReserved)
        _check_order(event, msg.order_id, msg.order_no)
        _check_materials(event, msg.materials)
        if msg.locked and not msg.lock_rule:
            raise MalformedEvent(f"materials_reserved {event.event_id} is locked by no rule")
        planners = order_notices.people_with(tenant_of(identity.current().tenant_id), PLANNERS)
        if msg.locked:
            held = _listed((m.material, m.reserved + m.issued, m.unit) for m in msg.materials)
            body = f"规则 rule {msg.lock_rule}: 物料仅供此单 held for this order only"
            order_notices.tell(
                uow,
                planners,
                f"物料已锁定 materials locked: {msg.order_no} (规则 rule {msg.lock_rule})",
                body + (f"\n锁定 held: {held}" if held else ""),
                event.event_id,
                msg.order_no,
                kind="materials_locked",
                order_no=msg.order_no,
            )
        short = _listed((m.material, m.short, m.unit) for m in msg.materials)
        if short:
            accepted = f"\n缺料放行 accepted short by {msg.overridden_by}: {msg.override_reason}"
            order_notices.tell(
                uow,
                planners,
                f"物料短缺 materials short: {msg.order_no}",
                f"缺料 short: {short}" + (accepted if msg.overridden else ""),
                event.event_id,
                msg.order_no,
                kind="materials_short",
                order_no=msg.order_no,
            )

    return tell_planners_of_reservation


def on_reservation_adjusted(tenant_of: TenantOf):
    """inventory.reservation_adjusted -> the tenant's planners when an approved change needs more
    than stock covers (`short`): the short materials, by name. Not short: nobody is told."""

    def tell_planners_of_adjustment(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        msg = event.as_proto(inventory_pb2.ReservationAdjusted)
        _check_order(event, msg.order_id, msg.order_no)
        for materials in (msg.materials, msg.released, msg.added):
            _check_materials(event, materials)
        if not msg.short:
            return
        short = _listed((m.material, m.short, m.unit) for m in msg.materials)
        if not short:
            raise MalformedEvent(f"reservation_adjusted {event.event_id} is short of no material")
        order_notices.tell(
            uow,
            order_notices.people_with(tenant_of(identity.current().tenant_id), PLANNERS),
            f"物料短缺 materials short: {msg.order_no}",
            f"缺料 short: {short}\n订单变更后 after the change to revision {msg.revision}",
            event.event_id,
            msg.order_no,
            kind="materials_short",
            order_no=msg.order_no,
        )

    return tell_planners_of_adjustment


# An order's states for people (as the order service and omsctl say them).
ORDER_STATE_LABELS = {
    order_pb2.ORDER_STATE_DRAFT: "草稿 Draft",
    order_pb2.ORDER_STATE_PENDING_APPROVAL: "待审批 Pending approval",
    order_pb2.ORDER_STATE_APPROVED: "已审批 Approved",
    order_pb2.ORDER_STATE_IN_PRODUCTION: "生产中 In production",
    order_pb2.ORDER_STATE_QC_PASSED: "质检完成 QC passed",
    order_pb2.ORDER_STATE_READY_TO_SHIP: "待发货 Ready to ship",
    order_pb2.ORDER_STATE_SHIPPED: "已发货 Shipped",
    order_pb2.ORDER_STATE_CLOSED: "已关闭 Closed",
    order_pb2.ORDER_STATE_CANCELLED: "已取消 Cancelled",
    order_pb2.ORDER_STATE_PENDING_CHANGE: "变更待审 Pending change",
}
# The stages a sales owner is told of, in the order production reaches them: work started, QC
# passed, ready to ship (what a customer asks about). Not APPROVED (production reports it only
# when a change re-plans the work: the sales owner hears of that change itself), not a move back
# to an earlier stage (the same), and shipping comes as order_shipped, with its time.
MILESTONES = (
    order_pb2.ORDER_STATE_IN_PRODUCTION,
    order_pb2.ORDER_STATE_QC_PASSED,
    order_pb2.ORDER_STATE_READY_TO_SHIP,
)
# The customer's own contact is not told: customers have no opt-in to notices yet.


def on_order_state_changed(tenant_of: TenantOf):
    """order.order_state_changed -> the customer's sales owner, when production brings the order
    to a milestone (MILESTONES). No sales owner known: nobody is told."""

    def tell_sales_owner_of_stage(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        msg = event.as_proto(order_pb2.OrderStateChanged)
        _check_order(event, msg.order_id, msg.order_no, msg.customer_id)
        for name, state in (("from_state", msg.from_state), ("to_state", msg.to_state)):
            if state not in ORDER_STATE_LABELS:
                raise MalformedEvent(
                    f"order_state_changed {event.event_id}: {name} {state} is not an order state"
                )
        at = _moment(event, "at", msg.at)
        earlier = MILESTONES.index(msg.from_state) if msg.from_state in MILESTONES else -1
        if msg.to_state not in MILESTONES or MILESTONES.index(msg.to_state) <= earlier:
            return
        owner = uow.watch.sales_owner_of_customer(msg.customer_id)
        if not owner:
            return
        tenant = tenant_of(identity.current().tenant_id)
        reached = ORDER_STATE_LABELS[msg.to_state]
        order_notices.tell(
            uow,
            [(owner, "sales_owner")],
            f"订单进度 order reached {reached}: {msg.order_no}",
            f"{ORDER_STATE_LABELS[msg.from_state]} → {reached}; 时间 at {_local(tenant, at)}",
            event.event_id,
            msg.order_no,
            kind="stage_reached",
            order_no=msg.order_no,
        )

    return tell_sales_owner_of_stage


def on_order_shipped(tenant_of: TenantOf):
    """order.order_shipped -> the customer's sales owner, with when it left (plant time). No sales
    owner known: nobody is told. (The customer's own contact: no opt-in yet, see MILESTONES.)"""

    def tell_sales_owner_of_shipping(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        msg = event.as_proto(order_pb2.OrderShipped)
        _check_order(event, msg.order_id, msg.order_no, msg.customer_id)
        shipped_at = _moment(event, "shipped_at", msg.shipped_at)
        owner = uow.watch.sales_owner_of_customer(msg.customer_id)
        if not owner:
            return
        tenant = tenant_of(identity.current().tenant_id)
        by = f"; 经办 by {msg.shipped_by}" if msg.shipped_by else ""
        order_notices.tell(
            uow,
            [(owner, "sales_owner")],
            f"订单已发货 order shipped: {msg.order_no}",
            f"发货时间 shipped at {_local(tenant, shipped_at)}{by}",
            event.event_id,
            msg.order_no,
            kind="order_shipped",
            order_no=msg.order_no,
        )

    return tell_sales_owner_of_shipping


# 售后申请 kinds as people read them (order.proto's AfterSalesKind)
AFTER_SALES_KINDS = {
    "AFTER_SALES_KIND_QUALITY": "质量问题 quality",
    "AFTER_SALES_KIND_SHORTAGE": "数量短缺 shortage",
    "AFTER_SALES_KIND_DAMAGE": "运输损坏 damage in transport",
    "AFTER_SALES_KIND_DELIVERY": "交期问题 delivery time",
    "AFTER_SALES_KIND_OTHER": "其他 other",
}


def on_after_sales_requested(tenant_of: TenantOf):
    """order.after_sales_requested -> the customer's sales owner and the order desk: a customer
    says something is wrong with an order (售后申请)."""

    def tell_of_after_sales(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        msg = event.as_proto(order_pb2.AfterSalesRequested)
        _check_order(event, msg.order_id, msg.order_no, msg.customer_id)
        kind = AFTER_SALES_KINDS.get(msg.kind)
        if kind is None:
            raise MalformedEvent(f"after_sales_requested {event.event_id} has kind {msg.kind[:40]!r}")
        tenant = tenant_of(identity.current().tenant_id)
        people = order_notices.people_with(tenant, ("order_desk",))
        owner = uow.watch.sales_owner_of_customer(msg.customer_id)
        if owner:
            people = [(owner, "sales_owner"), *[p for p in people if p[0] != owner]]
        order_notices.tell(
            uow,
            people,
            f"售后申请 after-sales request: {msg.order_no} ({kind})",
            f"{msg.submitted_by}: {msg.description}",
            event.event_id,
            msg.order_no,
            kind="after_sales_requested",
            order_no=msg.order_no,
        )

    return tell_of_after_sales


def on_order_cancelled(tenant_of: TenantOf):
    """order.order_cancelled -> the tenant's planners, whoever cancelled (capacity and materials
    come free either way); when it is a marketplace order, also urgently (stop work) the lead of
    each workshop where its work has started (notify's projection of work orders).

    "From a marketplace" is the order's channel as order_created gave it (the projection), not
    `cancelled_by` (once production has started, ingest can only ask for a cancelling change, and
    `cancelled_by` is then the staff member who approved it) nor the reason (the platform's free
    text). A staff cancellation is a decision made in the plant: the leads hear of it from
    production's work_order_cancelled, per work order, as they do for marketplace orders too.
    A work order production cancelled before this event arrived is not listed: its lead was told."""

    def tell_of_order_cancelled(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        msg = event.as_proto(order_pb2.OrderCancelled)
        _check_order(event, msg.order_id, msg.order_no)
        tenant = tenant_of(identity.current().tenant_id)
        marketplace = uow.watch.channel_of(msg.order_id) == "CHANNEL_MARKETPLACE"
        what = (
            f"电商订单已取消 marketplace order cancelled: {msg.order_no}"
            if marketplace
            else f"订单已取消 order cancelled: {msg.order_no}"
        )
        why = ": ".join(x for x in (msg.cancelled_by, msg.reason) if x)
        leads: dict[str, list[str]] = {}  # lead -> their started work orders
        if marketplace:
            for work_order_no, code in uow.watch.started_work_orders(msg.order_id):
                workshop = tenant.workshops.get(code)
                if workshop is not None:  # an unknown workshop has no lead: the planners hear it
                    leads.setdefault(workshop.lead, []).append(f"{work_order_no} ({workshop.name})")
        started = "; ".join(wo for named in leads.values() for wo in named)
        planners = [p for p in order_notices.people_with(tenant, PLANNERS) if p[0] not in leads]
        order_notices.tell(
            uow,
            planners,
            what,
            "\n".join(x for x in (why, f"已开工工单 work started: {started}" if started else "") if x),
            event.event_id,
            msg.order_no,
            kind="order_cancelled",
            order_no=msg.order_no,
        )
        for lead, work_orders in leads.items():
            order_notices.tell(
                uow,
                [(lead, "workshop_lead")],
                f"停止加工 stop work: {what}",
                "\n".join(x for x in (f"工单 work orders: {'; '.join(work_orders)}", why) if x),
                event.event_id,
                msg.order_no,
                kind="order_cancelled",
                order_no=msg.order_no,
                urgent=True,
            )

    return tell_of_order_cancelled


def _check_order(event: ReceivedEvent, order_id: str, order_no: str, *customer_id: str) -> None:
    if not order_id or not order_no or not all(customer_id):
        needed = "order id, order number or customer" if customer_id else "order id or order number"
        raise MalformedEvent(f"{event.event_type} {event.event_id} has no {needed}")


def _check_materials(event: ReceivedEvent, materials) -> None:
    for m in materials:
        if not m.material:
            raise MalformedEvent(f"{event.event_type} {event.event_id} names a material without a name")
        for name in ("needed", "reserved", "issued", "short"):
            value = getattr(m, name)
            if not math.isfinite(value) or value < 0:
                raise MalformedEvent(
                    f"{event.event_type} {event.event_id}: {m.material[:64]} has {name} {value}"
                )


def _listed(materials: Iterable[tuple[str, float, str]]) -> str:
    """The materials of which there is some, as "镀金液 gold plating solution 2.5 L; 钢板 120 kg"."""
    return "; ".join(f"{name} {_quantity(q)} {unit}".rstrip() for name, q, unit in materials if q > 0)


def _quantity(value: float) -> str:
    """As people read it: 600, 10.5, 0.002 (to the millionth inventory counts in)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _moment(event: ReceivedEvent, name: str, text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is not None and at.tzinfo is not None:
        try:  # "0001-01-01T00:00:00+14:00" is a time no calendar can show: malformed, not a retry
            at.astimezone(UTC).astimezone(timezone(timedelta(hours=14))).astimezone(
                timezone(timedelta(hours=-12))
            )
            return at
        except OverflowError:
            pass
    raise MalformedEvent(f"{event.event_type} {event.event_id}: {name} {text[:40]!r} is not an RFC 3339 time")


def _local(tenant: Tenant, at: datetime) -> str:
    """Plant time to the minute, e.g. "2026-11-26 10:00"."""
    return at.astimezone(tenant.line.tz).strftime("%Y-%m-%d %H:%M")
