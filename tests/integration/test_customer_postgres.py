"""The customer service on real PostgreSQL behind a real gRPC server with the chassis interceptor
(tokens, permissions, protovalidate, the error table): master data, versions, search, tiers from
order_shipped events and the daily pass, contract prices, price visibility and isolation. Event
payloads are read back from the outbox, field by field."""

from __future__ import annotations

import json
import uuid
from concurrent import futures
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest
from alembic import command
from google.type import date_pb2
from sqlalchemy import create_engine, func, insert, select, text

from oms.customer.v1 import customer_pb2 as pb
from oms.customer.v1 import customer_pb2_grpc
from services.chassis.consumer import EventConsumer
from services.chassis.events import MalformedEvent
from services.chassis.identity import Identity, KeySet, TokenVerifier, acting_as
from services.chassis.interceptors import ChassisInterceptor
from services.chassis.migrations import alembic_config, upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.customer.adapters.tables import contract_prices, customers, metadata, purchases, tier_changes
from services.customer.api import CustomerApi, tenant_rules
from services.customer.app import definition, subscriptions
from services.customer.service_layer.tiers import reassess_tiers
from tests.e2e.scenario import bad_request_fields
from tests.unit.keys import TestIssuer, write_jwks

pytestmark = pytest.mark.integration
TENANTS = load_tenants(("hardware", "autoparts"))
OUTBOX = metadata.tables["outbox"]


class Stack:
    def __init__(self, engine, uow, stub, issuer):
        self.engine, self.uow, self.stub, self.issuer = engine, uow, stub, issuer

    def md(self, roles=("sales",), tenant="hardware", user="陈丽", customer_id=""):
        token = self.issuer.mint(tenant, user, list(roles), customer_id=customer_id)
        return (("authorization", f"Bearer {token}"),)

    def call(self, rpc: str, request, **who):
        return getattr(self.stub, rpc)(request, metadata=self.md(**who), timeout=20)

    def refused(self, rpc: str, request, **who) -> tuple[str, set[str]]:
        with pytest.raises(grpc.RpcError) as caught:
            self.call(rpc, request, **who)
        return caught.value.code().name, bad_request_fields(caught.value)

    def rows(self) -> dict[str, int]:
        with self.engine.connect() as c:
            return {
                t.name: c.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (customers, purchases, tier_changes, contract_prices, OUTBOX)
            }

    def events(self, event_type: str) -> list[dict]:
        with self.engine.connect() as c:
            bodies = c.execute(
                select(OUTBOX.c.body).where(OUTBOX.c.event_type == event_type).order_by(OUTBOX.c.id)
            ).scalars()
            return [json.loads(b)["data"] for b in bodies]


@pytest.fixture
def stack(fresh_database, tmp_path):
    engine = create_engine(fresh_database("customer"), pool_size=10)
    upgrade(definition.migrations_dir, engine)
    uow = unit_of_work_factory(definition, engine)
    issuer = TestIssuer("customer-it")
    verifier = TokenVerifier(KeySet(str(write_jwks(tmp_path / "jwks.json", issuer))))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=[ChassisInterceptor(verifier, list(TENANTS))]
    )
    customer_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerApi(uow, TENANTS.__getitem__), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Stack(engine, uow, customer_pb2_grpc.CustomerServiceStub(channel), issuer)
    server.stop(0)
    engine.dispose()


def day(d: date) -> date_pb2.Date:
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def today() -> date:
    return datetime.now(TENANTS["hardware"].tz).date()


CONTACT = pb.Contact(name="刘敏", phone="138 0013 8000", role="采购 buyer")
HQ = pb.DeliveryAddress(
    label="顺德总部 HQ", address="广东省佛山市顺德区北滘镇美的大道6号", receiver="刘敏", is_default=True
)


def create(stack: Stack, code: str = "MIDEA-SD", **fields) -> pb.Customer:
    request = pb.CreateCustomerRequest(
        code=code,
        name=fields.pop("name", "美的集团顺德基地 Midea Shunde"),
        sales_owner="陈丽",
        tax_id="91440606MA4UH1XK2E",
        **{"contacts": [CONTACT], "addresses": [HQ], **fields},
    )
    return stack.call("CreateCustomer", request).customer


