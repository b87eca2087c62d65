"""Untrusted input on the production and materials RPCs of #16, through the public gRPC API of a
running embedded stack (`python -m services`, its own process and port): random text, integers at
and past every limit, enum values the contract does not define, page tokens that decode to
nonsense, params_json and CEL nested past any parser's comfort, another tenant's ids, a portal
token and the wrong staff roles. Whatever arrives, the answer is a status the caller can act on:
never INTERNAL or UNKNOWN, an INVALID_ARGUMENT names the field at fault, and another tenant's
reservation, work order or batch is NOT_FOUND (or absent from a list), never shown."""

from __future__ import annotations

import base64
import json
import uuid

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from oms.customer.v1 import customer_pb2
from oms.inventory.v1 import inventory_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from tests.e2e import production_scenario as ps
from tests.e2e import scenario
from tests.e2e.test_embedded import embedded as embedded  # the same stack fixture, started for this module
from tests.e2e.test_embedded import marketplace as marketplace  # the simulator it pulls from
from tests.e2e.test_untrusted_input import (
    FORGED,
    HOSTILE_TEXT,
    INT32,
    NEVER,
    RANDOM_TEXT,
    TIMEOUT_S,
    status_of,
)

pytestmark = pytest.mark.e2e

HARDWARE = scenario.Caller("hardware", "王厂长", ("manager", "planner", "warehouse", "approver"))
AUTOPARTS = scenario.Caller("autoparts", "赵主管", ("manager", "planner", "warehouse", "approver"))
HW_SALES = scenario.Caller("hardware", "陈丽", ("sales",))


@pytest.fixture(scope="module")
def api(embedded) -> scenario.Api:
    return embedded[0]


@pytest.fixture(scope="module")
def hardware(api) -> dict[str, str]:
    """Hardware's own rows, made through the API: a reservation (of an approved order), its work
    order and a batch task (three approvals of a configuration only this module orders)."""
    customer = api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"UP-{uuid.uuid4().hex[:8].upper()}",
            name="不可信生产 Untrusted Production",
            sales_owner="陈丽",
        ),
        metadata=HW_SALES.metadata(),
        timeout=TIMEOUT_S,
    ).customer
    clip = scenario.line("SP-08 弹片 spring clip", 100, "", "本色 natural", "喷涂 spraying")
    clip.packaging = "散装 bulk"
    orders = [ps.approved_order(api, customer.customer_id, [clip]) for _ in range(3)]
    [wo, *_] = ps.eventually("work orders", lambda: ps.work_orders(api, orders[0].order_id))
    nos = {o.order_no for o in orders}

    def batch() -> str | None:
        tasks = api.production.ListBatchTasks(
            production_pb2.ListBatchTasksRequest(page_size=500), metadata=HARDWARE.metadata()
        ).batch_tasks
        return next((t.batch_id for t in tasks if {o.order_no for o in t.orders} == nos), None)

    reservation = ps.eventually("a reservation", lambda: ps.reservation(api, orders[0].order_id))
    return {
        "order_id": orders[0].order_id,
        "reservation_order_id": reservation.order_id,
        "work_order_id": wo.work_order_id,
        "batch_id": ps.eventually("a batch task", batch),
    }


def call(api, service: str, rpc: str):
    return getattr(getattr(api, service), rpc)


