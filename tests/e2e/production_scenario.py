"""Production and materials end to end through the public gRPC API, in both run modes (the WMS
simulator standing in for the plant's WMS): three approvals of one configuration make one batch
task, and a dry-run of a changed merge rule shows what it would have done differently; an order
over 50,000 CNY locks its materials at approval; a silver → gold change freezes the work orders
and the material issue, its impact shows the gold plating solution at risk, and approving it
revises the same work orders, recomputes the plating requirement and moves the reservation."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import grpc

from oms.customer.v1 import customer_pb2
from oms.inventory.v1 import inventory_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from tests.e2e.scenario import Api, Caller, due, line

SALES = Caller("hardware", "陈丽", ("sales",))
APPROVER = Caller("hardware", "李经理", ("approver",))
PLANNER = Caller("hardware", "王计划", ("planner",))
LEAD = Caller("hardware", "王建国", ("workshop_lead",))
KEEPER = Caller("hardware", "仓库老张", ("warehouse",))
GOLD = "镀金液 gold plating solution"
SILVER = "镀银液 silver plating solution"
STEEL = "SPCC 冷轧钢板 cold-rolled steel"

T = TypeVar("T")


def eventually(what: str, probe: Callable[[], T | None], timeout_s: float = 15) -> T:
    """What `probe` answers once it answers something truthy (events travel asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.1)


def refused(call, request, caller: Caller) -> grpc.RpcError:
    try:
        call(request, metadata=caller.metadata())
    except grpc.RpcError as exc:
        return exc
    raise AssertionError(f"{type(request).__name__} was accepted")


def new_customer(api: Api) -> customer_pb2.Customer:
    return api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"PS-{uuid.uuid4().hex[:6].upper()}", name="海尔青岛 Haier Qingdao", sales_owner="陈丽"
        ),
        metadata=SALES.metadata(),
    ).customer


def approved_order(api: Api, customer_id: str, lines: list[order_pb2.OrderLine]) -> order_pb2.Order:
    created = api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer_id, channel=order_pb2.CHANNEL_DIRECT, due_date=due(), lines=lines
        ),
        metadata=SALES.metadata(),
    ).order
    return api.orders.ApproveOrder(
        order_pb2.ApproveOrderRequest(order_id=created.order_id, expected_version=created.version),
        metadata=APPROVER.metadata(),
    ).order


def work_orders(api: Api, order_id: str) -> list[production_pb2.WorkOrder]:
    return list(
        api.production.ListWorkOrders(
            production_pb2.ListWorkOrdersRequest(order_id=order_id), metadata=PLANNER.metadata()
        ).work_orders
    )


def reservation(api: Api, order_id: str) -> inventory_pb2.OrderReservation | None:
    found = api.inventory.ListReservations(
        inventory_pb2.ListReservationsRequest(order_id=order_id), metadata=PLANNER.metadata()
    ).reservations
    return found[0] if found else None