def test_a_customer_is_created_with_its_master_data_and_announced(stack):
    made = create(stack, years_of_cooperation=8, yearly_purchases_cny=5_200_000)

    got = stack.call("GetCustomer", pb.GetCustomerRequest(customer_id=made.customer_id)).customer
    assert got == made
    assert (got.tier, got.version, got.active, got.years_of_cooperation) == (pb.TIER_A, 1, True, 8)
    assert (got.purchases_12m_fen, got.yearly_purchases_cny) == (520_000_000, 5_200_000)
    assert (got.cooperation_since.year, got.cooperation_since.month, got.cooperation_since.day) == (
        today().year - 8,
        today().month,
        today().day,
    )
    assert list(got.contacts) == [CONTACT] and list(got.addresses) == [HQ]
    assert got.tax_id == "91440606MA4UH1XK2E"
    assert stack.events("customer_created") == [
        {
            "customer_id": made.customer_id,
            "code": "MIDEA-SD",
            "name": "美的集团顺德基地 Midea Shunde",
            "tier": "TIER_A",
            "sales_owner": "陈丽",
            "active": True,
            "version": 1,
        }
    ]
    # the opening balance (期初) is a purchase dated today; the registration is in the tier history
    with stack.engine.connect() as c:
        [opening] = c.execute(select(purchases)).all()
    assert (opening.order_id, opening.amount_fen, opening.occurred_on) == (None, 520_000_000, today())
    [first] = stack.call("ListTierChanges", pb.ListTierChangesRequest(customer_id=made.customer_id)).changes
    assert (first.from_tier, first.to_tier, first.version) == (pb.TIER_UNSPECIFIED, pb.TIER_A, 1)
    assert "¥5,200,000 ≥ A级门槛 ¥3,000,000" in first.reason


def test_cooperation_since_wins_over_years(stack):
    made = create(stack, years_of_cooperation=8, cooperation_since=day(date(2025, 1, 2)))
    assert (made.cooperation_since.year, made.cooperation_since.month, made.cooperation_since.day) == (
        2025,
        1,
        2,
    )


def bad_creates():
    ok = dict(code="GREE-ZH", name="格力电器珠海", sales_owner="周强")
    return [
        pytest.param(
            pb.CreateCustomerRequest(
                **{**ok, "code": "gree zh"},
                tax_id="123",
                contacts=[pb.Contact(name="刘敏", phone="call me")],
                cooperation_since=date_pb2.Date(year=2026, month=2, day=30),
            ),
            {"code", "tax_id", "contacts[0].phone", "cooperation_since"},
            id="contract",
        ),
        pytest.param(
            pb.CreateCustomerRequest(
                **{**ok, "name": "   "},
                contacts=[pb.Contact(name=" ", phone="13800138000")],
                addresses=[
                    pb.DeliveryAddress(address="广州", is_default=True),
                    pb.DeliveryAddress(address="佛山", is_default=True),
                ],
                cooperation_since=day(today() + timedelta(days=1)),
            ),
            {"name", "contacts[0].name", "addresses[1].is_default", "cooperation_since"},
            id="domain",
        ),
    ]


@pytest.mark.parametrize(("request_", "fields"), bad_creates())
def test_a_bad_create_names_every_field_and_writes_nothing(stack, request_, fields):
    before = stack.rows()
    assert stack.refused("CreateCustomer", request_) == ("INVALID_ARGUMENT", fields)
    assert stack.rows() == before


def test_a_taken_code_is_already_exists(stack):
    create(stack)
    before = stack.rows()
    assert stack.refused("CreateCustomer", pb.CreateCustomerRequest(code="MIDEA-SD", name="x"))[0] == (
        "ALREADY_EXISTS"
    )
    assert stack.rows() == before