# Every #16 RPC with a request that is well formed apart from its ids.
def requests(ids: dict[str, str]) -> dict[tuple[str, str], object]:
    line = inventory_pb2.MaterialLine(product_model="HB-2040 铰链 hinge", quantity=10, colour="银色 silver")
    return {
        ("inventory", "CheckMaterials"): inventory_pb2.CheckMaterialsRequest(lines=[line]),
        ("inventory", "ReserveMaterials"): inventory_pb2.ReserveMaterialsRequest(
            order_id=ids["order_id"],
            order_no="HW-20261125-99999",
            revision=1,
            customer_id=str(uuid.uuid4()),
            lines=[line],
        ),
        ("inventory", "IssueMaterials"): inventory_pb2.IssueMaterialsRequest(order_id=ids["order_id"]),
        ("inventory", "ListReservations"): inventory_pb2.ListReservationsRequest(order_id=ids["order_id"]),
        ("inventory", "ListMaterialStock"): inventory_pb2.ListMaterialStockRequest(),
        ("inventory", "DryRunRule"): inventory_pb2.DryRunRuleRequest(kind="material_lock"),
        ("inventory", "PreviewMaterialNeeds"): inventory_pb2.PreviewMaterialNeedsRequest(
            order_id=ids["order_id"], before=[line], after=[line]
        ),
        ("production", "ReportStage"): production_pb2.ReportStageRequest(
            work_order_id=ids["work_order_id"], stage=production_pb2.STAGE_IN_PROCESS, good_quantity=1
        ),
        ("production", "ListWorkOrderRevisions"): production_pb2.ListWorkOrderRevisionsRequest(
            work_order_id=ids["work_order_id"]
        ),
        ("production", "ListBatchTasks"): production_pb2.ListBatchTasksRequest(),
        ("production", "GetBatchTask"): production_pb2.GetBatchTaskRequest(batch_id=ids["batch_id"]),
        ("production", "DryRunRule"): production_pb2.DryRunRuleRequest(kind="batch_merge"),
        ("production", "GetBoard"): production_pb2.GetBoardRequest(),
    }


# --- who may call: portal accounts never, sales not the shop floor's writes ---


def test_a_portal_token_is_refused_on_every_production_and_materials_rpc(api, hardware):
    portal = scenario.Caller("hardware", "客户", ("customer",), customer_id=str(uuid.uuid4())).metadata()
    for (service, rpc), request in requests(hardware).items():
        code, exc, _ = status_of(call(api, service, rpc), request, portal)
        assert code == grpc.StatusCode.PERMISSION_DENIED, (rpc, code, exc and exc.details())


@pytest.mark.parametrize(
    "service, rpc",
    [
        ("production", "ReportStage"),
        ("inventory", "IssueMaterials"),
        ("inventory", "DryRunRule"),
        ("production", "DryRunRule"),
    ],
)
def test_sales_may_not_report_a_stage_issue_materials_or_try_a_rule(api, hardware, service, rpc):
    request = requests(hardware)[(service, rpc)]
    code, exc, _ = status_of(call(api, service, rpc), request, HW_SALES.metadata())
    assert code == grpc.StatusCode.PERMISSION_DENIED, (code, exc and exc.details())


@pytest.mark.parametrize("make_token", FORGED.values(), ids=FORGED.keys())
def test_a_forged_token_is_unauthenticated_on_the_shop_floors_writes(api, hardware, make_token):
    metadata = (("authorization", f"Bearer {make_token()}"),)
    by_id = requests(hardware)
    for key in [
        ("production", "ReportStage"),
        ("inventory", "IssueMaterials"),
        ("inventory", "ReserveMaterials"),
    ]:
        code, exc, _ = status_of(call(api, *key), by_id[key], metadata)
        assert code == grpc.StatusCode.UNAUTHENTICATED, (key, code, exc and exc.details())


# --- another tenant's ids: not found, or an empty list; never the row ---


