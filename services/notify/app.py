"""Composition root of the notify service (gRPC read API and the event handlers)."""

from __future__ import annotations

import os
from pathlib import Path

from oms.notify.v1 import notify_pb2, notify_pb2_grpc
from services.chassis.consumer import Subscription
from services.chassis.jobs import Job
from services.chassis.runtime import ServiceContext, ServiceDefinition, Wiring
from services.chassis.server import GrpcBinding
from services.notify import consumers, order_consumers
from services.notify.adapters.tables import metadata
from services.notify.api import NotifyApi
from services.notify.channels.directory import TenantChannels, build_channels
from services.notify.domain.model import Workshop
from services.notify.service_layer import dispatch, due_watch
from services.notify.service_layer.unit_of_work import NotifyUnitOfWork


def wire(ctx: ServiceContext) -> Wiring:
    def workshop(tenant_id: str, code: str) -> Workshop:
        known = ctx.tenant(tenant_id).workshops.get(code)
        if known is None:
            # An unknown workshop still reaches someone: the tenant's production planner.
            return Workshop(code, code, "生产计划员 planner")
        return Workshop(code, known.name, known.lead)

    name = notify_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name
    return Wiring(
        bindings=[GrpcBinding(name, notify_pb2_grpc.add_NotifyServiceServicer_to_server, NotifyApi(ctx.uow))],
        subscriptions=[
            Subscription(
                "production",
                "work_order_created",
                consumers.on_work_order_created(workshop),
                name="tell_workshop_lead_of_work_order",
            ),
            # A changed colour must reach the shop floor before the wrong parts are plated.
            Subscription(
                "production",
                "work_order_revised",
                consumers.on_work_order_revised(workshop),
                name="tell_workshop_lead_of_revision",
            ),
            Subscription(
                "production",
                "work_order_cancelled",
                consumers.on_work_order_cancelled(workshop),
                name="tell_workshop_lead_of_cancellation",
            ),
            # notify's own projection for the due-date check (it reads no other service's database)
            Subscription("production", "work_order_stage_changed", consumers.watch_stage, name="watch_stage"),
            Subscription(
                "order", "order_created", consumers.watch_order_customer, name="watch_order_customer"
            ),
            Subscription("customer", "customer_created", consumers.watch_customer, name="watch_customer"),
            Subscription("customer", "customer_updated", consumers.watch_customer, name="watch_customer"),
            # an order's change: planning, the warehouse and the sales owner hear of it
            *(
                Subscription(
                    "order", event, order_consumers.on_order_change(ctx.tenant), name="tell_of_order_change"
                )
                for event in ("order_change_requested", "order_changed", "order_change_rejected")
            ),
            Subscription(
                "ingest",
                "review_item_opened",
                order_consumers.on_review_item_opened(ctx.tenant),
                name="tell_order_desk",
            ),
            *(
                Subscription(source, event, told(ctx.tenant), name=name)
                for source, event, told, name in TOLD_BY_TENANT_FILE
            ),
        ],
        jobs=[due_check_job(ctx), dispatch_job(ctx)],
    )


# Events whose people come from the tenant file (roles) and notify's projection (sales owners).
TOLD_BY_TENANT_FILE = (
    # materials locked by a rule or short: the planners
    (
        "inventory",
        "materials_reserved",
        order_consumers.on_materials_reserved,
        "tell_planners_of_reservation",
    ),
    (
        "inventory",
        "reservation_adjusted",
        order_consumers.on_reservation_adjusted,
        "tell_planners_of_adjustment",
    ),
    # an order's milestones and its shipping: the customer's sales owner
    ("order", "order_state_changed", order_consumers.on_order_state_changed, "tell_sales_owner_of_stage"),
    ("order", "order_shipped", order_consumers.on_order_shipped, "tell_sales_owner_of_shipping"),
    # a cancelled order: the planners; a marketplace order's started work: its leads, urgently
    ("order", "order_cancelled", order_consumers.on_order_cancelled, "tell_of_order_cancelled"),
    # a customer's after-sales request: its sales owner and the order desk
    ("order", "after_sales_requested", order_consumers.on_after_sales_requested, "tell_of_after_sales"),
)


def due_check_job(ctx: ServiceContext) -> Job:
    """The due-date check per tenant (in the embedded stack's and notify's own runner; the nameko
    worker's timer ticks the same job, whose lease makes it once per period across all of them)."""
    return Job(
        "due_check",
        every_s=ctx.settings.due_check_s,
        run=lambda tenant_id: due_watch.check_due(ctx.tenant(tenant_id), ctx.uow),
    )


def dispatch_job(ctx: ServiceContext) -> Job:
    """Notices out on each tenant's channels ([notify.channels], credentials from the environment,
    built once here); every OMS_NOTIFY_DISPATCH_S seconds, retries by [notify.retry]."""
    built: dict[str, TenantChannels] = {}

    def run(tenant_id: str) -> object:
        tenant = ctx.tenant(tenant_id)
        if tenant_id not in built:  # on the first run: nothing is built at import or wiring
            built[tenant_id] = build_channels(tenant, os.environ)
        return dispatch.dispatch(tenant, ctx.uow, built[tenant_id])

    return Job("notify_dispatch", every_s=ctx.settings.dispatch_s, run=run)


def nameko_service_name(release: str) -> str:
    """nameko names its queues after the service: a release sharing the broker needs its own."""
    return f"notify-{release}" if release else "notify"


def nameko_queue(release: str, sub: Subscription) -> str:
    """The queue nameko's @event_handler reads (SERVICE_POOL naming; the worker's handler method
    for an event type is always `on_<event type>`)."""
    return f"evt-{sub.source}-{sub.event_type}--{nameko_service_name(release)}.on_{sub.event_type}"


definition = ServiceDefinition(
    name="notify",
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    contracts={},
    unit_of_work=NotifyUnitOfWork,
    wire=wire,
    consumers_run_elsewhere=True,  # by the nameko worker in distributed mode
    external_queue=nameko_queue,
)