def update_request(made: pb.Customer, version: int, **changes) -> pb.UpdateCustomerRequest:
    return pb.UpdateCustomerRequest(
        customer_id=made.customer_id,
        expected_version=version,
        name=changes.pop("name", "美的集团 Midea Group"),
        sales_owner="周强",
        contacts=changes.pop(
            "contacts", [pb.Contact(name="王芳", phone="0757-2222 3333", role="财务 finance")]
        ),
        **changes,
    )


def test_an_update_replaces_the_fields_and_a_stale_version_is_aborted(stack):
    made = create(stack, years_of_cooperation=3, yearly_purchases_cny=1_000_000)
    assert made.tier == pb.TIER_B

    updated = stack.call(
        "UpdateCustomer", update_request(made, 1, cooperation_since=day(date(2015, 6, 1)))
    ).customer
    assert (updated.version, updated.name, updated.sales_owner, updated.tax_id) == (
        2,
        "美的集团 Midea Group",
        "周强",
        "",
    )
    assert [c.phone for c in updated.contacts] == ["0757-2222 3333"] and list(updated.addresses) == []
    assert updated.tier == pb.TIER_B  # 11 years now, but ¥1,000,000 < A's ¥3,000,000
    assert stack.events("customer_updated") == [
        {
            "customer_id": made.customer_id,
            "code": "MIDEA-SD",
            "name": "美的集团 Midea Group",
            "tier": "TIER_B",
            "sales_owner": "周强",
            "active": True,
            "version": 2,
        }
    ]

    before = stack.rows()
    assert stack.refused("UpdateCustomer", update_request(made, 1, name="又改了"))[0] == "ABORTED"
    assert stack.rows() == before
    assert stack.call("GetCustomer", pb.GetCustomerRequest(customer_id=made.customer_id)).customer == updated


def test_bad_updates_deactivations_and_reactivations_name_their_fields_and_write_nothing(stack):
    made = create(stack)
    before = stack.rows()
    cases = [
        (
            "UpdateCustomer",
            pb.UpdateCustomerRequest(customer_id="nope", name=""),
            {"customer_id", "name", "expected_version"},
        ),
        (
            "UpdateCustomer",
            update_request(made, 1, name=" ", addresses=[pb.DeliveryAddress(address=" ", phone="12")]),
            {"name", "addresses[0].address"},
        ),
        ("UpdateCustomer", update_request(made, 1, tax_id="x" * 18), {"tax_id"}),
        (
            "DeactivateCustomer",
            pb.DeactivateCustomerRequest(customer_id=made.customer_id, expected_version=1),
            {"reason"},
        ),
        (
            "ReactivateCustomer",
            pb.ReactivateCustomerRequest(customer_id="x"),
            {"customer_id", "expected_version"},
        ),
    ]
    for rpc, request, fields in cases:
        assert stack.refused(rpc, request) == ("INVALID_ARGUMENT", fields), rpc
    assert stack.refused(
        "ReactivateCustomer", pb.ReactivateCustomerRequest(customer_id=made.customer_id, expected_version=1)
    ) == ("FAILED_PRECONDITION", set())
    assert stack.rows() == before


def test_deactivate_and_reactivate_are_versioned_events_and_filter_the_list(stack):
    made = create(stack)
    other = create(stack, "SUPOR-HZ", name="苏泊尔杭州 Supor")
    off = stack.call(
        "DeactivateCustomer",
        pb.DeactivateCustomerRequest(
            customer_id=made.customer_id, expected_version=1, reason="停止合作 ended"
        ),
    ).customer
    assert (off.active, off.version, off.deactivation_reason) == (False, 2, "停止合作 ended")

    def codes(active=None):
        request = pb.ListCustomersRequest() if active is None else pb.ListCustomersRequest(active=active)
        return [c.code for c in stack.call("ListCustomers", request).customers]

    assert (codes(), codes(True), codes(False)) == (["MIDEA-SD", "SUPOR-HZ"], ["SUPOR-HZ"], ["MIDEA-SD"])
    on = stack.call(
        "ReactivateCustomer",
        pb.ReactivateCustomerRequest(customer_id=made.customer_id, expected_version=2),
        roles=("manager",),
        user="王经理",
    ).customer
    assert (on.active, on.version, on.deactivation_reason) == (True, 3, "")
    assert stack.events("customer_deactivated") == [
        {
            "customer_id": made.customer_id,
            "code": "MIDEA-SD",
            "version": 2,
            "reason": "停止合作 ended",
            "deactivated_by": "陈丽",
        }
    ]
    assert stack.events("customer_reactivated") == [
        {"customer_id": made.customer_id, "code": "MIDEA-SD", "version": 3, "reactivated_by": "王经理"}
    ]
    assert other.active


