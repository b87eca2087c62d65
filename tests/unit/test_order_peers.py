"""The order service's view of its peers: a known customer is remembered per
tenant, an unknown one is asked again every time."""

from __future__ import annotations

import grpc
import pytest

from oms.customer.v1 import customer_pb2
from services.chassis.errors import NotFound, Unavailable
from services.chassis.identity import Identity, acting_as
from services.order.adapters.peers import GrpcCustomerDirectory


class CustomerStub:
    """Answers as a stub on a chassis channel does: a peer's failure arrives as a domain error."""

    def __init__(self, known: set[str], down: bool = False):
        self.known, self.down, self.calls = known, down, 0
        self.tier, self.active = customer_pb2.TIER_B, True

    def GetCustomer(self, request):  # the gRPC method name
        self.calls += 1
        if self.down:
            raise Unavailable("customer service (GetCustomer): connection refused")
        if request.customer_id not in self.known:
            raise NotFound(f"customer service (GetCustomer): {request.customer_id} not found")
        customer = customer_pb2.Customer(customer_id=request.customer_id, tier=self.tier, active=self.active)
        return customer_pb2.GetCustomerResponse(customer=customer)


def directory(stub: CustomerStub) -> GrpcCustomerDirectory:
    d = GrpcCustomerDirectory(grpc.insecure_channel("127.0.0.1:1"))
    d._stub = stub
    return d


def as_tenant(tenant: str):
    return acting_as(Identity(tenant, "陈丽", frozenset({"sales"})))


def test_a_known_customer_is_asked_for_once_per_tenant():
    stub = CustomerStub({"c-midea"})
    d = directory(stub)
    with as_tenant("hardware"):
        assert d.exists("c-midea") and d.exists("c-midea")
    assert stub.calls == 1
    with as_tenant("autoparts"):
        assert d.exists("c-midea")
    assert stub.calls == 2


def test_an_unknown_customer_is_asked_for_every_time():
    stub = CustomerStub(set())
    d = directory(stub)
    with as_tenant("hardware"):
        assert not d.exists("c-new")
        stub.known.add("c-new")  # registered a moment later
        assert d.exists("c-new")
    assert stub.calls == 2


def test_a_customer_service_outage_is_unavailable_not_unknown():
    d = directory(CustomerStub({"c-midea"}, down=True))
    with as_tenant("hardware"), pytest.raises(Unavailable):
        d.exists("c-midea")


def test_tier_and_activity_are_remembered_until_the_customer_changes():
    stub = CustomerStub({"c-midea"})
    d = directory(stub)
    with as_tenant("hardware"):
        assert d.tier("c-midea") == "TIER_B" and d.look_up("c-midea").active
        stub.tier, stub.active = customer_pb2.TIER_A, False  # the customer service moved on
        assert d.tier("c-midea") == "TIER_B"  # remembered
        d.forget("hardware", "c-midea")  # one of its events arrived
        assert d.tier("c-midea") == "TIER_A" and not d.look_up("c-midea").active
    assert stub.calls == 2


class CountingPrices:
    def __init__(self, prices: dict[str, int]):
        self.prices, self.asked = prices, []

    def resolve(self, customer_id, product_models, on):
        self.asked.append(tuple(product_models))
        return {m: p for m, p in self.prices.items() if m in product_models}


def test_contract_prices_are_asked_once_per_model_until_forgotten_or_stale():
    from datetime import date

    from services.order.adapters.peers import RememberedContractPrices

    now = [0.0]
    source = CountingPrices({"HB-2040": 85})
    prices = RememberedContractPrices(source, remember_s=30, clock=lambda: now[0])
    day = date(2026, 11, 25)
    with as_tenant("hardware"):
        assert prices.resolve("c-1", ["HB-2040", "BK-310"], day) == {"HB-2040": 85}
        assert prices.resolve("c-1", ["BK-310", "HB-2040"], day) == {"HB-2040": 85}  # "none" remembered too
        assert prices.resolve("c-1", ["SP-08"], day) == {}
        assert source.asked == [("HB-2040", "BK-310"), ("SP-08",)]
        source.prices["BK-310"] = 120
        prices.forget("autoparts", "c-1")  # another tenant's event changes nothing here
        assert prices.resolve("c-1", ["BK-310"], day) == {}
        prices.forget("hardware", "c-1")
        assert prices.resolve("c-1", ["BK-310"], day) == {"BK-310": 120}
        source.prices["HB-2040"] = 90
        prices.forget("hardware")  # a tier's list changed: every customer of the tenant
        assert prices.resolve("c-1", ["HB-2040"], day) == {"HB-2040": 90}
        source.prices["HB-2040"] = 95
        now[0] = 31.0  # a replica the event did not reach answers from the source again
        assert prices.resolve("c-1", ["HB-2040"], day) == {"HB-2040": 95}


class ShopFloorStubs:
    """Production's ListWorkOrders and inventory's PreviewMaterialNeeds, as chassis stubs answer."""

    def __init__(self, work_orders, materials):
        self.work_orders, self.materials = work_orders, materials

    def ListWorkOrders(self, request):
        from oms.production.v1 import production_pb2

        return production_pb2.ListWorkOrdersResponse(work_orders=self.work_orders)

    def PreviewMaterialNeeds(self, request):
        from oms.inventory.v1 import inventory_pb2

        return inventory_pb2.PreviewMaterialNeedsResponse(materials=self.materials)


def test_the_impact_reads_work_done_and_materials_at_risk_from_the_peers():
    from oms.inventory.v1 import inventory_pb2
    from oms.production.v1 import production_pb2
    from services.order.adapters.peers import GrpcShopFloor
    from services.order.domain.changes import ImpactedMaterial, ImpactedWorkOrder

    hinge = production_pb2.WorkOrderLine(product_model="HB-2040 铰链 hinge", quantity=5000)
    plating = production_pb2.WorkOrder(
        work_order_no="WO-HW-20261125-00001-02",
        workshop="plating",
        stage=production_pb2.STAGE_IN_PROCESS,
        lines=[hinge],
        step=2,
        revision=1,
        frozen=True,
        good_quantity=1200,
        scrap_quantity=30,
    )
    gone = production_pb2.WorkOrder(
        work_order_no="WO-HW-20261125-00001-03", workshop="assembly", cancelled=True
    )
    gold = inventory_pb2.MaterialNeed(
        material="镀金液 gold plating solution", unit="L", needed_after=12.5, available=4.5, at_risk=True
    )
    stubs = ShopFloorStubs([plating, gone], [gold])
    shop_floor = GrpcShopFloor(grpc.insecure_channel("127.0.0.1:1"), grpc.insecure_channel("127.0.0.1:1"))
    shop_floor._production = shop_floor._inventory = stubs  # type: ignore[assignment]

    with as_tenant("hardware"):
        work_orders = shop_floor.work_orders("o-1")
        materials = shop_floor.materials("o-1", (), ())

    assert work_orders == [
        ImpactedWorkOrder(
            "WO-HW-20261125-00001-02",
            "plating",
            "STAGE_IN_PROCESS",
            ("HB-2040 铰链 hinge",),
            5000,
            False,
            good_quantity=1200,
            scrap_quantity=30,
            revision=1,
            frozen=True,
            step=2,
        )
    ]  # the cancelled one makes nothing a change could touch
    assert materials == [
        ImpactedMaterial("镀金液 gold plating solution", "L", 0.0, 12.5, 0.0, 0.0, 4.5, True)
    ]