def test_autoparts_never_sees_nor_touches_hardwares_reservation_work_order_or_batch(api, hardware):
    other = AUTOPARTS.metadata()
    by_id = requests(hardware)
    for key in [
        ("production", "ReportStage"),
        ("production", "ListWorkOrderRevisions"),
        ("production", "GetBatchTask"),
    ]:
        code, exc, _ = status_of(call(api, *key), by_id[key], other)
        assert code == grpc.StatusCode.NOT_FOUND, (key, code, exc and exc.details())
    # IssueMaterials answers an order it holds nothing for as "nothing reserved" (FAILED_PRECONDITION):
    # hardware's order gets autoparts exactly the answer an order id nobody has gets.
    unknown = str(uuid.uuid4())
    answers = [
        status_of(api.inventory.IssueMaterials, inventory_pb2.IssueMaterialsRequest(order_id=order_id), other)
        for order_id in (hardware["order_id"], unknown)
    ]
    [(code, exc, _), (code_unknown, exc_unknown, _)] = answers
    assert code in {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION}, (
        code,
        exc and exc.details(),
    )
    assert (code, exc.details().replace(hardware["order_id"], unknown)) == (
        code_unknown,
        exc_unknown.details(),
    )

    code, exc, listed = status_of(
        api.inventory.ListReservations, by_id[("inventory", "ListReservations")], other
    )
    assert code == grpc.StatusCode.OK and list(listed.reservations) == [], (code, exc and exc.details())
    code, exc, open_ones = status_of(
        api.inventory.ListReservations, inventory_pb2.ListReservationsRequest(), other
    )
    assert hardware["order_id"] not in {r.order_id for r in open_ones.reservations}
    code, exc, batches = status_of(
        api.production.ListBatchTasks, production_pb2.ListBatchTasksRequest(), other
    )
    assert hardware["batch_id"] not in {b.batch_id for b in batches.batch_tasks}
    code, exc, board = status_of(api.production.GetBoard, production_pb2.GetBoardRequest(limit=200), other)
    shown = {w.work_order_id for w in [*board.overdue, *board.at_risk]}
    assert code == grpc.StatusCode.OK and hardware["work_order_id"] not in shown
    # The preview of hardware's order shows autoparts nothing reserved or issued for it.
    code, exc, preview = status_of(
        api.inventory.PreviewMaterialNeeds, by_id[("inventory", "PreviewMaterialNeeds")], other
    )
    if code == grpc.StatusCode.OK:
        assert all(m.reserved == 0 and m.issued == 0 for m in preview.materials), preview
    else:
        assert code in {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION}, code

    # ...and the rows are still hardware's, untouched.
    mine = HARDWARE.metadata()
    [held] = api.inventory.ListReservations(
        by_id[("inventory", "ListReservations")], metadata=mine
    ).reservations
    assert held.state == inventory_pb2.RESERVATION_STATE_HELD
    revisions = api.production.ListWorkOrderRevisions(
        by_id[("production", "ListWorkOrderRevisions")], metadata=mine
    ).revisions
    assert [r.stage for r in revisions] == [production_pb2.STAGE_TO_SCHEDULE]


# --- random values in every field ---