def test_search_finds_name_code_or_phone_and_pages_by_code(stack):
    for i in range(5):
        create(
            stack,
            f"PG-{i}",
            name=f"客户{i} Client",
            contacts=[pb.Contact(name="某", phone=f"+86 139 0000 000{i}")],
        )
    create(stack, "MIDEA-SD")

    def found(query):
        return [c.code for c in stack.call("ListCustomers", pb.ListCustomersRequest(query=query)).customers]

    assert found("13800") == ["MIDEA-SD"]  # "138 0013 8000" without its spaces
    assert found("138 0013") == ["MIDEA-SD"]
    assert found("0000 0003") == ["PG-3"]
    assert found("midea") == ["MIDEA-SD"]
    assert found("客户4") == ["PG-4"]
    assert found("%") == []  # literal, not a wildcard
    seen, token = [], ""
    while True:
        reply = stack.call(
            "ListCustomers", pb.ListCustomersRequest(query="client", page_size=2, page_token=token)
        )
        seen += [c.code for c in reply.customers]
        token = reply.next_page_token
        if not token:
            break
    assert seen == ["PG-0", "PG-1", "PG-2", "PG-3", "PG-4"]


def shipped(customer_id: str, order_id: str, amount_fen: int, version: int = 5, at: str = "") -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "order_shipped",
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-25T09:30:00+00:00",
            "data": {
                "order_id": order_id,
                "order_no": "HW-20261125-00007",
                "customer_id": customer_id,
                "version": version,
                "amount_fen": str(amount_fen),
                "shipped_by": "仓库 张三",
                "shipped_at": at or datetime.now(UTC).isoformat(),
            },
        },
        ensure_ascii=False,
    ).encode()


def test_shipments_count_once_per_order_and_change_the_tier(stack):
    made = create(stack, years_of_cooperation=3, yearly_purchases_cny=500_000)
    assert made.tier == pb.TIER_C
    consumer = EventConsumer(
        "customer", subscriptions(lambda t: tenant_rules(TENANTS[t])), stack.uow, ["hardware"]
    )
    order = str(uuid.uuid4())
    body = shipped(made.customer_id, order, 40_000_000)  # ¥400,000: ¥900,000 in 12 months

    assert consumer.handle("order.events", "order_shipped", body) == "ok"
    assert consumer.handle("order.events", "order_shipped", body) == "duplicate"  # redelivered
    # the same order shipped again (a new event, a newer version): still counted once
    assert (
        consumer.handle("order.events", "order_shipped", shipped(made.customer_id, order, 40_000_000, 6))
        == "ok"
    )
    assert consumer.handle("order.events", "order_shipped", shipped(made.customer_id, order, 1, 4)) == "stale"

    got = stack.call("GetCustomer", pb.GetCustomerRequest(customer_id=made.customer_id)).customer
    assert (got.tier, got.version, got.purchases_12m_fen) == (pb.TIER_B, 2, 90_000_000)
    assert stack.events("customer_tier_changed") == [
        {
            "customer_id": made.customer_id,
            "code": "MIDEA-SD",
            "from_tier": "TIER_C",
            "to_tier": "TIER_B",
            "reason": "近12个月采购额 ¥900,000 ≥ B级门槛 ¥800,000，合作 3 年 ≥ 2 年 "
            "purchases over the last 12 months and years of cooperation reached tier B",
            "purchases_12m_fen": "90000000",
            "years_of_cooperation": 3,
            "version": 2,
        }
    ]
    changes = stack.call("ListTierChanges", pb.ListTierChangesRequest(customer_id=made.customer_id)).changes
    assert [(c.from_tier, c.to_tier, c.version) for c in changes] == [
        (pb.TIER_C, pb.TIER_B, 2),
        (pb.TIER_UNSPECIFIED, pb.TIER_C, 1),
    ]
    # a shipment for a customer this tenant does not have is dead-lettered, not retried forever
    with pytest.raises(MalformedEvent):
        consumer.handle("order.events", "order_shipped", shipped(str(uuid.uuid4()), str(uuid.uuid4()), 1))