def check_same_configuration_orders_merge_and_a_changed_rule_is_dry_run(api: Api) -> None:
    # A configuration no other scenario of the stack orders: black, blackened, on pallets.
    customer = new_customer(api)
    bracket = line("BK-310 支架 bracket", 200, "", "黑色 black", "发黑 blackening")
    bracket.packaging = "托盘 pallet"
    config = ("BK-310 支架 bracket", "发黑 blackening", "黑色 black", "托盘 pallet")

    def batches_of(order_nos: set[str]) -> list[production_pb2.BatchTask]:
        tasks = api.production.ListBatchTasks(
            production_pb2.ListBatchTasksRequest(page_size=500), metadata=PLANNER.metadata()
        ).batch_tasks
        return [t for t in tasks if {o.order_no for o in t.orders} & order_nos]

    first, second = (approved_order(api, customer.customer_id, [bracket]) for _ in range(2))
    eventually("work orders of the second order", lambda: work_orders(api, second.order_id))
    time.sleep(0.5)  # the merge consumer has seen both approvals by now (it follows the same event)
    assert batches_of({first.order_no, second.order_no}) == [], "two orders were merged (the rule says 3)"

    third = approved_order(api, customer.customer_id, [bracket])
    mine = {first.order_no, second.order_no, third.order_no}
    [batch] = eventually("a batch of the three orders", lambda: batches_of(mine))
    assert {o.order_no for o in batch.orders} == mine
    c = batch.configuration
    assert (c.product_model, c.surface_treatment, c.colour, c.packaging) == config
    assert (batch.quantity, batch.rule, batch.state) == (600, "merge_same_configuration", 1)
    assert batch.batch_no.startswith("BT-")
    assert (
        api.production.GetBatchTask(
            production_pb2.GetBatchTaskRequest(batch_id=batch.batch_id), metadata=PLANNER.metadata()
        ).batch_task
        == batch
    )

    # A planner tries "merge only four" on the last 30 days before enabling it: these three orders
    # were merged, and under the candidate they would not have been.
    tried = api.production.DryRunRule(
        production_pb2.DryRunRuleRequest(
            kind="batch_merge",
            name="merge_same_configuration",
            expression="orders.size() >= params.min_orders",
            params_json=json.dumps({"min_orders": 4, "window_hours": 72}),
        ),
        metadata=PLANNER.metadata(),
    )
    assert tried.days == 30 and tried.replayed >= 3
    differences = {d.order_no: (d.would_batch, d.did_batch_no) for d in tried.differences}
    assert {no: differences.get(no) for no in mine} == dict.fromkeys(mine, (0, batch.batch_no))
    assert any(set(b.order_nos) == mine and b.batch_no == batch.batch_no for b in tried.made)
    assert tried.did_merge >= 3  # (other scenarios' orders may merge either way: not counted here)
    # The rule as the file has it replays to what happened, for these orders.
    same = api.production.DryRunRule(
        production_pb2.DryRunRuleRequest(kind="batch_merge", name="merge_same_configuration"),
        metadata=PLANNER.metadata(),
    )
    assert not {d.order_no for d in same.differences} & mine
    # A candidate that is not CEL is the planner's mistake, named, not a server error.
    exc = refused(
        api.production.DryRunRule,
        production_pb2.DryRunRuleRequest(kind="batch_merge", name="x", expression="orders.size( >= 2"),
        PLANNER,
    )
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT and "does not compile" in exc.details()
    # Sales may not try rules.
    assert (
        refused(api.production.DryRunRule, tried_request(), SALES).code() == grpc.StatusCode.PERMISSION_DENIED
    )


def tried_request() -> production_pb2.DryRunRuleRequest:
    return production_pb2.DryRunRuleRequest(kind="batch_merge", name="merge_same_configuration")


def check_an_order_over_fifty_thousand_locks_its_materials(api: Api) -> None:
    customer = new_customer(api)
    plain = line(qty=6000, colour="本色 natural", surface="无 none")  # steel only: 720 kg
    plain.unit_price_fen = 1000  # ¥10 × 6,000 = ¥60,000 > ¥50,000
    large = approved_order(api, customer.customer_id, [plain])
    assert large.materials_locked and large.lock_rule == "lock_large_orders"
    held = reservation(api, large.order_id)
    assert held is not None and held.locked and held.lock_rule == "lock_large_orders"
    assert held.state == inventory_pb2.RESERVATION_STATE_HELD and held.revision == 1
    assert [(m.material, m.needed, m.reserved, m.short) for m in held.materials] == [
        (STEEL, 720.0, 720.0, 0.0)
    ]

    small = line(qty=100, colour="本色 natural", surface="无 none")  # ¥85
    modest = approved_order(api, customer.customer_id, [small])
    assert not modest.materials_locked
    held_small = reservation(api, modest.order_id)
    assert held_small is not None and not held_small.locked

    stock = {
        m.material: m
        for m in api.inventory.ListMaterialStock(
            inventory_pb2.ListMaterialStockRequest(materials=[STEEL]), metadata=PLANNER.metadata()
        ).materials
    }
    assert stock[STEEL].locked >= 720.0 and stock[STEEL].reserved >= 732.0
    assert stock[STEEL].available == stock[STEEL].on_hand - stock[STEEL].reserved

    # The WMS simulator's warehouse holds the same reservation (the ledger is pushed to it).
    eventually(
        "the reservation synced to the WMS", lambda: (reservation(api, large.order_id) or held).wms_synced
    )