INT64 = st.integers(-(2**63), 2**63 - 1)
EDGE_INTS = st.sampled_from(
    [0, -1, 1, 2**31 - 1, -(2**31), 10_000_000, 10_000_001, 100_000, 100_001, 365, 366]
)
UUIDISH = st.one_of(
    st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.uuids().map(lambda u: u.hex)
)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Page tokens: the contract's alphabet, and base64 of what a token decodes to, right and wrong:
# instants at the ends of the calendar, naive ones, parts of the wrong kind.
PAGE_TOKEN = st.one_of(
    RANDOM_TEXT,
    st.text(st.sampled_from("ABCabc019_-="), max_size=200),
    st.binary(max_size=120).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.builds(
        lambda instant, tail: _b64(f"{instant}|{tail}"),
        st.sampled_from(
            [
                "0001-01-01T00:00:00+01:00",  # overflows when taken to UTC
                "9999-12-31T23:59:59-01:00",
                "0001-01-01T00:00:00+00:00",
                "9999-12-31T23:59:59+00:00",
                "2026-11-25T08:00:00+00:00",
                "2026-11-25T08:00:00",
                "NaN",
            ]
        ),
        st.one_of(UUIDISH, st.just("BT-HW-20261125-01"), st.just("WO-HW-20261125-00001-01"), RANDOM_TEXT),
    ),
)
_NESTED_JSON = st.integers(1, 999).map(lambda n: "[" * n + "]" * n)
PARAMS_JSON = st.one_of(
    RANDOM_TEXT,
    _NESTED_JSON,
    st.integers(1, 390).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(
        [
            '{"min_orders": NaN}',
            '{"amount_cny": Infinity, "min_orders": -Infinity}',
            '{"min_orders": 1e400, "window_hours": -1e400}',
            '{"min_orders": 100000000000000000000000000000000000000, "window_hours": 1}',
            '{"amount_cny": 9223372036854775808}',
            '{"min_orders": "三", "window_hours": null}',
            '{"min_orders": [1, 2], "window_hours": {"h": 1}}',
            '{"Min-Orders": 3}',
            '{"": 1}',
            '{"amount_cny": 0, "amount_cny": 1}',
            "[]",
            "null",
            "3",
            '"text"',
            '{"min_orders": 3, "window_hours": 0}',
            '{"min_orders": 0, "window_hours": 2147483648}',
            '{"min_orders": 3, "window_hours": -72}',
            '{"min_orders": 3, "window_hours": 1e308}',
        ]
    ),
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.integers(), st.floats(), st.text(max_size=12), st.booleans(), st.none()),
        max_size=4,
    ).map(json.dumps),
)
CEL = st.one_of(
    RANDOM_TEXT,
    st.integers(1, 999).map(lambda n: "(" * n + "true" + ")" * n),
    st.integers(1, 1990).map(lambda n: "!" * n + "true"),
    st.integers(1, 660).map(lambda n: "1+" * n + "1 > 0"),
    st.integers(1, 999).map(lambda n: "[" * n + "]" * n + " == []"),
    st.sampled_from(
        [
            "orders.size() >= params.min_orders",
            "order.amount_cny > params.amount_cny",
            "9223372036854775807 + 1 > 0",
            "1 / 0 == 1",
            "orders.all(o, o.quantity / 0 > 1)",
            "order.lines.exists(l, l.quantity * 9223372036854775807 > 0)",
            "orders[100].quantity > 0",
            "order.lines.map(l, l.colour).size() > 1",
            "size(order.order_no) > 0 && order.order_no.matches('(a+)+$')",
            "orders.map(o, orders.map(p, orders.map(q, o.quantity + p.quantity + q.quantity))).size() > 0",
            "params.min_orders",
            "'text'",
            "null",
            "double('NaN') > 0.0",
            "timestamp(orders[0].approved_at) > timestamp('9999-12-31T23:59:59Z')",
            "duration('999999999999h') > duration('1h')",
        ]
    ),
)
RULE_NAME = st.one_of(
    st.sampled_from(["", "merge_same_configuration", "lock_large_orders", "x", "a" * 64]), RANDOM_TEXT
)
MODEL = st.one_of(
    st.sampled_from(["HB-2040 铰链 hinge", "BK-310 支架 bracket", "SP-08 弹片 spring clip"]), RANDOM_TEXT
)
COLOUR = st.one_of(st.sampled_from(["银色 silver", "金色 gold", "", "未知色 unknown"]), RANDOM_TEXT)
QUANTITY = st.one_of(st.integers(1, 1000), EDGE_INTS, INT32)


def material_lines(draw, fuzz: bool) -> list[inventory_pb2.MaterialLine]:
    if not fuzz:
        return [
            inventory_pb2.MaterialLine(product_model="HB-2040 铰链 hinge", quantity=1, colour="银色 silver")
        ]
    n = draw(st.sampled_from([0, 1, 2, 201]))
    return [
        inventory_pb2.MaterialLine(
            product_model=draw(MODEL),
            quantity=draw(QUANTITY),
            colour=draw(COLOUR),
            surface_treatment=draw(st.one_of(st.just(""), HOSTILE_TEXT)),
        )
        for _ in range(min(n, 3))
    ] + [inventory_pb2.MaterialLine(product_model="HB-2040 铰链 hinge", quantity=1)] * max(0, n - 3)


class Draw:
    """Fuzzes one or two fields of a request, draws a valid value for the others (so more
    examples get past validation into the handler and the database)."""

    def __init__(self, data, names: list[str]):
        self._data = data
        self.fuzzed = data.draw(st.sets(st.sampled_from(names), min_size=1, max_size=2), label="fuzzed")

    def __call__(self, name: str, hostile: st.SearchStrategy, valid):
        if name in self.fuzzed:
            return self._data.draw(hostile, label=name)
        return valid