def test_the_daily_pass_ages_purchases_out_and_counts_years(stack):
    aged = create(stack, years_of_cooperation=6, yearly_purchases_cny=4_000_000)
    young = create(stack, "NEW-1", cooperation_since=day(date(2024, 1, 1)), yearly_purchases_cny=100)
    assert (aged.tier, young.tier) == (pb.TIER_A, pb.TIER_C)
    rules = tenant_rules(TENANTS["hardware"])
    job = Identity("hardware", "job:customer_tiers", frozenset({"service"}))

    with acting_as(job):
        assert reassess_tiers(stack.uow, rules) == 0  # nothing moved today
        a_year_on = lambda: datetime.now(UTC) + timedelta(days=366)  # noqa: E731
        assert reassess_tiers(stack.uow, rules, clock=a_year_on) == 2  # both opening balances aged out
        assert reassess_tiers(stack.uow, rules, clock=a_year_on) == 0

    got = stack.call("GetCustomer", pb.GetCustomerRequest(customer_id=aged.customer_id)).customer
    assert (got.tier, got.purchases_12m_fen, got.years_of_cooperation, got.version) == (pb.TIER_C, 0, 7, 2)
    [event] = stack.events("customer_tier_changed")
    assert event == {
        "customer_id": aged.customer_id,
        "code": "MIDEA-SD",
        "from_tier": "TIER_A",
        "to_tier": "TIER_C",
        "reason": "近12个月采购额 ¥0 < B级门槛 ¥800,000 purchases over the last 12 months fell below tier B",
        # proto3 JSON leaves zeros out: a reader gets purchases_12m_fen 0 through the contract
        "years_of_cooperation": 7,
        "version": 2,
    }
    # the young one stays tier C: only its stored numbers moved, so its version did not
    assert (
        stack.call("GetCustomer", pb.GetCustomerRequest(customer_id=young.customer_id)).customer.version == 1
    )


def price(
    scope: dict, model: str, fen: int, start: date, end: date | None = None
) -> pb.SetContractPriceRequest:
    request = pb.SetContractPriceRequest(
        product_model=model, unit_price_fen=fen, valid_from=day(start), **scope
    )
    if end:
        request.valid_to.CopyFrom(day(end))
    return request


