"""Approval's reservation across the wire: the order service asks inventory's ReserveMaterials as
the approving user with the order's revision, total and lines; inventory's refusal (short
materials, WMS down) reaches the approver through the order API with its status and message;
the order shows what inventory answered (locked, accepted short) and its history says why."""

from __future__ import annotations

import uuid
from concurrent import futures
from datetime import UTC, date, datetime

import grpc
import pytest

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis.client import channel_to
from services.chassis.errors import FailedPrecondition, Unavailable
from services.chassis.events import EventCodec
from services.chassis.identity import Identity, KeySet, TokenVerifier, acting_as
from services.chassis.interceptors import ChassisInterceptor
from services.order.adapters.peers import GrpcMaterialReservations
from services.order.api import OrderApi
from services.order.app import definition as order_service
from services.order.domain.materials import ReservationResult, Shortage
from services.order.domain.model import Channel, OptionLibrary, OrderLine, Priority
from services.order.service_layer import handlers
from services.order.service_layer.ports import ShortageOverride
from tests.unit.fakes import FakeContractPrices, FakeCustomers, FakeOrderUnitOfWork, UowFactory
from tests.unit.keys import TestIssuer, write_jwks

CUSTOMER = str(uuid.uuid4())
SALES = Identity("hardware", "陈丽", frozenset({"sales"}))
SHORT_MESSAGE = (
    "材料不足 materials short: 镀金液 gold plating solution 需要 needs 12.5 L, 可用 available 4.5 L"
)
LINES = [
    OrderLine("HB-2040 铰链 hinge", 5000, "stamping-1", "金色 gold", "电镀 plating", 1200),
    OrderLine("BK-310 支架 bracket", 2000, "stamping-1", unit_price_fen=500),
]