def check(call_, request, metadata, fuzzed: set[str]):
    code, exc, reply = status_of(call_, request, metadata)
    event(code.name)
    assert code not in NEVER, (code, exc and exc.details())
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert exc is not None
        fields = scenario.bad_request_fields(exc)
        roots = {f.split("[")[0].split(".")[0] for f in fields}
        # A rule is checked with its params: an expression reading a param the candidate's params
        # lack (or have as text) is refused on the expression; an override without a reason is
        # the reason's fault.
        blamed = set(fuzzed)
        for cause, field in [("params_json", "expression"), ("override_shortage", "override_reason")]:
            blamed |= {field} if cause in fuzzed else set()
        assert fields and roots <= blamed, (fuzzed, fields, exc.details())
    return code, reply


FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(data=st.data())
def test_random_production_dry_runs_never_answer_internal(api, hardware, data):
    d = Draw(data, ["kind", "name", "expression", "params_json", "days"])
    request = production_pb2.DryRunRuleRequest(
        kind=d("kind", st.one_of(st.just("material_lock"), RANDOM_TEXT), "batch_merge"),
        name=d("name", RULE_NAME, "merge_same_configuration"),
        expression=d("expression", CEL, ""),
        params_json=d("params_json", PARAMS_JSON, ""),
        days=d("days", st.one_of(EDGE_INTS, INT32), 0),
    )
    check(api.production.DryRunRule, request, HARDWARE.metadata(), d.fuzzed)


@FUZZ
@given(data=st.data())
def test_random_inventory_dry_runs_never_answer_internal(api, hardware, data):
    d = Draw(data, ["kind", "name", "expression", "params_json", "days"])
    request = inventory_pb2.DryRunRuleRequest(
        kind=d("kind", st.one_of(st.just("batch_merge"), RANDOM_TEXT), "material_lock"),
        name=d("name", RULE_NAME, ""),
        expression=d("expression", CEL, "order.amount_cny > params.amount_cny"),
        params_json=d("params_json", PARAMS_JSON, '{"amount_cny": 80000}'),
        days=d("days", st.one_of(EDGE_INTS, INT32), 0),
    )
    check(api.inventory.DryRunRule, request, HARDWARE.metadata(), d.fuzzed)


@pytest.mark.parametrize("depth", [400, 999])
@pytest.mark.parametrize("service", ["inventory", "production"])
def test_params_nested_past_the_json_parsers_recursion_limit_are_refused_on_params_json(api, service, depth):
    """`[[[…]]]` a thousand deep fits in params_json's 2,000 characters; Python's json raises
    RecursionError on it (not ValueError)."""
    pb = inventory_pb2 if service == "inventory" else production_pb2
    kind, expression = (
        ("material_lock", "order.amount_cny > 1.0") if service == "inventory" else ("batch_merge", "true")
    )
    request = pb.DryRunRuleRequest(kind=kind, expression=expression, params_json="[" * depth + "]" * depth)
    code, exc, _ = status_of(call(api, service, "DryRunRule"), request, HARDWARE.metadata())
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, exc and exc.details())
    assert scenario.bad_request_fields(exc) == {"params_json"}


