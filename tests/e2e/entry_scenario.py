"""Order entry by the auto-parts line's own rules, end to end in both run modes: the tenant file
(tenants/autoparts.toml) declares option libraries, required fields, routing, custom fields and a
price tolerance, and the same code enforces them: every violation at once, routes filled in,
contract prices taken, an off-contract price flagged for a manager, a planner's reroute audited,
prices withheld from the planner."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import grpc
from google.type import date_pb2

from oms.customer.v1 import customer_pb2
from oms.order.v1 import order_pb2
from tests.e2e.scenario import Api, Caller, bad_request_fields, due

SALES = Caller("autoparts", "吴晓燕", ("sales",))
APPROVER = Caller("autoparts", "刘建华", ("approver",))
MANAGER = Caller("autoparts", "孙经理", ("manager",))
PLANNER = Caller("autoparts", "赵计划", ("planner",))
RAIL = "SB-55 座椅滑轨支架 seat-rail bracket"
HANGER = "EX-12 排气吊耳 exhaust hanger"
TOTE = "防锈袋+周转箱 VCI bag + returnable tote"


def today() -> date_pb2.Date:
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the tenant's calendar
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def part(model: str, qty: int, price: int = 0, **over) -> order_pb2.OrderLine:
    fields = (
        dict(
            product_model=model,
            quantity=qty,
            colour="黑色 black",
            surface_treatment="电泳 e-coating",
            packaging=TOTE,
            unit_price_fen=price,
        )
        | over
    )
    return order_pb2.OrderLine(**fields)


def custom(**values: str) -> list[order_pb2.CustomFieldValue]:
    return [order_pb2.CustomFieldValue(key=k, value=v) for k, v in values.items()]


def check_order_entry_rules(api: Api) -> None:
    options = api.orders.GetTenantOptions(
        order_pb2.GetTenantOptionsRequest(), metadata=SALES.metadata()
    ).options
    assert {r.product_model: list(r.workshops) for r in options.routes} == {
        RAIL: ["stamping-2", "welding"],
        HANGER: ["stamping-2"],
    }
    assert list(options.required_fields) == ["colour", "surface_treatment", "packaging", "delivery_address"]
    assert [(f.key, f.type, f.required) for f in options.custom_fields] == [
        ("vehicle_model", "text", True),
        ("ppap_level", "choice", True),
        ("first_article", "boolean", False),
    ]
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"GEELY-{uuid.uuid4().hex[:5].upper()}",
            name="吉利宁波工厂 Geely Ningbo",
            sales_owner="吴晓燕",
        ),
        metadata=SALES.metadata(),
    ).customer
    for model, price in ((RAIL, 1250), (HANGER, 1000)):
        api.customers.SetContractPrice(
            customer_pb2.SetContractPriceRequest(
                customer_id=customer.customer_id,
                product_model=model,
                unit_price_fen=price,
                valid_from=today(),
            ),
            metadata=MANAGER.metadata(),
        )

    # --- every violation at once, nothing written -------------------------------------------
    bad = order_pb2.CreateOrderRequest(
        customer_id=customer.customer_id,
        channel=order_pb2.CHANNEL_DIRECT,
        due_date=due(),
        lines=[
            part(RAIL, 1000, colour="", packaging="", workshop="welding"),
            part("HB-2040 铰链 hinge", 10, workshop="stamping-2"),
        ],
        custom_fields=custom(ppap_level="4", colour_code="RAL9005"),
    )
    try:
        api.orders.CreateOrder(bad, metadata=SALES.metadata())
        raise AssertionError("an order breaking the auto-parts rules was taken")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_request_fields(exc) == {
            "lines[0].colour",
            "lines[0].packaging",
            "lines[0].workshop",
            "lines[1].product_model",
            "delivery_address",
            "custom_fields.ppap_level",
            "custom_fields.colour_code",
            "custom_fields.vehicle_model",
        }, bad_request_fields(exc)
    listed = api.orders.ListOrders(
        order_pb2.ListOrdersRequest(customer_id=customer.customer_id), metadata=SALES.metadata()
    ).orders
    assert list(listed) == []

    # --- a good order: routed, priced by contract, off-contract price flagged -----------------
    order = api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer.customer_id,
            channel=order_pb2.CHANNEL_DIRECT,
            due_date=due(),
            lines=[part(RAIL, 1000), part(HANGER, 500, price=1100)],
            delivery_address="浙江省宁波市杭州湾新区滨海二路818号 吉利总装二厂",
            custom_fields=custom(vehicle_model="博越L", ppap_level="3", first_article="是"),
        ),
        metadata=SALES.metadata(),
    ).order
    assert [(x.workshop, list(x.route), x.unit_price_fen) for x in order.lines] == [
        ("stamping-2", ["stamping-2", "welding"], 1250),
        ("stamping-2", ["stamping-2"], 1100),
    ]
    assert {f.key: f.value for f in order.custom_fields} == {
        "vehicle_model": "博越L",
        "ppap_level": "3",
        "first_article": "true",
    }
    assert order.price_review
    assert [(d.line_no, d.typed_fen, d.contract_fen, d.percent) for d in order.price_deviations] == [
        (2, 1100, 1000, 10.0)
    ]
    try:
        api.orders.ApproveOrder(
            order_pb2.ApproveOrderRequest(order_id=order.order_id, expected_version=1),
            metadata=APPROVER.metadata(),
        )
        raise AssertionError("an approver alone approved an off-contract price")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED and "经理" in exc.details(), exc.details()
    approved = api.orders.ApproveOrder(
        order_pb2.ApproveOrderRequest(order_id=order.order_id, expected_version=1),
        metadata=MANAGER.metadata(),
    ).order
    assert approved.state == order_pb2.ORDER_STATE_APPROVED and approved.approved_by == "孙经理"

    # --- a planner reroutes a line; the audit trail shows it; prices are withheld from them ---
    rerouted = api.orders.RerouteOrderLine(
        order_pb2.RerouteOrderLineRequest(
            order_id=order.order_id,
            expected_version=approved.version,
            line_no=2,
            route=["stamping-2", "welding"],
            reason="吊耳加焊加强筋 welded stiffener",
        ),
        metadata=PLANNER.metadata(),
    ).order
    assert list(rerouted.lines[1].route) == ["stamping-2", "welding"] and rerouted.prices_withheld
    assert all(x.unit_price_fen == 0 for x in rerouted.lines) and rerouted.total_fen == 0
    assert [(d.typed_fen, d.contract_fen) for d in rerouted.price_deviations] == [
        (0, 0)
    ] and rerouted.price_review
    try:
        api.orders.RerouteOrderLine(
            order_pb2.RerouteOrderLineRequest(
                order_id=order.order_id,
                expected_version=rerouted.version,
                line_no=9,
                route=["painting"],
                reason="x",
            ),
            metadata=PLANNER.metadata(),
        )
        raise AssertionError("a route to an unknown workshop was taken")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_request_fields(exc) == {"line_no", "route[0]"}
    audit = api.orders.ListOrderAudit(
        order_pb2.ListOrderAuditRequest(order_id=order.order_id), metadata=MANAGER.metadata()
    ).entries
    assert [(e.action, e.actor) for e in audit] == [
        ("create", "吴晓燕"),
        ("approve", "孙经理"),
        ("reroute", "赵计划"),
    ]
    assert [(c.path, c.before, c.after) for c in audit[2].changes] == [
        ("lines[2].route", "stamping-2", "stamping-2 → welding")
    ]

    # --- found by the customer's name (the customer service's search) and by number -----------
    for request in (
        order_pb2.ListOrdersRequest(text="吉利宁波", channel=order_pb2.CHANNEL_DIRECT),
        order_pb2.ListOrdersRequest(text=order.order_no.lower()),
    ):
        found = api.orders.ListOrders(request, metadata=SALES.metadata()).orders
        assert order.order_no in {o.order_no for o in found}, request
    none = api.orders.ListOrders(
        order_pb2.ListOrdersRequest(text="吉利宁波", channel=order_pb2.CHANNEL_AGENT),
        metadata=SALES.metadata(),
    ).orders
    assert order.order_no not in {o.order_no for o in none}

    # --- another business line finds nothing to reroute, ship or close --------------------------
    hardware = Caller("hardware", "王建国", ("planner", "warehouse", "manager"))
    for call, request in (
        (
            api.orders.RerouteOrderLine,
            order_pb2.RerouteOrderLineRequest(
                order_id=order.order_id, line_no=1, route=["stamping-1"], reason="越权"
            ),
        ),
        (api.orders.ShipOrder, order_pb2.ShipOrderRequest(order_id=order.order_id)),
        (api.orders.CloseOrder, order_pb2.CloseOrderRequest(order_id=order.order_id)),
        (api.orders.GetOrder, order_pb2.GetOrderRequest(order_id=order.order_id)),
    ):
        try:
            call(request, metadata=hardware.metadata())
            raise AssertionError(f"{type(request).__name__} reached another tenant's order")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, (type(request).__name__, exc.code())
    # the warehouse cannot ship an order production has not finished: the answer names its state
    try:
        api.orders.ShipOrder(
            order_pb2.ShipOrderRequest(order_id=order.order_id),
            metadata=Caller("autoparts", "仓库老张", ("warehouse",)).metadata(),
        )
        raise AssertionError("an approved order was shipped before production finished")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "已审批 Approved" in exc.details()