def test_contract_prices_are_set_resolved_and_withheld_by_role(stack):
    made = create(stack, years_of_cooperation=8, yearly_purchases_cny=5_200_000)  # tier A
    own, tier_a = {"customer_id": made.customer_id}, {"tier": pb.TIER_A}
    start = today() - timedelta(days=10)
    set_ = stack.call("SetContractPrice", price(own, "HB-2040 铰链 hinge", 85, start), roles=("manager",))
    assert set_.contract_price.unit_price_fen == 85 and not set_.prices_withheld
    stack.call("SetContractPrice", price(tier_a, "HB-2040 铰链 hinge", 95, start), roles=("finance",))
    stack.call("SetContractPrice", price(tier_a, "BK-310 支架 bracket", 40, start), roles=("finance",))
    # the same scope, model and start again: replaced, not added
    again = stack.call(
        "SetContractPrice", price(tier_a, "BK-310 支架 bracket", 42, start), roles=("finance",)
    )
    assert again.contract_price.unit_price_fen == 42

    before = stack.rows()
    for request, code, fields in [
        (
            price(tier_a, "BK-310 支架 bracket", 40, start + timedelta(days=5)),
            "INVALID_ARGUMENT",
            {"valid_from"},
        ),
        (price(own, "X", 10, start, start - timedelta(days=1)), "INVALID_ARGUMENT", {"valid_to"}),
        (
            pb.SetContractPriceRequest(product_model="", unit_price_fen=0),
            "INVALID_ARGUMENT",
            {"scope", "product_model", "unit_price_fen", "valid_from"},
        ),
        (price({"tier": pb.TIER_UNSPECIFIED}, "X", 1, start), "INVALID_ARGUMENT", {"tier"}),
        (price({"customer_id": str(uuid.uuid4())}, "X", 1, start), "NOT_FOUND", set()),
    ]:
        assert stack.refused("SetContractPrice", request, roles=("manager",)) == (code, fields), request
    assert stack.rows() == before

    ask = pb.ResolveContractPricesRequest(
        customer_id=made.customer_id,
        product_models=[
            pb.PriceQuery(product_model=m) for m in ("HB-2040 铰链 hinge", "BK-310 支架 bracket", "SP-08")
        ],
        on_date=day(today()),
    )
    resolved = stack.call("ResolveContractPrices", ask, roles=("service",), user="svc:order")
    assert (resolved.tier, resolved.active, resolved.prices_withheld) == (pb.TIER_A, True, False)
    assert [(p.product_model, p.source, p.unit_price_fen) for p in resolved.prices] == [
        ("HB-2040 铰链 hinge", pb.PRICE_SOURCE_CUSTOMER, 85),
        ("BK-310 支架 bracket", pb.PRICE_SOURCE_TIER, 42),
        ("SP-08", pb.PRICE_SOURCE_UNSPECIFIED, 0),
    ]
    # a planner reads the same answer without prices (hardware's [price_visibility] staff_roles)
    hidden = stack.call("ResolveContractPrices", ask, roles=("planner",))
    assert hidden.prices_withheld and [p.unit_price_fen for p in hidden.prices] == [0, 0, 0]
    assert [p.source for p in hidden.prices] == [p.source for p in resolved.prices]
    listed = stack.call(
        "ListContractPrices", pb.ListContractPricesRequest(tier=pb.TIER_A, page_size=1), roles=("planner",)
    )
    assert listed.prices_withheld and [p.unit_price_fen for p in listed.contract_prices] == [0]
    page2 = stack.call(
        "ListContractPrices",
        pb.ListContractPricesRequest(tier=pb.TIER_A, page_size=1, page_token=listed.next_page_token),
    )
    assert [
        (p.product_model, p.unit_price_fen) for p in [*listed.contract_prices, *page2.contract_prices]
    ] == [
        ("BK-310 支架 bracket", 0),
        ("HB-2040 铰链 hinge", 95),
    ]
    assert not page2.next_page_token
    planner_view = stack.call(
        "GetCustomer", pb.GetCustomerRequest(customer_id=made.customer_id), roles=("planner",)
    )
    assert planner_view.prices_withheld and planner_view.customer.purchases_12m_fen == 0
    assert planner_view.customer.yearly_purchases_cny == 0 and planner_view.customer.tier == pb.TIER_A