@FUZZ
@given(data=st.data())
def test_random_list_and_get_requests_never_answer_internal(api, hardware, data):
    which = data.draw(st.sampled_from(["reservations", "stock", "batches", "batch", "board", "revisions"]))
    if which == "reservations":
        d = Draw(data, ["order_id", "material", "page_size", "page_token"])
        request = inventory_pb2.ListReservationsRequest(
            order_id=d("order_id", st.one_of(UUIDISH, RANDOM_TEXT), ""),
            material=d("material", st.one_of(st.just("SPCC 冷轧钢板 cold-rolled steel"), RANDOM_TEXT), ""),
            page_size=d("page_size", st.one_of(EDGE_INTS, INT32), 0),
            page_token=d("page_token", PAGE_TOKEN, ""),
        )
        rpc = api.inventory.ListReservations
    elif which == "stock":
        d = Draw(data, ["materials"])
        request = inventory_pb2.ListMaterialStockRequest(
            materials=d("materials", st.lists(st.one_of(RANDOM_TEXT, st.just("")), max_size=201), [])
        )
        rpc = api.inventory.ListMaterialStock
    elif which == "batches":
        d = Draw(data, ["state", "page_size", "page_token"])
        request = production_pb2.ListBatchTasksRequest(
            state=d("state", st.one_of(EDGE_INTS, INT32), 0),
            page_size=d("page_size", st.one_of(EDGE_INTS, INT32), 0),
            page_token=d("page_token", PAGE_TOKEN, ""),
        )
        rpc = api.production.ListBatchTasks
    elif which == "batch":
        d = Draw(data, ["batch_id"])
        request = production_pb2.GetBatchTaskRequest(
            batch_id=d("batch_id", st.one_of(UUIDISH, RANDOM_TEXT), "")
        )
        rpc = api.production.GetBatchTask
    elif which == "board":
        d = Draw(data, ["workshop", "limit"])
        request = production_pb2.GetBoardRequest(
            workshop=d("workshop", st.one_of(st.just("stamping-1"), RANDOM_TEXT), ""),
            limit=d("limit", st.one_of(EDGE_INTS, INT32), 0),
        )
        rpc = api.production.GetBoard
    else:
        d = Draw(data, ["work_order_id"])
        request = production_pb2.ListWorkOrderRevisionsRequest(
            work_order_id=d("work_order_id", st.one_of(UUIDISH, RANDOM_TEXT), "")
        )
        rpc = api.production.ListWorkOrderRevisions
    check(rpc, request, HARDWARE.metadata(), d.fuzzed)


# An instant whose conversion to UTC overflows the calendar: once an INTERNAL (the conversion ran
# in the query), now a bad page token like any other (services/chassis/paging.py instant_part).
@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("rpc", ["ListReservations", "ListBatchTasks"])
def test_a_page_token_whose_instant_overflows_utc_is_a_bad_page_token(api, instant, rpc):
    if rpc == "ListReservations":
        request = inventory_pb2.ListReservationsRequest(page_token=_b64(f"{instant}|{uuid.uuid4()}"))
        rpc_call = api.inventory.ListReservations
    else:
        request = production_pb2.ListBatchTasksRequest(page_token=_b64(f"{instant}|BT-HW-20261125-01"))
        rpc_call = api.production.ListBatchTasks
    code, exc, _ = status_of(rpc_call, request, HARDWARE.metadata())
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, exc and exc.details())
    assert scenario.bad_request_fields(exc) == {"page_token"}


@FUZZ
@given(data=st.data())
def test_random_material_requests_never_answer_internal(api, hardware, data):
    which = data.draw(st.sampled_from(["check", "reserve", "issue", "preview"]))
    if which == "check":
        d = Draw(data, ["lines"])
        request = inventory_pb2.CheckMaterialsRequest(lines=material_lines(data.draw, "lines" in d.fuzzed))
        rpc = api.inventory.CheckMaterials
    elif which == "reserve":
        d = Draw(
            data,
            [
                "order_id",
                "order_no",
                "revision",
                "customer_id",
                "amount_fen",
                "priority",
                "lines",
                "override_shortage",
                "override_reason",
            ],
        )
        request = inventory_pb2.ReserveMaterialsRequest(
            order_id=d("order_id", st.one_of(UUIDISH, RANDOM_TEXT), str(uuid.uuid4())),
            order_no=d("order_no", RANDOM_TEXT, f"HW-20261125-{data.draw(st.integers(10000, 99999))}"),
            revision=d("revision", st.one_of(EDGE_INTS, INT32), 1),
            customer_id=d("customer_id", st.one_of(UUIDISH, RANDOM_TEXT), str(uuid.uuid4())),
            amount_fen=d("amount_fen", st.one_of(EDGE_INTS, INT64), 100),
            priority=d("priority", st.one_of(st.just("PRIORITY_URGENT"), RANDOM_TEXT), "PRIORITY_NORMAL"),
            lines=material_lines(data.draw, "lines" in d.fuzzed),
            override_shortage=d("override_shortage", st.booleans(), False),
            override_reason=d("override_reason", RANDOM_TEXT, ""),
        )
        rpc = api.inventory.ReserveMaterials
    elif which == "issue":
        d = Draw(data, ["order_id"])
        request = inventory_pb2.IssueMaterialsRequest(
            order_id=d("order_id", st.one_of(UUIDISH, RANDOM_TEXT), "")
        )
        rpc = api.inventory.IssueMaterials
    else:
        d = Draw(data, ["order_id", "before", "after"])
        request = inventory_pb2.PreviewMaterialNeedsRequest(
            order_id=d("order_id", st.one_of(UUIDISH, RANDOM_TEXT), hardware["order_id"]),
            before=material_lines(data.draw, "before" in d.fuzzed),
            after=material_lines(data.draw, "after" in d.fuzzed),
        )
        rpc = api.inventory.PreviewMaterialNeeds
    check(rpc, request, HARDWARE.metadata(), d.fuzzed)