class Inventory(inventory_pb2_grpc.InventoryServiceServicer):
    """A raw gRPC inventory: records each ReserveMaterials request and the token it came with,
    answers per plan (a reply, or a status to abort with)."""

    def __init__(self) -> None:
        self.requests: list[tuple[inventory_pb2.ReserveMaterialsRequest, str]] = []
        self.plan: list = []
        self.server = grpc.server(futures.ThreadPoolExecutor(2))
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(self, self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def ReserveMaterials(self, request, context):
        self.requests.append((request, dict(context.invocation_metadata()).get("authorization", "")))
        step = self.plan.pop(0)
        if isinstance(step, tuple):
            context.abort(*step)
        return step


def held(revision: int = 1, **kw) -> inventory_pb2.ReserveMaterialsResponse:
    return inventory_pb2.ReserveMaterialsResponse(
        reservation=inventory_pb2.OrderReservation(
            revision=revision, state=inventory_pb2.RESERVATION_STATE_HELD, **kw
        )
    )


@pytest.fixture
def inventory():
    peer = Inventory()
    yield peer
    peer.server.stop(0)


@pytest.fixture
def issuer():
    return TestIssuer("order-reservations")


@pytest.fixture
def uow() -> UowFactory:
    return UowFactory(FakeOrderUnitOfWork, EventCodec("order", order_service.contracts))


def pending_order(uow):
    cmd = handlers.CreateOrder(CUSTOMER, Channel.DIRECT, Priority.HIGH, date(2026, 12, 10), LINES)
    with acting_as(SALES):
        return handlers.create_order(
            cmd,
            uow,
            FakeCustomers(CUSTOMER),
            OptionLibrary(),
            "HW",
            uow.numbers,
            clock=lambda: datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
        )


class TestTheAdapter:
    def test_asks_as_the_approver_with_the_orders_revision_total_priority_and_lines(
        self, uow, inventory, issuer
    ):
        order = pending_order(uow)
        inventory.plan = [held(locked=True, lock_rule="amount_over_50k")]
        token = issuer.mint("hardware", "李经理", ["approver"])

        with acting_as(Identity("hardware", "李经理", frozenset({"approver"})), token):
            result = GrpcMaterialReservations(channel_to(inventory.address)).reserve(order, None)

        [(request, authorization)] = inventory.requests
        assert authorization == f"Bearer {token}"  # the approver's own token, not the service's
        assert request == inventory_pb2.ReserveMaterialsRequest(
            order_id=order.order_id,
            order_no="HW-20261125-00001",
            revision=1,
            customer_id=CUSTOMER,
            amount_fen=5000 * 1200 + 2000 * 500,
            priority="PRIORITY_HIGH",
            lines=[
                inventory_pb2.MaterialLine(
                    product_model="HB-2040 铰链 hinge",
                    quantity=5000,
                    colour="金色 gold",
                    surface_treatment="电镀 plating",
                ),
                inventory_pb2.MaterialLine(product_model="BK-310 支架 bracket", quantity=2000),
            ],
        )
        assert result == ReservationResult(1, locked=True, lock_rule="amount_over_50k")

    def test_an_override_is_sent_and_only_the_short_materials_come_back(self, uow, inventory, issuer):
        order = pending_order(uow)
        materials = [
            inventory_pb2.MaterialReservation(material="SPCC 冷轧钢板", unit="kg", needed=800, reserved=800),
            inventory_pb2.MaterialReservation(
                material="镀金液 gold plating solution", unit="L", needed=12.5, reserved=4.5, short=8
            ),
        ]
        inventory.plan = [
            held(materials=materials, overridden=True, overridden_by="孙经理", override_reason="周三到货")
        ]

        with acting_as(
            Identity("hardware", "孙经理", frozenset({"manager"})),
            issuer.mint("hardware", "孙经理", ["manager"]),
        ):
            result = GrpcMaterialReservations(channel_to(inventory.address)).reserve(
                order, ShortageOverride("周三到货")
            )

        [(request, _)] = inventory.requests
        assert (request.override_shortage, request.override_reason) == (True, "周三到货")
        assert result == ReservationResult(
            1,
            shortages=(Shortage("镀金液 gold plating solution", "L", 12.5, 8.0),),
            override_reason="周三到货",
            overridden_by="孙经理",
        )


class TestThroughTheOrderApi:
    """The order service as an approver meets it: its own gRPC server (token checked, request
    validated) asking a real inventory server."""

    @pytest.fixture
    def orders(self, uow, inventory, issuer, tmp_path):
        api = OrderApi(
            uow,
            FakeCustomers(CUSTOMER),
            GrpcMaterialReservations(channel_to(inventory.address)),
            lambda tenant_id: OptionLibrary(),
            lambda tenant_id: None,
            uow.numbers,
            shop_floor=None,
            contract_prices=FakeContractPrices(),
        )
        api._withhold_prices = lambda: False  # type: ignore[method-assign]  # staff who see prices
        verifier = TokenVerifier(KeySet(str(write_jwks(tmp_path / "jwks.json", issuer))))
        server = grpc.server(
            futures.ThreadPoolExecutor(2), interceptors=[ChassisInterceptor(verifier, ["hardware"])]
        )
        order_pb2_grpc.add_OrderServiceServicer_to_server(api, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield order_pb2_grpc.OrderServiceStub(channel)
        channel.close()
        server.stop(0)

    def call(self, issuer, rpc, request, roles=("approver",)):
        token = issuer.mint("hardware", "孙经理", list(roles))
        return rpc(request, metadata=[("authorization", f"Bearer {token}")], timeout=10)

    def test_inventorys_refusal_reaches_the_approver_with_its_message(self, uow, orders, inventory, issuer):
        order = pending_order(uow)
        inventory.plan = [(grpc.StatusCode.FAILED_PRECONDITION, SHORT_MESSAGE)]

        with pytest.raises(grpc.RpcError) as refused:
            self.call(issuer, orders.ApproveOrder, order_pb2.ApproveOrderRequest(order_id=order.order_id))

        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert SHORT_MESSAGE in refused.value.details()
        assert uow.db.commits == 1  # the create only

    def test_a_wms_outage_is_unavailable_to_the_approver_and_nothing_changes(
        self, uow, orders, inventory, issuer
    ):
        order = pending_order(uow)
        outage = "WMS 不可用 the WMS did not answer within 2 s; nothing reserved, retry the approval"
        inventory.plan = [(grpc.StatusCode.UNAVAILABLE, outage)]

        with pytest.raises(grpc.RpcError) as refused:
            self.call(issuer, orders.ApproveOrder, order_pb2.ApproveOrderRequest(order_id=order.order_id))

        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE and outage in refused.value.details()
        [stored] = uow.opened[-1].committed_orders()
        assert stored.version == 1 and stored.approved_by == ""

    def test_an_override_needs_a_reason_field(self, uow, orders, inventory, issuer):
        order = pending_order(uow)
        request = order_pb2.ApproveOrderRequest(order_id=order.order_id, override_shortage=True)

        with pytest.raises(grpc.RpcError) as refused:
            self.call(issuer, orders.ApproveOrder, request, roles=("manager",))

        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert inventory.requests == []

    def test_an_accepted_shortage_shows_on_the_order_and_in_its_history(self, uow, orders, inventory, issuer):
        order = pending_order(uow)
        gold = inventory_pb2.MaterialReservation(
            material="镀金液 gold plating solution", unit="L", needed=12.5, reserved=4.5, short=8
        )
        inventory.plan = [
            held(
                materials=[gold],
                locked=True,
                lock_rule="amount_over_50k",
                overridden=True,
                overridden_by="孙经理",
                override_reason="周三到货 arrives Wednesday",
            )
        ]
        request = order_pb2.ApproveOrderRequest(
            order_id=order.order_id, override_shortage=True, override_reason="周三到货 arrives Wednesday"
        )

        approved = self.call(issuer, orders.ApproveOrder, request, roles=("manager",)).order
        history = self.call(
            issuer, orders.ListOrderHistory, order_pb2.ListOrderHistoryRequest(order_id=order.order_id)
        ).transitions

        assert (approved.materials_short, approved.materials_locked, approved.lock_rule) == (
            True,
            True,
            "amount_over_50k",
        )
        step = history[-1]
        assert (step.action, step.actor, step.reason) == ("approve", "孙经理", "周三到货 arrives Wednesday")
        assert [(c.path, c.before, c.after) for c in step.changes] == [
            ("materials_short[镀金液 gold plating solution]", "需要 needed 12.5 L", "缺 short 8 L"),
            ("materials_locked", "", "amount_over_50k"),
        ]


def test_the_adapter_lets_a_refusal_through_as_the_chassis_translated_it(uow, inventory, issuer):
    order = pending_order(uow)
    inventory.plan = [
        (grpc.StatusCode.FAILED_PRECONDITION, SHORT_MESSAGE),
        (grpc.StatusCode.UNAVAILABLE, "WMS down"),
    ]
    reservations = GrpcMaterialReservations(channel_to(inventory.address))

    with acting_as(SALES, issuer.mint("hardware", "陈丽", ["approver"])):
        with pytest.raises(FailedPrecondition) as short:
            reservations.reserve(order, None)
        with pytest.raises(Unavailable):
            reservations.reserve(order, None)

    assert str(short.value) == f"inventory service (ReserveMaterials): {SHORT_MESSAGE}"
    assert len(inventory.requests) == 2  # a write: never retried by the channel itself
