"""Change control end to end through the public gRPC API, in both run modes: create → approve →
work orders exist → a colour change (impact lists the work orders and the plating materials) →
approve → revision 2 active, revision 1 readable, the audit trail names each actor, the order read
as of a time before the change is revision 1; a rejected change unfreezes; prices are withheld
from a planner; another tenant finds nothing."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2

from oms.customer.v1 import customer_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from tests.e2e.scenario import Api, Caller, bad_request_fields, due, line

SALES = Caller("hardware", "陈丽", ("sales",))
APPROVER = Caller("hardware", "李经理", ("approver",))
PLANNER = Caller("hardware", "王计划", ("planner",))
OTHER_TENANT = Caller("autoparts", "吴晓燕", ("sales", "approver", "manager"))


def refused(call, request, caller: Caller) -> grpc.RpcError:
    try:
        call(request, metadata=caller.metadata())
    except grpc.RpcError as exc:
        return exc
    raise AssertionError(f"{type(request).__name__} was accepted")


def stamp(at: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(at)
    return out


def work_orders_of(api: Api, order_id: str, timeout_s: float = 15) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = api.production.ListWorkOrders(
            production_pb2.ListWorkOrdersRequest(order_id=order_id), metadata=PLANNER.metadata()
        ).work_orders
        if found:
            return list(found)
        time.sleep(0.1)
    raise AssertionError("no work orders within 15 s of approval")


def check_change_control(api: Api) -> None:
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"CC-{uuid.uuid4().hex[:6].upper()}", name="美的顺德 Midea Shunde", sales_owner="陈丽"
        ),
        metadata=SALES.metadata(),
    ).customer
    silver = line(qty=5000)  # HB-2040 hinge, silver, plating, 85 fen
    bracket = line(model="BK-310 支架 bracket", qty=2000, colour="本色 natural", surface="无 none")
    created = api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer.customer_id,
            channel=order_pb2.CHANNEL_DIRECT,
            due_date=due(),
            lines=[silver, bracket],
        ),
        metadata=SALES.metadata(),
    ).order
    assert [x.line_no for x in created.lines] == [1, 2] and created.revision == 1
    assert created.total_fen == 5000 * 85 + 2000 * 85 and not created.prices_withheld
    approved = api.orders.ApproveOrder(
        order_pb2.ApproveOrderRequest(order_id=created.order_id, expected_version=1),
        metadata=APPROVER.metadata(),
    ).order
    wos = work_orders_of(api, created.order_id)

    # --- a colour change: silver -> gold on line 1 -----------------------------------------------
    before_change = datetime.now(UTC)
    time.sleep(0.05)
    gold = order_pb2.OrderContent(
        due_date=approved.due_date, priority=approved.priority, lines=approved.lines
    )
    gold.lines[0].colour = "金色 gold"
    asked = api.orders.RequestOrderChange(
        order_pb2.RequestOrderChangeRequest(
            order_id=created.order_id,
            expected_version=approved.version,
            reason="客户改色 银色→金色",
            proposed=gold,
        ),
        metadata=SALES.metadata(),
    )
    change, order = asked.change, asked.order
    assert order.state == order_pb2.ORDER_STATE_PENDING_CHANGE and order.pending_change_id == change.change_id
    assert change.state == order_pb2.CHANGE_STATE_PENDING and change.base_revision == 1
    assert [(d.path, d.before, d.after) for d in change.diff] == [
        ("lines[1].colour", "银色 silver", "金色 gold")
    ]
    impact = change.impact
    assert list(impact.unavailable) == []
    assert {w.work_order_no for w in impact.work_orders} == {w.work_order_no for w in wos}
    assert all(w.touched for w in impact.work_orders if "HB-2040 铰链 hinge" in w.product_models)
    materials = {m.material: (m.needed_before, m.needed_after) for m in impact.materials}
    assert materials["镀银液 silver plating solution"] == (10.0, 0.0)
    assert materials["镀金液 gold plating solution"] == (0.0, 10.0)
    assert materials["SPCC 冷轧钢板 cold-rolled steel"] == (1300.0, 1300.0)  # 5000×0.12 + 2000×0.35
    stored = api.orders.GetOrderChange(
        order_pb2.GetOrderChangeRequest(order_id=created.order_id, change_id=change.change_id),
        metadata=APPROVER.metadata(),
    ).change
    assert stored.impact == impact and list(stored.diff) == list(change.diff)

    # a second change while one is pending is refused, naming the state; a stale one is ABORTED
    exc = refused(
        api.orders.RequestOrderChange,
        order_pb2.RequestOrderChangeRequest(
            order_id=created.order_id, expected_version=order.version, reason="再改", cancel_order=True
        ),
        SALES,
    )
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "变更待审 Pending change" in exc.details()
    exc = refused(
        api.orders.ApproveOrderChange,
        order_pb2.ApproveOrderChangeRequest(
            order_id=created.order_id, change_id=change.change_id, expected_version=approved.version
        ),
        APPROVER,
    )
    assert exc.code() == grpc.StatusCode.ABORTED
    # sales may ask for a change, not approve it
    exc = refused(
        api.orders.ApproveOrderChange,
        order_pb2.ApproveOrderChangeRequest(order_id=created.order_id, change_id=change.change_id),
        SALES,
    )
    assert exc.code() == grpc.StatusCode.PERMISSION_DENIED

    done = api.orders.ApproveOrderChange(
        order_pb2.ApproveOrderChangeRequest(
            order_id=created.order_id, change_id=change.change_id, expected_version=order.version, note="同意"
        ),
        metadata=APPROVER.metadata(),
    )
    v2 = done.order
    assert (v2.order_id, v2.order_no, v2.revision, v2.state) == (
        created.order_id,
        created.order_no,
        2,
        order_pb2.ORDER_STATE_APPROVED,
    )
    assert [(x.line_no, x.colour) for x in v2.lines] == [(1, "金色 gold"), (2, "本色 natural")]
    assert done.change.state == order_pb2.CHANGE_STATE_APPROVED and done.change.decided_by == "李经理"

    revisions = api.orders.ListOrderRevisions(
        order_pb2.ListOrderRevisionsRequest(order_id=created.order_id), metadata=APPROVER.metadata()
    ).revisions
    assert [(r.revision, r.current, r.content.lines[0].colour) for r in revisions] == [
        (1, False, "银色 silver"),
        (2, True, "金色 gold"),
    ]
    assert revisions[0].valid_to == revisions[1].valid_from and not revisions[1].HasField("valid_to")
    assert (revisions[1].change_id, revisions[1].approved_by) == (change.change_id, "李经理")

    then = api.orders.GetOrder(
        order_pb2.GetOrderRequest(order_id=created.order_id, as_of=stamp(before_change)),
        metadata=SALES.metadata(),
    ).order
    assert (then.revision, then.state, then.lines[0].colour, then.version) == (
        1,
        order_pb2.ORDER_STATE_APPROVED,
        "银色 silver",
        approved.version,
    )
    exc = refused(
        api.orders.GetOrder,
        order_pb2.GetOrderRequest(order_id=created.order_id, as_of=stamp(datetime(2020, 1, 1, tzinfo=UTC))),
        SALES,
    )
    assert exc.code() == grpc.StatusCode.NOT_FOUND

    audit = api.orders.ListOrderAudit(
        order_pb2.ListOrderAuditRequest(order_id=created.order_id), metadata=APPROVER.metadata()
    ).entries
    assert [(e.action, e.actor) for e in audit] == [
        ("create", "陈丽"),
        ("approve", "李经理"),
        ("request_change", "陈丽"),
        ("approve_change", "李经理"),
    ]
    assert [(c.path, c.before, c.after) for c in audit[3].changes] == [
        ("lines[1].colour", "银色 silver", "金色 gold")
    ]
    mine = api.orders.ListOrderAudit(
        order_pb2.ListOrderAuditRequest(actor="李经理", since=stamp(before_change)),
        metadata=APPROVER.metadata(),
    ).entries
    assert [(e.order_no, e.action) for e in mine] == [(created.order_no, "approve_change")]

    # --- a rejected change returns the order where it was -------------------------------------
    more = order_pb2.OrderContent(due_date=v2.due_date, priority=v2.priority, lines=v2.lines)
    more.lines[1].quantity = 2500
    more.lines[1].unit_price_fen = 90
    asked = api.orders.RequestOrderChange(
        order_pb2.RequestOrderChangeRequest(
            order_id=created.order_id, expected_version=v2.version, reason="加量", proposed=more
        ),
        metadata=SALES.metadata(),
    )
    # a planner sees what changes, not the prices
    seen = api.orders.GetOrderChange(
        order_pb2.GetOrderChangeRequest(order_id=created.order_id, change_id=asked.change.change_id),
        metadata=PLANNER.metadata(),
    ).change
    assert seen.prices_withheld and all(x.unit_price_fen == 0 for x in seen.proposed.lines)
    assert [(d.path, d.before, d.after) for d in seen.diff] == [
        ("lines[2].quantity", "2000", "2500"),
        ("lines[2].unit_price_fen", "", ""),
    ]
    rejected = api.orders.RejectOrderChange(
        order_pb2.RejectOrderChangeRequest(
            order_id=created.order_id,
            change_id=asked.change.change_id,
            expected_version=asked.order.version,
            note="产能不足 no capacity",
        ),
        metadata=APPROVER.metadata(),
    )
    assert (rejected.order.state, rejected.order.revision) == (order_pb2.ORDER_STATE_APPROVED, 2)
    assert rejected.change.state == order_pb2.CHANGE_STATE_REJECTED
    assert [x.quantity for x in rejected.order.lines] == [5000, 2000]
    listed = api.orders.ListOrderChanges(
        order_pb2.ListOrderChangesRequest(order_id=created.order_id), metadata=APPROVER.metadata()
    ).changes
    assert [c.state for c in listed] == [order_pb2.CHANGE_STATE_REJECTED, order_pb2.CHANGE_STATE_APPROVED]

    # --- prices withheld from a planner everywhere ---------------------------------------------
    planner_view = api.orders.GetOrder(
        order_pb2.GetOrderRequest(order_id=created.order_id), metadata=PLANNER.metadata()
    ).order
    assert planner_view.prices_withheld and planner_view.total_fen == 0
    assert all(x.unit_price_fen == 0 for x in planner_view.lines)
    revisions = api.orders.ListOrderRevisions(
        order_pb2.ListOrderRevisionsRequest(order_id=created.order_id), metadata=PLANNER.metadata()
    )
    assert revisions.prices_withheld
    assert all(x.unit_price_fen == 0 for r in revisions.revisions for x in r.content.lines)

    # --- bad input: a clear code, the field named, nothing written -----------------------------
    unknown_line = order_pb2.OrderContent(due_date=v2.due_date, priority=v2.priority, lines=v2.lines)
    unknown_line.lines[0].line_no = 99
    unknown_line.lines[1].colour = "粉色 pink"
    for request, fields in [
        (order_pb2.RequestOrderChangeRequest(order_id=created.order_id, reason="无内容"), set()),
        (
            order_pb2.RequestOrderChangeRequest(
                order_id=created.order_id, reason="改", proposed=unknown_line
            ),
            {"proposed.lines[1].colour"},
        ),
        (
            order_pb2.RequestOrderChangeRequest(
                order_id=created.order_id,
                reason="改",
                proposed=order_pb2.OrderContent(due_date=v2.due_date, priority=v2.priority, lines=v2.lines),
            ),
            {"proposed"},
        ),
    ]:
        exc = refused(api.orders.RequestOrderChange, request, SALES)
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        assert fields <= bad_request_fields(exc), (bad_request_fields(exc), exc.details())
    unchanged = api.orders.GetOrder(
        order_pb2.GetOrderRequest(order_id=created.order_id), metadata=SALES.metadata()
    )
    assert (unchanged.order.version, unchanged.order.revision) == (rejected.order.version, 2)

    # --- another tenant finds nothing ------------------------------------------------------------
    for call, request in [
        (
            api.orders.GetOrderChange,
            order_pb2.GetOrderChangeRequest(order_id=created.order_id, change_id=change.change_id),
        ),
        (api.orders.ListOrderChanges, order_pb2.ListOrderChangesRequest(order_id=created.order_id)),
        (api.orders.ListOrderRevisions, order_pb2.ListOrderRevisionsRequest(order_id=created.order_id)),
        (api.orders.ListOrderAudit, order_pb2.ListOrderAuditRequest(order_id=created.order_id)),
        (
            api.orders.GetOrder,
            order_pb2.GetOrderRequest(order_id=created.order_id, as_of=stamp(before_change)),
        ),
        (
            api.orders.RequestOrderChange,
            order_pb2.RequestOrderChangeRequest(order_id=created.order_id, reason="越权", cancel_order=True),
        ),
    ]:
        assert refused(call, request, OTHER_TENANT).code() == grpc.StatusCode.NOT_FOUND, type(
            request
        ).__name__
    foreign = api.orders.ListOrderAudit(
        order_pb2.ListOrderAuditRequest(actor="李经理"), metadata=OTHER_TENANT.metadata()
    ).entries
    assert created.order_no not in {e.order_no for e in foreign}


def check_delivery_batches(api: Api) -> None:
    """分批交货: an order split into batches (each line's quantity spread exactly), each batch named
    by its order; a change request cancels one batch and moves its quantity to another."""
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"DB-{uuid.uuid4().hex[:6].upper()}",
            name="苏泊尔杭州工厂 Supor Hangzhou",
            sales_owner="周强",
        ),
        metadata=SALES.metadata(),
    ).customer

    def batch(no: int, days: int, qty: int, cancelled: bool = False) -> order_pb2.DeliveryBatch:
        return order_pb2.DeliveryBatch(
            batch_no=no,
            due_date=due(days),
            lines=[order_pb2.BatchLine(line_no=1, quantity=qty)],
            cancelled=cancelled,
        )

    request = order_pb2.CreateOrderRequest(
        customer_id=customer.customer_id,
        channel=order_pb2.CHANNEL_AGENT,
        due_date=due(30),
        lines=[line(qty=5000)],
        batches=[batch(0, 10, 3000), batch(0, 30, 1000)],  # 4000 of 5000: refused
    )
    exc = refused(api.orders.CreateOrder, request, SALES)
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT and bad_request_fields(exc) == {"batches"}
    assert "do not add up" in exc.details(), exc.details()
    del request.batches[:]
    request.batches.extend([batch(0, 10, 3000), batch(0, 30, 2000)])
    order = api.orders.CreateOrder(request, metadata=SALES.metadata()).order
    assert [(b.batch_no, b.label, b.lines[0].quantity) for b in order.batches] == [
        (1, f"{order.order_no}/1", 3000),
        (2, f"{order.order_no}/2", 2000),
    ]
    order = api.orders.ApproveOrder(
        order_pb2.ApproveOrderRequest(order_id=order.order_id, expected_version=order.version),
        metadata=APPROVER.metadata(),
    ).order
    proposed = order_pb2.OrderContent(
        due_date=order.due_date,
        priority=order.priority,
        lines=order.lines,
        batches=[batch(1, 10, 5000), batch(2, 30, 2000, cancelled=True)],
    )
    asked = api.orders.RequestOrderChange(
        order_pb2.RequestOrderChangeRequest(
            order_id=order.order_id,
            expected_version=order.version,
            reason="第二批取消，并入第一批",
            proposed=proposed,
        ),
        metadata=SALES.metadata(),
    )
    assert [(d.path, d.before, d.after) for d in asked.change.diff] == [
        ("batches[1].lines[1].quantity", "3000", "5000"),
        ("batches[2].cancelled", "False", "True"),
    ]
    done = api.orders.ApproveOrderChange(
        order_pb2.ApproveOrderChangeRequest(
            order_id=order.order_id, change_id=asked.change.change_id, expected_version=asked.order.version
        ),
        metadata=APPROVER.metadata(),
    ).order
    assert [(b.batch_no, b.cancelled, b.lines[0].quantity) for b in done.batches] == [
        (1, False, 5000),
        (2, True, 2000),
    ]
    first = api.orders.ListOrderRevisions(
        order_pb2.ListOrderRevisionsRequest(order_id=order.order_id), metadata=APPROVER.metadata()
    ).revisions[0]
    assert [(b.batch_no, b.cancelled) for b in first.content.batches] == [(1, False), (2, False)]


def check_a_new_contract_price_reaches_the_next_order(api: Api) -> None:
    """The order service remembers resolved contract prices; setting one makes it forget them
    (event contract_price_set), so the next order takes the new price."""
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"CP-{uuid.uuid4().hex[:6].upper()}", name="格力珠海 Gree Zhuhai", sales_owner="陈丽"
        ),
        metadata=SALES.metadata(),
    ).customer
    unpriced = line(qty=100)
    unpriced.unit_price_fen = 0

    def draft_price() -> int:
        return (
            api.orders.CreateOrder(
                order_pb2.CreateOrderRequest(
                    customer_id=customer.customer_id,
                    channel=order_pb2.CHANNEL_DIRECT,
                    due_date=due(),
                    lines=[unpriced],
                    draft=True,
                ),
                metadata=SALES.metadata(),
            )
            .order.lines[0]
            .unit_price_fen
        )

    assert draft_price() == 0  # no contract price yet (and that answer is now remembered)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    api.customers.SetContractPrice(
        customer_pb2.SetContractPriceRequest(
            customer_id=customer.customer_id,
            product_model=unpriced.product_model,
            unit_price_fen=82,
            valid_from=date_pb2.Date(year=today.year, month=today.month, day=today.day),
        ),
        metadata=Caller("hardware", "刘经理", ("manager",)).metadata(),
    )
    deadline = time.monotonic() + 10
    while (price := draft_price()) != 82 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert price == 82, "the new contract price did not reach the order service within 10 s"
