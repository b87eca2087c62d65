"""The walking-skeleton scenario through the public gRPC API, shared by both run modes."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import grpc
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_status import rpc_status

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from oms.inventory.v1 import inventory_pb2_grpc
from oms.notify.v1 import notify_pb2, notify_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from oms.production.v1 import production_pb2, production_pb2_grpc
from omsctl.tokens import dev_issuer


@dataclass
class Caller:
    tenant: str
    user: str = "陈丽"
    roles: tuple[str, ...] = ("sales", "approver")
    customer_id: str = ""

    def metadata(self):
        token = dev_issuer().mint(self.tenant, self.user, self.roles, customer_id=self.customer_id)
        return (("authorization", f"Bearer {token}"),)


class Api:
    def __init__(self, addresses: dict[str, str]):
        self.addresses = addresses  # every service, for omsctl
        self._channels = {name: grpc.insecure_channel(addr) for name, addr in addresses.items()}
        self.customers = customer_pb2_grpc.CustomerServiceStub(self._channels["customer"])
        self.orders = order_pb2_grpc.OrderServiceStub(self._channels["order"])
        self.production = production_pb2_grpc.ProductionServiceStub(self._channels["production"])
        self.inventory = inventory_pb2_grpc.InventoryServiceStub(self._channels["inventory"])
        self.notify = notify_pb2_grpc.NotifyServiceStub(self._channels["notify"])
        self.ingest = ingest_pb2_grpc.IngestServiceStub(self._channels["ingest"])

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()


def line(
    model="HB-2040 铰链 hinge", qty=5000, workshop="stamping-1", colour="银色 silver", surface="电镀 plating"
) -> order_pb2.OrderLine:
    return order_pb2.OrderLine(
        product_model=model,
        quantity=qty,
        workshop=workshop,
        colour=colour,
        surface_treatment=surface,
        unit_price_fen=85,
    )


def due(days: int = 20) -> date_pb2.Date:
    day = date.today() + timedelta(days=days)
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def bad_request_fields(exc: grpc.RpcError) -> set[str]:
    return {field for field, _ in bad_request_violations(exc)}


def bad_request_violations(exc: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(exc)
    found = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found += [(v.field, v.description) for v in bad.field_violations]
    return found


def run_skeleton_flow(api: Api) -> dict:
    """customer → order → approve → work order (≤ 2 s) → workshop lead told. Returns timings."""
    sales = Caller("hardware")
    md = sales.metadata()
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"E2E-{uuid.uuid4().hex[:6].upper()}",
            name="格力电器珠海 Gree Zhuhai",
            years_of_cooperation=6,
            yearly_purchases_cny=4_000_000,
            sales_owner="陈丽",
        ),
        metadata=md,
    ).customer
    assert customer.tier == customer_pb2.TIER_A

    order = api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer.customer_id,
            channel=order_pb2.CHANNEL_DIRECT,
            priority=order_pb2.PRIORITY_HIGH,
            due_date=due(),
            # HB-2040 is routed stamping-1 → plating → assembly, BK-310 stamping-1 (tenants/hardware.toml)
            lines=[line(), line("BK-310 支架 bracket", 2000, "", "", "")],
        ),
        metadata=md,
    ).order
    assert order.state == order_pb2.ORDER_STATE_PENDING_APPROVAL
    assert order.order_no.startswith("HW-")

    started = time.monotonic()
    approved = api.orders.ApproveOrder(
        order_pb2.ApproveOrderRequest(order_id=order.order_id, expected_version=order.version), metadata=md
    ).order
    assert approved.state == order_pb2.ORDER_STATE_APPROVED and approved.version == order.version + 1

    work_orders = []
    while time.monotonic() - started < 2.0:
        work_orders = api.production.ListWorkOrders(
            production_pb2.ListWorkOrdersRequest(order_id=order.order_id), metadata=md
        ).work_orders
        if len(work_orders) == 3:
            break
        time.sleep(0.02)
    visible_after = time.monotonic() - started
    assert len(work_orders) == 3, f"work orders not visible within 2 s (saw {len(work_orders)})"
    assert visible_after < 2.0, f"work orders visible only after {visible_after:.2f} s"
    by_shop = {w.workshop: w for w in work_orders}
    assert set(by_shop) == {"stamping-1", "plating", "assembly"}
    assert [w.step for w in sorted(work_orders, key=lambda w: w.step)] == [1, 2, 3]
    assert [x.product_model for x in by_shop["stamping-1"].lines] == [
        "HB-2040 铰链 hinge",
        "BK-310 支架 bracket",
    ]
    assert [x.product_model for x in by_shop["plating"].lines] == ["HB-2040 铰链 hinge"]
    assert by_shop["stamping-1"].lines[0].colour == "银色 silver"
    assert all(
        w.stage == production_pb2.STAGE_TO_SCHEDULE and w.order_no == order.order_no for w in work_orders
    )

    notes = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        notes = api.notify.ListNotifications(
            notify_pb2.ListNotificationsRequest(reference=by_shop["stamping-1"].work_order_no), metadata=md
        ).notifications
        if notes:
            break
        time.sleep(0.05)
    assert [n.recipient for n in notes] == ["王建国"], "the stamping-1 lead was not told exactly once"
    assert notes[0].recipient_role == "workshop_lead"
    return {"order": order, "work_orders": work_orders, "visible_after_s": visible_after}


def check_malformed_request_is_refused(api: Api) -> None:
    md = Caller("hardware").metadata()
    before = api.orders.ListOrders(order_pb2.ListOrdersRequest(page_size=500), metadata=md).orders
    try:
        api.orders.CreateOrder(
            order_pb2.CreateOrderRequest(
                customer_id="not-a-uuid",
                channel=order_pb2.CHANNEL_DIRECT,
                due_date=date_pb2.Date(year=2026, month=25, day=12),  # 25/12 read the wrong way
                lines=[line(qty=0)],
            ),
            metadata=md,
        )
        raise AssertionError("malformed order was accepted")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_request_fields(exc) == {"customer_id", "due_date", "lines[0].quantity"}
    # Well formed, but no such day: still the caller's mistake, named, not an internal error.
    try:
        api.orders.CreateOrder(
            order_pb2.CreateOrderRequest(
                customer_id=str(uuid.uuid4()),
                channel=order_pb2.CHANNEL_DIRECT,
                due_date=date_pb2.Date(year=2026, month=2, day=30),
                lines=[line()],
            ),
            metadata=md,
        )
        raise AssertionError("30 February was accepted")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_request_fields(exc) == {"due_date"}
    after = api.orders.ListOrders(order_pb2.ListOrdersRequest(page_size=500), metadata=md).orders
    assert len(after) == len(before), "a refused request left an order behind"


def check_tenants_and_customers_are_isolated(api: Api, order_id: str, customer_id: str) -> None:
    # Another business line cannot see the order at all.
    try:
        api.orders.GetOrder(
            order_pb2.GetOrderRequest(order_id=order_id), metadata=Caller("autoparts").metadata()
        )
        raise AssertionError("autoparts read a hardware order")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND
    # A portal account of another customer cannot either; its own customer can.
    other = Caller("hardware", "portal-user", ("customer",), customer_id=str(uuid.uuid4()))
    try:
        api.orders.GetOrder(order_pb2.GetOrderRequest(order_id=order_id), metadata=other.metadata())
        raise AssertionError("a customer read another customer's order")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND
    own = Caller("hardware", "portal-user", ("customer",), customer_id=customer_id)
    assert api.orders.GetOrder(
        order_pb2.GetOrderRequest(order_id=order_id), metadata=own.metadata()
    ).order.order_id
    # The shop floor's records are staff-only: a portal account is refused, not shown them.
    for call, request in (
        (api.production.ListWorkOrders, production_pb2.ListWorkOrdersRequest(order_id=order_id)),
        (api.notify.ListNotifications, notify_pb2.ListNotificationsRequest()),
    ):
        try:
            call(request, metadata=own.metadata())
            raise AssertionError(f"a portal account read {type(request).__name__}")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
    # No token, no answer.
    try:
        api.orders.GetOrder(order_pb2.GetOrderRequest(order_id=order_id))
        raise AssertionError("an anonymous call was answered")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAUTHENTICATED


def check_phone_order_is_idempotent(api: Api, customer_id: str) -> None:
    md = Caller("hardware").metadata()
    form = ingest_pb2.SubmitPhoneOrderRequest(
        idempotency_key=f"phone-{uuid.uuid4()}",
        customer_id=customer_id,
        due_date=due(10),
        lines=[line(qty=300)],
    )
    first = api.ingest.SubmitPhoneOrder(form, metadata=md)
    again = api.ingest.SubmitPhoneOrder(form, metadata=md)
    assert not first.duplicate and again.duplicate
    assert again.order_id == first.order_id and again.order_no == first.order_no


def check_walking_skeleton(api: Api) -> dict:
    """The flow, then who may see its results, then the admin's view of them."""
    result = run_skeleton_flow(api)
    order = result["order"]
    check_tenants_and_customers_are_isolated(api, order.order_id, order.customer_id)
    check_omsctl_reads_back(api.addresses, order.order_id, {w.work_order_no for w in result["work_orders"]})
    return result