def test_another_tenant_and_another_portal_customer_get_not_found(stack):
    x = create(stack, years_of_cooperation=8, yearly_purchases_cny=5_200_000)  # tier A
    c = create(stack, "HS-TRADE", years_of_cooperation=1)  # tier C
    stack.call(
        "SetContractPrice", price({"customer_id": x.customer_id}, "HB-2040", 85, today()), roles=("manager",)
    )
    stack.call(
        "SetContractPrice", price({"customer_id": c.customer_id}, "HB-2040", 99, today()), roles=("manager",)
    )
    autoparts = dict(tenant="autoparts", roles=("sales", "manager"), user="吴晓燕")
    for rpc, request in [
        ("GetCustomer", pb.GetCustomerRequest(customer_id=x.customer_id)),
        ("UpdateCustomer", update_request(x, 1)),
        (
            "DeactivateCustomer",
            pb.DeactivateCustomerRequest(customer_id=x.customer_id, expected_version=1, reason="x"),
        ),
        ("ReactivateCustomer", pb.ReactivateCustomerRequest(customer_id=x.customer_id, expected_version=1)),
        ("ListTierChanges", pb.ListTierChangesRequest(customer_id=x.customer_id)),
        ("SetContractPrice", price({"customer_id": x.customer_id}, "BK-310", 1, today())),
        ("ListContractPrices", pb.ListContractPricesRequest(customer_id=x.customer_id)),
        (
            "ResolveContractPrices",
            pb.ResolveContractPricesRequest(
                customer_id=x.customer_id,
                product_models=[pb.PriceQuery(product_model="HB-2040")],
                on_date=day(today()),
            ),
        ),
    ]:
        assert stack.refused(rpc, request, **autoparts)[0] == "NOT_FOUND", rpc
    assert stack.call("ListCustomers", pb.ListCustomersRequest(), **autoparts).customers == []

    portal_c = dict(roles=("customer",), user="门户", customer_id=c.customer_id)
    assert (
        stack.refused("GetCustomer", pb.GetCustomerRequest(customer_id=x.customer_id), **portal_c)[0]
        == "NOT_FOUND"
    )
    assert (
        stack.refused(
            "ListContractPrices", pb.ListContractPricesRequest(customer_id=x.customer_id), **portal_c
        )[0]
        == "NOT_FOUND"
    )
    assert stack.refused("ListContractPrices", pb.ListContractPricesRequest(tier=pb.TIER_A), **portal_c)[
        0
    ] == ("PERMISSION_DENIED")
    # a tier C portal account reads its own record and prices, with every amount withheld
    own = stack.call("GetCustomer", pb.GetCustomerRequest(customer_id=c.customer_id), **portal_c)
    assert own.prices_withheld and own.customer.code == "HS-TRADE" and own.customer.purchases_12m_fen == 0
    mine = stack.call(
        "ListContractPrices", pb.ListContractPricesRequest(customer_id=c.customer_id), **portal_c
    )
    assert mine.prices_withheld and [(p.product_model, p.unit_price_fen) for p in mine.contract_prices] == [
        ("HB-2040", 0)
    ]
    # a tier A portal account sees its contract prices
    portal_x = dict(roles=("customer",), user="门户", customer_id=x.customer_id)
    seen = stack.call(
        "ListContractPrices", pb.ListContractPricesRequest(customer_id=x.customer_id), **portal_x
    )
    assert not seen.prices_withheld and [p.unit_price_fen for p in seen.contract_prices] == [85]


def test_existing_customers_are_carried_over_by_the_migration(fresh_database):
    engine = create_engine(fresh_database("customer_old"))
    command.upgrade(alembic_config(definition.migrations_dir, engine), "customer_0006")
    customer_id = str(uuid.uuid4())
    registered = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO customers (customer_id, tenant_id, code, name, tier, years_of_cooperation,"
                " yearly_purchases_cny, sales_owner, created_at) VALUES (:id, 'hardware', 'OLD-1', '老客户',"
                " 'TIER_B', 3, 900000, '陈丽', :at)"
            ),
            {"id": customer_id, "at": registered},
        )
    upgrade(definition.migrations_dir, engine)
    with engine.connect() as c:
        row = c.execute(select(customers)).one()
        [opening] = c.execute(select(purchases)).all()
    engine.dispose()
    assert (row.active, row.version, row.cooperation_since, row.purchases_12m_fen, row.tax_id) == (
        True,
        1,
        date(2023, 3, 1),
        90_000_000,
        "",
    )
    assert (opening.customer_id, opening.order_id, opening.amount_fen, opening.occurred_on) == (
        customer_id,
        None,
        90_000_000,
        date(2026, 3, 1),
    )


def test_an_opening_balance_row_does_not_block_an_order_purchase(stack):
    """Opening balances have no order id: NULLs never collide on the per-order unique key."""
    made = create(stack, yearly_purchases_cny=1)
    with acting_as(Identity("hardware", "t")), stack.uow() as tx:
        tx.connection.execute(
            insert(purchases).values(
                customer_id=made.customer_id,
                tenant_id="hardware",
                order_id=None,
                order_no="",
                amount_fen=1,
                occurred_at=datetime.now(UTC),
                occurred_on=today(),
                recorded_at=datetime.now(UTC),
            )
        )
        tx.commit()
    assert stack.rows()["purchases"] == 2
