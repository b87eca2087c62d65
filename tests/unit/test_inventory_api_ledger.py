"""The inventory API over the real ledger (the embedded mode's SQLite) and an in-memory WMS:
requests become commands, answers carry the ledger in the material's units, lists page by key,
the impact preview flags what a change would leave short."""

from __future__ import annotations

import uuid

import protovalidate
import pytest

from oms.inventory.v1 import inventory_pb2 as pb
from services.chassis.db import make_engine
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.inventory.api import InventoryApi, Plants
from services.inventory.app import definition
from tests.unit.fake_wms import FakeWms

HW = load_tenants(("hardware",))["hardware"]
STEEL, SILVER, GOLD = (
    "SPCC 冷轧钢板 cold-rolled steel",
    "镀银液 silver plating solution",
    "镀金液 gold plating solution",
)
HINGE = "HB-2040 铰链 hinge"
CUSTOMER = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def wms() -> FakeWms:
    wms = FakeWms()
    wms.put("hardware", STEEL, "kg", 1000)
    wms.put("hardware", SILVER, "L", 15)
    wms.put("hardware", GOLD, "L", 10)
    return wms


@pytest.fixture
def api(tmp_path, wms):
    engine = make_engine(f"sqlite:///{tmp_path / 'inventory.db'}")
    upgrade(definition.migrations_dir, engine)
    with acting_as(Identity("hardware", "王经理", frozenset({"approver"}))):
        yield InventoryApi(unit_of_work_factory(definition, engine), Plants(lambda _t: HW, wms))
    engine.dispose()


def reserve(api, quantity=5000, colour="银色 silver", amount_fen=4_500_000, n=1) -> pb.OrderReservation:
    request = pb.ReserveMaterialsRequest(
        order_id=str(uuid.uuid4()),
        order_no=f"HW-20261126-{n:05d}",
        revision=1,
        customer_id=CUSTOMER,
        amount_fen=amount_fen,
        priority="PRIORITY_NORMAL",
        lines=[pb.MaterialLine(product_model=HINGE, quantity=quantity, colour=colour)],
    )
    protovalidate.validate(request)
    return api.ReserveMaterials(request, None).reservation


def test_reserve_answers_the_reservation_in_the_materials_units(api):
    res = reserve(api, amount_fen=6_000_000)
    assert (res.order_no, res.revision, res.state, res.locked, res.lock_rule, res.wms_synced) == (
        "HW-20261126-00001",
        1,
        pb.RESERVATION_STATE_HELD,
        True,
        "lock_large_orders",
        True,
    )
    assert [(m.material, m.unit, m.needed, m.reserved, m.short, m.available) for m in res.materials] == [
        (STEEL, "kg", 600.0, 600.0, 0.0, 1000.0),
        (SILVER, "L", 10.0, 10.0, 0.0, 15.0),
    ]
    stock = {m.material: m for m in api.ListMaterialStock(pb.ListMaterialStockRequest(), None).materials}
    assert (stock[STEEL].on_hand, stock[STEEL].reserved, stock[STEEL].locked, stock[STEEL].available) == (
        1000.0,
        600.0,
        600.0,
        400.0,
    )


def test_open_reservations_page_newest_first_and_filter_by_material(api):
    made = [reserve(api, quantity=100, n=n).order_id for n in range(1, 4)]
    gold = reserve(api, quantity=100, colour="金色 gold", n=4).order_id
    first = api.ListReservations(pb.ListReservationsRequest(page_size=3), None)
    second = api.ListReservations(
        pb.ListReservationsRequest(page_size=3, page_token=first.next_page_token), None
    )
    assert [r.order_id for r in [*first.reservations, *second.reservations]] == [gold, *reversed(made)]
    assert second.next_page_token == ""
    only_gold = api.ListReservations(pb.ListReservationsRequest(material=GOLD), None)
    assert [r.order_id for r in only_gold.reservations] == [gold]


def test_the_impact_preview_flags_gold_plating_at_risk(api):
    res = reserve(api)
    request = pb.PreviewMaterialNeedsRequest(
        order_id=res.order_id,
        before=[pb.MaterialLine(product_model=HINGE, quantity=5000, colour="银色 silver")],
        after=[pb.MaterialLine(product_model=HINGE, quantity=6000, colour="金色 gold")],
    )
    needs = {m.material: m for m in api.PreviewMaterialNeeds(request, None).materials}
    assert [
        (m.material, m.needed_before, m.needed_after, m.reserved, m.available, m.at_risk)
        for m in needs.values()
    ] == [
        (STEEL, 600.0, 720.0, 600.0, 400.0, False),
        (GOLD, 0.0, 12.0, 0.0, 10.0, True),  # 12 L needed, 10 L in the warehouse
        (SILVER, 10.0, 0.0, 10.0, 5.0, False),
    ]


def test_the_preview_falls_back_on_the_last_on_hand_figures_when_the_wms_is_down(api, wms):
    res = reserve(api)  # the ledger read 1000 kg steel and 15 L silver; gold never
    wms.down = True
    request = pb.PreviewMaterialNeedsRequest(
        order_id=res.order_id,
        before=[pb.MaterialLine(product_model=HINGE, quantity=5000, colour="银色 silver")],
        after=[pb.MaterialLine(product_model=HINGE, quantity=5000, colour="金色 gold")],
    )
    needs = api.PreviewMaterialNeeds(request, None).materials
    assert [(m.material, m.available, m.at_risk) for m in needs] == [
        (STEEL, 400.0, False),
        (GOLD, 0.0, True),
        (SILVER, 5.0, False),
    ]


def test_the_preview_remembers_what_the_wms_said_for_the_changes_approval(api, wms):
    """A silver → gold change: the approval's consumer calls no WMS, so it holds gold against the
    figure the preview read (gold was never reserved before: without it, it would read 0)."""
    res = reserve(api)
    request = pb.PreviewMaterialNeedsRequest(
        order_id=res.order_id,
        before=[pb.MaterialLine(product_model=HINGE, quantity=5000, colour="银色 silver")],
        after=[pb.MaterialLine(product_model=HINGE, quantity=5000, colour="金色 gold")],
    )
    api.PreviewMaterialNeeds(request, None)
    wms.down = True  # from here on only the ledger's figures (what the consumer reads too)

    needs = api.PreviewMaterialNeeds(request, None).materials

    assert [(m.material, m.available, m.at_risk) for m in needs] == [
        (STEEL, 400.0, False),
        (GOLD, 10.0, False),  # read by the first preview (never read: 0, as in the test above)
        (SILVER, 5.0, False),
    ]


def test_a_dry_run_answers_side_by_side(api):
    reserve(api, quantity=10, amount_fen=4_000_000, n=1)
    reserve(api, quantity=10, amount_fen=6_000_000, n=2)
    request = pb.DryRunRuleRequest(
        kind="material_lock",
        expression="order.amount_cny > params.amount_cny",
        params_json='{"amount_cny": 30000}',
    )
    protovalidate.validate(request)
    run = api.DryRunRule(request, None)
    assert (run.rule, run.replayed, run.would_lock, run.was_locked) == ("candidate", 2, 2, 1)
    assert [(c.order_no, c.amount_fen, c.would_lock, c.was_locked) for c in run.differences] == [
        ("HW-20261126-00001", 4_000_000, True, False)
    ]