def check_omsctl_reads_back(addresses: dict[str, str], order_id: str, work_order_nos: set[str]) -> None:
    """The admin's view: `omsctl work-orders --order <id>` shows the same work orders."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, **{f"OMS_{name.upper()}_ADDR": addr for name, addr in addresses.items()})
    out = subprocess.run(
        [sys.executable, "-m", "omsctl", "--roles", "sales", "work-orders", "--order", order_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert {w["work_order_no"] for w in json.loads(out)} == work_order_nos


def check_order_lifecycle(api: Api) -> None:
    """draft → submit → approve, and cancel, through the public API: each step versioned, in the
    history with its actor and time, refused with a clear status when illegal, forbidden or stale,
    invisible to another tenant."""
    sales = Caller("hardware", "陈丽", ("sales",))
    approver = Caller("hardware", "李经理", ("approver",))
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"LC-{uuid.uuid4().hex[:6].upper()}", name="美的厨电 Midea Kitchen", sales_owner="陈丽"
        ),
        metadata=sales.metadata(),
    ).customer

    def create(draft: bool) -> order_pb2.Order:
        request = order_pb2.CreateOrderRequest(
            customer_id=customer.customer_id,
            channel=order_pb2.CHANNEL_AGENT,
            due_date=due(),
            lines=[line()],
            draft=draft,
        )
        return api.orders.CreateOrder(request, metadata=sales.metadata()).order

    draft = create(draft=True)
    assert draft.state == order_pb2.ORDER_STATE_DRAFT and draft.version == 1
    # a draft is not approved before it is submitted: the answer names its state
    try:
        api.orders.ApproveOrder(
            order_pb2.ApproveOrderRequest(order_id=draft.order_id, expected_version=1),
            metadata=approver.metadata(),
        )
        raise AssertionError("a draft was approved")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "草稿 Draft" in exc.details(), (
            exc.details()
        )

    submitted = api.orders.SubmitOrder(
        order_pb2.SubmitOrderRequest(order_id=draft.order_id, expected_version=1), metadata=sales.metadata()
    ).order
    assert submitted.state == order_pb2.ORDER_STATE_PENDING_APPROVAL and submitted.version == 2
    # a stale screen submitting again is ABORTED, not applied twice
    try:
        api.orders.SubmitOrder(
            order_pb2.SubmitOrderRequest(order_id=draft.order_id, expected_version=1),
            metadata=sales.metadata(),
        )
        raise AssertionError("a stale submit was applied")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.ABORTED
    approved = api.orders.ApproveOrder(
        order_pb2.ApproveOrderRequest(order_id=draft.order_id, expected_version=2),
        metadata=approver.metadata(),
    ).order
    assert approved.state == order_pb2.ORDER_STATE_APPROVED and approved.version == 3

    history = api.orders.ListOrderHistory(
        order_pb2.ListOrderHistoryRequest(order_id=draft.order_id), metadata=approver.metadata()
    ).transitions
    assert [(t.action, t.from_state, t.to_state, t.actor, t.version) for t in history] == [
        ("create", order_pb2.ORDER_STATE_UNSPECIFIED, order_pb2.ORDER_STATE_DRAFT, "陈丽", 1),
        ("submit", order_pb2.ORDER_STATE_DRAFT, order_pb2.ORDER_STATE_PENDING_APPROVAL, "陈丽", 2),
        ("approve", order_pb2.ORDER_STATE_PENDING_APPROVAL, order_pb2.ORDER_STATE_APPROVED, "李经理", 3),
    ]
    stamps = [t.at.ToDatetime() for t in history]
    assert stamps == sorted(stamps) and all(t.HasField("at") for t in history)

    # an approved order has work orders: it is not cancelled by a plain cancel
    try:
        api.orders.CancelOrder(
            order_pb2.CancelOrderRequest(order_id=draft.order_id, expected_version=3, reason="客户取消"),
            metadata=approver.metadata(),
        )
        raise AssertionError("an approved order was cancelled")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "已审批 Approved" in exc.details()

    pending = create(draft=False)
    refusals = [
        # (caller, request, expected code, fields named)
        (
            sales,
            order_pb2.CancelOrderRequest(order_id=pending.order_id, reason=""),
            "INVALID_ARGUMENT",
            {"reason"},
        ),
        (
            sales,
            order_pb2.CancelOrderRequest(order_id="not-a-uuid", reason="x" * 201),
            "INVALID_ARGUMENT",
            {"order_id", "reason"},
        ),
        (
            Caller("hardware", "王主任", ("workshop_lead",)),
            order_pb2.CancelOrderRequest(order_id=pending.order_id, reason="换色"),
            "PERMISSION_DENIED",
            set(),
        ),
        (
            Caller("autoparts", "吴晓燕", ("sales",)),
            order_pb2.CancelOrderRequest(order_id=pending.order_id, reason="换色"),
            "NOT_FOUND",
            set(),
        ),
    ]
    for caller, request, code, fields in refusals:
        try:
            api.orders.CancelOrder(request, metadata=caller.metadata())
            raise AssertionError(f"{request} was accepted")
        except grpc.RpcError as exc:
            assert exc.code().name == code, (request, exc.code(), exc.details())
            assert bad_request_fields(exc) == fields, (request, bad_request_fields(exc))
    for other in (
        Caller("autoparts", "吴晓燕", ("approver",)),
        Caller("hardware", "门户", ("customer",), customer.customer_id),
    ):
        try:
            api.orders.ListOrderHistory(
                order_pb2.ListOrderHistoryRequest(order_id=pending.order_id), metadata=other.metadata()
            )
            raise AssertionError("another tenant or a portal account read the history")
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)

    cancelled = api.orders.CancelOrder(
        order_pb2.CancelOrderRequest(
            order_id=pending.order_id, expected_version=1, reason="客户取消 customer withdrew"
        ),
        metadata=sales.metadata(),
    ).order
    assert cancelled.state == order_pb2.ORDER_STATE_CANCELLED and cancelled.version == 2
    last = api.orders.ListOrderHistory(
        order_pb2.ListOrderHistoryRequest(order_id=pending.order_id), metadata=sales.metadata()
    ).transitions[-1]
    assert (last.action, last.reason, last.actor) == ("cancel", "客户取消 customer withdrew", "陈丽")