def check_a_colour_change_freezes_revises_and_moves_the_reservation(api: Api) -> None:
    [gold] = api.inventory.ListMaterialStock(
        inventory_pb2.ListMaterialStockRequest(materials=[GOLD]), metadata=PLANNER.metadata()
    ).materials
    # Enough hinges that gold for all of them is more than the warehouse has left.
    qty = int(gold.available / 0.002) + 500
    customer = new_customer(api)
    order = approved_order(api, customer.customer_id, [line(qty=qty)])  # silver, plating
    wos = eventually("three routed work orders", lambda: len(work_orders(api, order.order_id)) == 3)
    wos = {w.workshop: w for w in work_orders(api, order.order_id)}
    assert [wos[s].step for s in ("stamping-1", "plating", "assembly")] == [1, 2, 3]
    plating = wos["plating"]
    assert {(r.material, r.quantity) for r in plating.requirements} == {(SILVER, round(qty * 0.002, 6))}
    held = eventually("the reservation", lambda: reservation(api, order.order_id))
    assert {m.material: m.reserved for m in held.materials} == {
        STEEL: round(qty * 0.12, 6),
        SILVER: round(qty * 0.002, 6),
    }

    # Stamping has started before the customer asks for gold.
    api.production.ReportStage(
        production_pb2.ReportStageRequest(
            work_order_id=wos["stamping-1"].work_order_id, stage=production_pb2.STAGE_IN_PROCESS
        ),
        metadata=LEAD.metadata(),
    )
    proposed = order_pb2.OrderContent(due_date=order.due_date, priority=order.priority, lines=order.lines)
    proposed.lines[0].colour = "金色 gold"
    current = api.orders.GetOrder(
        order_pb2.GetOrderRequest(order_id=order.order_id), metadata=SALES.metadata()
    ).order
    asked = api.orders.RequestOrderChange(
        order_pb2.RequestOrderChangeRequest(
            order_id=order.order_id,
            expected_version=current.version,
            reason="客户改色 银→金",
            proposed=proposed,
        ),
        metadata=SALES.metadata(),
    )
    impact = {m.material: m for m in asked.change.impact.materials}
    assert impact[GOLD].at_risk and impact[GOLD].needed_after == round(qty * 0.002, 6)
    assert not impact[SILVER].at_risk and impact[SILVER].needed_after == 0
    assert impact[SILVER].reserved == round(qty * 0.002, 6)
    assert not impact[STEEL].at_risk

    # Frozen: no stage move, no material issue, until the change is decided.
    eventually("work orders frozen", lambda: all(w.frozen for w in work_orders(api, order.order_id)))
    exc = refused(
        api.production.ReportStage,
        production_pb2.ReportStageRequest(
            work_order_id=wos["stamping-1"].work_order_id, stage=production_pb2.STAGE_QC_PASSED
        ),
        LEAD,
    )
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "冻结" in exc.details()
    eventually(
        "reservation frozen",
        lambda: reservation(api, order.order_id).state == inventory_pb2.RESERVATION_STATE_FROZEN,
    )
    exc = refused(
        api.inventory.IssueMaterials, inventory_pb2.IssueMaterialsRequest(order_id=order.order_id), KEEPER
    )
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "变更待审批" in exc.details()

    pending = api.orders.GetOrder(
        order_pb2.GetOrderRequest(order_id=order.order_id), metadata=SALES.metadata()
    ).order
    api.orders.ApproveOrderChange(
        order_pb2.ApproveOrderChangeRequest(
            order_id=order.order_id,
            change_id=asked.change.change_id,
            expected_version=pending.version,
            note="同意，金色镀液不足部分补采",
        ),
        metadata=APPROVER.metadata(),
    )

    # Revised, not re-created: the same work orders, plating at revision 2, its requirement gold.
    def revised() -> dict[str, production_pb2.WorkOrder] | None:
        now = {w.workshop: w for w in work_orders(api, order.order_id)}
        return now if now["plating"].revision == 2 and not now["plating"].frozen else None

    after = eventually("plating work order revised", revised)
    assert {w.work_order_id for w in after.values()} == {w.work_order_id for w in wos.values()}
    assert after["plating"].lines[0].colour == "金色 gold"
    assert {(r.material, r.quantity) for r in after["plating"].requirements} == {
        (GOLD, round(qty * 0.002, 6))
    }
    assert after["stamping-1"].stage == production_pb2.STAGE_IN_PROCESS  # work done stays done
    revisions = api.production.ListWorkOrderRevisions(
        production_pb2.ListWorkOrderRevisionsRequest(work_order_id=plating.work_order_id),
        metadata=PLANNER.metadata(),
    ).revisions
    assert [(r.revision, r.current, r.lines[0].colour) for r in revisions] == [
        (1, False, "银色 silver"),
        (2, True, "金色 gold"),
    ]

    # The reservation follows revision 2: silver released, gold held as far as it goes, the rest
    # recorded short (never taken from another order).
    moved = eventually(
        "reservation adjusted to revision 2",
        lambda: (r := reservation(api, order.order_id)) and r.revision == 2 and r,
    )
    materials = {m.material: m for m in moved.materials}
    assert materials.get(SILVER) is None or materials[SILVER].reserved == 0
    assert materials[GOLD].needed == round(qty * 0.002, 6)
    assert materials[GOLD].reserved == round(gold.available, 6)
    assert materials[GOLD].short == round(qty * 0.002 - gold.available, 6)
    assert moved.state == inventory_pb2.RESERVATION_STATE_HELD

    # Unfrozen: the warehouse hands the steel and gold held to the shop floor.
    issued = api.inventory.IssueMaterials(
        inventory_pb2.IssueMaterialsRequest(order_id=order.order_id), metadata=KEEPER.metadata()
    ).reservation
    assert issued.state == inventory_pb2.RESERVATION_STATE_ISSUED
    assert {m.material: m.issued for m in issued.materials if m.issued} == {
        STEEL: round(qty * 0.12, 6),
        GOLD: round(gold.available, 6),
    }

    # The plating lead is told of the new colour at once (newest notice first, after the one that
    # announced the work order), so no part is plated silver after the change.
    from oms.notify.v1 import notify_pb2

    plating_no = after["plating"].work_order_no

    def told_of_revision() -> list[notify_pb2.Notification] | None:
        notes = api.notify.ListNotifications(
            notify_pb2.ListNotificationsRequest(reference=plating_no), metadata=PLANNER.metadata()
        ).notifications
        return list(notes) if any(n.subject.startswith("工单变更") for n in notes) else None

    notes = eventually("the plating lead told of the revision", told_of_revision)
    assert [(n.recipient, n.subject) for n in notes] == [
        ("李秀英", f"工单变更 work order revised: {plating_no} rev 2"),
        ("李秀英", f"新工单 New work order {plating_no}"),
    ]
    assert notes[0].body == (
        f"电镀车间 Plating: 订单 {order.order_no}, 阶段 stage 待排产 to schedule: "
        "HB-2040 铰链 hinge: 颜色 colour 银色 silver → 金色 gold"
    )