@FUZZ
@given(data=st.data())
def test_random_stage_reports_never_answer_internal(api, hardware, data):
    d = Draw(data, ["work_order_id", "stage", "good_quantity", "scrap_quantity", "note", "expected_revision"])
    request = production_pb2.ReportStageRequest(
        work_order_id=d("work_order_id", st.one_of(UUIDISH, RANDOM_TEXT), hardware["work_order_id"]),
        stage=d("stage", st.one_of(EDGE_INTS, INT32, st.integers(0, 6)), production_pb2.STAGE_TO_SCHEDULE),
        good_quantity=d("good_quantity", st.one_of(EDGE_INTS, INT64), 0),
        scrap_quantity=d("scrap_quantity", st.one_of(EDGE_INTS, INT64), 0),
        note=d("note", RANDOM_TEXT, "夜班 night shift"),
        expected_revision=d("expected_revision", st.one_of(EDGE_INTS, INT32), 0),
    )
    check(api.production.ReportStage, request, HARDWARE.metadata(), d.fuzzed)


# --- approval reserving materials: the override's fields, its role, another tenant's order ---

MANAGER = scenario.Caller("hardware", "王厂长", ("manager",))
APPROVER_ONLY = scenario.Caller("hardware", "李经理", ("approver",))


def new_order(api, customer_id: str, quantity: int) -> str:
    return api.orders.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=customer_id,
            channel=order_pb2.CHANNEL_DIRECT,
            due_date=scenario.due(),
            lines=[scenario.line(qty=quantity, colour="金色 gold")],  # gold plating: 20 L on hand
        ),
        metadata=HW_SALES.metadata(),
        timeout=TIMEOUT_S,
    ).order.order_id


@pytest.fixture(scope="module")
def customer_id(api) -> str:
    return api.customers.CreateCustomer(
        customer_pb2.CreateCustomerRequest(
            code=f"UA-{uuid.uuid4().hex[:8].upper()}",
            name="不可信审批 Untrusted Approval",
            sales_owner="陈丽",
        ),
        metadata=HW_SALES.metadata(),
        timeout=TIMEOUT_S,
    ).customer.customer_id


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_random_override_fields_on_approval_never_answer_internal(api, customer_id, data):
    # 1 piece needs 0.002 L of gold plating; 20,000 pieces need 40 L, twice what is on hand
    order_id = new_order(api, customer_id, data.draw(st.sampled_from([1, 20_000]), label="quantity"))
    d = Draw(data, ["order_id", "expected_version", "override_shortage", "override_reason"])
    request = order_pb2.ApproveOrderRequest(
        order_id=d("order_id", st.one_of(UUIDISH, RANDOM_TEXT), order_id),
        expected_version=d("expected_version", st.one_of(EDGE_INTS, INT32), 0),
        override_shortage=d("override_shortage", st.booleans(), False),
        override_reason=d("override_reason", RANDOM_TEXT, ""),
    )
    check(api.orders.ApproveOrder, request, MANAGER.metadata(), d.fuzzed)


