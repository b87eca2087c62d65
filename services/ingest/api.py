"""gRPC API of the ingest service: requests in, service layer, answers out."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime

from oms.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from oms.order.v1 import order_pb2
from services.chassis import identity
from services.chassis.errors import FieldViolation, InvalidArgument
from services.chassis.fields import (
    date_from_proto,
    date_to_proto,
    optional_date_from_proto,
    optional_instant_from_proto,
    timestamp_of,
)
from services.chassis.paging import page_size
from services.chassis.tenants import Tenant
from services.ingest.adapters.review_store import ReviewItem
from services.ingest.domain.market_rules import OrderLineDraft
from services.ingest.domain.model import Attachment, PhoneOrder, PhoneOrderLine
from services.ingest.domain.report import COUNTERS
from services.ingest.service_layer import handlers, review, uploads
from services.ingest.service_layer.desk import TenantDesk, utc_now
from services.ingest.service_layer.ports import CustomerBook, OrderDesk
from services.ingest.service_layer.pulling import Puller

STATES = {
    ingest_pb2.REVIEW_STATE_OPEN: "open",
    ingest_pb2.REVIEW_STATE_ACCEPTED: "accepted",
    ingest_pb2.REVIEW_STATE_REJECTED: "rejected",
    ingest_pb2.REVIEW_STATE_WITHDRAWN: "withdrawn",
}
STATE_OF = {v: k for k, v in STATES.items()}


class IngestApi(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(
        self,
        uow: handlers.UowFactory,
        orders: OrderDesk,
        customers: CustomerBook,
        tenant_of: Callable[[str], Tenant],
        puller: Puller,
    ):
        self._uow = uow
        self._orders = orders
        self._customers = customers
        self._tenant_of = tenant_of
        self._puller = puller

    def _tenant(self) -> Tenant:
        return self._tenant_of(identity.current().tenant_id)

    def _today(self) -> date:
        return utc_now().astimezone(self._tenant().line.tz).date()

    def SubmitPhoneOrder(self, request, context) -> ingest_pb2.SubmitPhoneOrderResponse:
        location = None
        if request.HasField("location"):
            x = request.location
            location = (x.latitude, x.longitude, x.accuracy_m)
        form = PhoneOrder(
            idempotency_key=request.idempotency_key,
            customer_id=request.customer_id,
            due_date=date_from_proto("due_date", request.due_date),
            # unset: the tenant's ingest_priority rule decides
            priority=order_pb2.Priority.Name(request.priority) if request.priority else "",
            lines=[
                PhoneOrderLine(
                    x.product_model,
                    x.quantity,
                    x.workshop,
                    x.colour,
                    x.surface_treatment,
                    x.unit_price_fen,
                    x.packaging,
                )
                for x in request.lines
            ],
            delivery_address=request.delivery_address,
            custom_fields={x.key: x.value for x in request.custom_fields},
            attachments=[Attachment(a.filename, a.content_type, a.data) for a in request.attachments],
            signed_at=optional_instant_from_proto(request, "signed_at"),
            location=location,
        )
        tenant = self._tenant()
        intake, duplicate = handlers.submit_phone_order(
            form,
            self._uow,
            self._orders,
            plant_day=lambda now: now.astimezone(tenant.line.tz).date(),
            priority_rule=TenantDesk(tenant, self._customers).priority,
        )
        return ingest_pb2.SubmitPhoneOrderResponse(
            order_id=intake.order_id,
            order_no=intake.order_no,
            duplicate=duplicate,
            attachments=[
                ingest_pb2.StoredAttachment(
                    filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256
                )
                for a in intake.attachments
            ],
        )

    def GetAttachment(self, request, context) -> ingest_pb2.GetAttachmentResponse:
        content_type, data = handlers.attachment(request.sha256, self._uow)
        return ingest_pb2.GetAttachmentResponse(content_type=content_type, data=data)

    def ListShops(self, request, context) -> ingest_pb2.ListShopsResponse:
        with self._uow(read_only=True) as tx:
            checkpoints = {c.shop: c for c in tx.market.checkpoints()}
        out = []
        for key, shop in self._tenant().shops.items():
            c = checkpoints.get(key)
            out.append(
                ingest_pb2.Shop(
                    shop=key,
                    platform=shop.platform,
                    name=shop.name,
                    enabled=shop.enabled,
                    flagship=shop.flagship,
                    pulled_until=timestamp_of(c.pulled_until) if c else None,
                    next_pull_at=timestamp_of(c.next_pull_at) if c else None,
                    failures=c.failures if c else 0,
                    last_error=c.last_error if c else "",
                    last_success_at=timestamp_of(c.last_success_at) if c else None,
                )
            )
        return ingest_pb2.ListShopsResponse(shops=out)

    def PullShop(self, request, context) -> ingest_pb2.PullShopResponse:
        result = self._puller.pull(self._tenant(), request.shop, force=True)
        with self._uow(read_only=True) as tx:
            return ingest_pb2.PullShopResponse(run=_run(tx.runs.get(result.run_id)))

    def ListReviewItems(self, request, context) -> ingest_pb2.ListReviewItemsResponse:
        state = STATES.get(request.state, "open")
        with self._uow(read_only=True) as tx:
            items, token = tx.review.page(
                state, request.source, page_size(request.page_size, 50), request.page_token
            )
        return ingest_pb2.ListReviewItemsResponse(items=[_item(x) for x in items], next_page_token=token)

    def GetReviewItem(self, request, context) -> ingest_pb2.GetReviewItemResponse:
        with self._uow(read_only=True) as tx:
            return ingest_pb2.GetReviewItemResponse(item=_item(tx.review.get(request.item_id.lower())))

    def ResolveReviewItem(self, request, context) -> ingest_pb2.ResolveReviewItemResponse:
        accept = request.decision == ingest_pb2.ResolveReviewItemRequest.DECISION_ACCEPT
        seen = [x.sub_order_id for x in request.lines]
        twice = [
            FieldViolation(f"lines[{i}].sub_order_id", "names a sub-order an earlier line already maps")
            for i, sub in enumerate(seen)
            if sub in seen[:i]
        ]
        if twice:
            raise InvalidArgument("a sub-order is mapped twice", twice)
        lines = {
            x.sub_order_id: OrderLineDraft(
                x.line.product_model,
                x.line.quantity,
                x.line.unit_price_fen,
                x.line.colour,
                x.line.surface_treatment,
                x.line.packaging,
                x.sub_order_id,
            )
            for x in request.lines
        }
        cmd = review.Resolution(
            request.item_id.lower(),  # a UUID is the same in capitals
            accept,
            request.note,
            request.customer_id,
            request.remember_buyer,
            request.delivery_address,
            lines,
        )
        item = review.resolve(cmd, TenantDesk(self._tenant(), self._customers), self._uow, self._orders)
        return ingest_pb2.ResolveReviewItemResponse(item=_item(item))

    def GetUploadTemplate(self, request, context) -> ingest_pb2.GetUploadTemplateResponse:
        tenant = self._tenant()
        filename, data = uploads.template(tenant)
        return ingest_pb2.GetUploadTemplateResponse(filename=filename, data=data)

    def UploadAgentSheet(self, request, context) -> ingest_pb2.UploadAgentSheetResponse:
        desk = TenantDesk(self._tenant(), self._customers)
        result = uploads.upload(request.filename, request.data, desk, self._uow, self._orders)
        return ingest_pb2.UploadAgentSheetResponse(
            duplicate=result.duplicate,
            rows_ok=result.rows_ok,
            rows_bad=result.rows_bad,
            orders=[
                ingest_pb2.UploadedOrder(order_id=o["order_id"], order_no=o["order_no"], rows=o["rows"])
                for o in result.orders
            ],
            error_report=result.error_report or b"",
            run_id=result.run_id,
            warnings=result.warnings,
        )

    def GetIngestReport(self, request, context) -> ingest_pb2.GetIngestReportResponse:
        today = self._today()
        day_from = optional_date_from_proto(request, "day_from") or today
        day_to = optional_date_from_proto(request, "day_to") or max(day_from, today)
        with self._uow(read_only=True) as tx:
            totals = tx.runs.totals(day_from, day_to)
            runs = tx.runs.between(day_from, day_to)
            waiting = tx.review.count_open()
        sums = {k: sum(int(x[k]) for x in totals) for k in COUNTERS}
        return ingest_pb2.GetIngestReportResponse(
            days=[
                ingest_pb2.DayReport(
                    day=date_to_proto(x["day"]),
                    source=x["source"],
                    runs=x["runs"],
                    counts=ingest_pb2.Counts(**{k: int(x[k]) for k in COUNTERS}),
                )
                for x in totals
            ],
            totals=ingest_pb2.Counts(**sums),
            runs=[_run(r) for r in runs],
            waiting_for_review=waiting,
        )


def _item(x: ReviewItem) -> ingest_pb2.ReviewItem:
    return ingest_pb2.ReviewItem(
        item_id=x.item_id,
        source=x.source,
        platform=x.platform,
        shop=x.shop,
        external_id=x.external_id,
        state=STATE_OF.get(x.state, ingest_pb2.REVIEW_STATE_UNSPECIFIED),
        reasons=[ingest_pb2.ReviewReason(code=r.code, message=r.message) for r in x.reasons],
        raw_json=json.dumps(x.raw, ensure_ascii=False, sort_keys=True),
        opened_at=timestamp_of(x.opened_at),
        updated_at=timestamp_of(x.updated_at),
        resolved_by=x.resolved_by,
        resolved_at=timestamp_of(x.resolved_at),
        note=x.note,
        order_id=x.order_id,
        order_no=x.order_no,
    )


def _run(r: dict) -> ingest_pb2.IngestRun:
    def ts(value: datetime | None):
        return timestamp_of(value) if value else None

    return ingest_pb2.IngestRun(
        run_id=r["run_id"],
        source=r["source"],
        ref=r["ref"],
        started_at=ts(r["started_at"]),
        finished_at=ts(r["finished_at"]),
        window_start=ts(r["window_start"]),
        window_end=ts(r["window_end"]),
        counts=ingest_pb2.Counts(**{k: int(r[k]) for k in COUNTERS}),
        error=r["error"],
    )