def test_only_a_manager_overrides_a_shortage_and_only_in_its_own_tenant(api, customer_id):
    order_id = new_order(api, customer_id, 20_000)
    override = order_pb2.ApproveOrderRequest(
        order_id=order_id, override_shortage=True, override_reason="镀金液周三到货 arrives Wednesday"
    )
    code, exc, _ = status_of(api.orders.ApproveOrder, override, APPROVER_ONLY.metadata())
    assert code == grpc.StatusCode.PERMISSION_DENIED, (code, exc and exc.details())
    code, exc, _ = status_of(api.orders.ApproveOrder, override, AUTOPARTS.metadata())
    assert code == grpc.StatusCode.NOT_FOUND, (code, exc and exc.details())
    portal = scenario.Caller("hardware", "客户", ("customer",), customer_id=customer_id).metadata()
    code, exc, _ = status_of(api.orders.ApproveOrder, override, portal)
    assert code == grpc.StatusCode.PERMISSION_DENIED, (code, exc and exc.details())
    # nothing of it was reserved on the way
    code, exc, listed = status_of(
        api.inventory.ListReservations,
        inventory_pb2.ListReservationsRequest(order_id=order_id),
        HARDWARE.metadata(),
    )
    assert code == grpc.StatusCode.OK and list(listed.reservations) == [], (code, listed)
    # the manager's override holds what there is, short the rest, and says who and why
    approved = api.orders.ApproveOrder(override, metadata=MANAGER.metadata(), timeout=TIMEOUT_S).order
    [held] = api.inventory.ListReservations(
        inventory_pb2.ListReservationsRequest(order_id=order_id), metadata=HARDWARE.metadata()
    ).reservations
    assert (
        held.overridden
        and held.overridden_by == "王厂长"
        and held.override_reason == override.override_reason
    )
    assert approved.order_id == order_id


# --- every list at its contract maximum ---


def test_the_largest_requests_the_contract_allows_are_answered(api):
    mine = HARDWARE.metadata()
    names = [f"{n:03d}" + "钢" * 125 for n in range(200)]  # 200 materials of 128 characters
    code, exc, stock = status_of(
        api.inventory.ListMaterialStock, inventory_pb2.ListMaterialStockRequest(materials=names), mine
    )
    assert code == grpc.StatusCode.OK, (code, exc and exc.details())
    assert all(m.on_hand == 0 and m.reserved == 0 for m in stock.materials if m.material in names)

    most = [
        inventory_pb2.MaterialLine(
            product_model="HB-2040 铰链 hinge",
            quantity=10_000_000,
            colour="金色 gold",
            surface_treatment="电镀 plating",
        )
    ] * 200
    code, exc, checked = status_of(
        api.inventory.CheckMaterials, inventory_pb2.CheckMaterialsRequest(lines=most), mine
    )
    assert code == grpc.StatusCode.OK and not checked.all_available, (code, exc and exc.details())
    steel = next(m for m in checked.materials if m.material.startswith("SPCC"))
    assert steel.needed == 240_000_000  # 2e9 hinges × 0.12 kg, no overflow

    reserve = inventory_pb2.ReserveMaterialsRequest(
        order_id=str(uuid.uuid4()),
        order_no="HW-20261126-99998",
        revision=100_000,
        customer_id=str(uuid.uuid4()),
        amount_fen=100_000_000_000_000,
        priority="PRIORITY_URGENT",
        lines=most,
        override_shortage=True,
        override_reason="压力测试 the contract's largest order",
    )
    code, exc, held = status_of(api.inventory.ReserveMaterials, reserve, mine)
    assert code in {grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED}, (code, exc and exc.details())
    if code == grpc.StatusCode.OK:
        assert held.reservation.revision == 100_000 and held.reservation.locked  # ¥1e12 > ¥50,000
        [shown] = api.inventory.ListReservations(
            inventory_pb2.ListReservationsRequest(order_id=reserve.order_id), metadata=mine
        ).reservations
        shown.wms_synced = held.reservation.wms_synced  # the push to the WMS may land in between
        assert shown == held.reservation
