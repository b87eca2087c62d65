"""inventory's consumers of the order's events (embedded mode's SQLite): a change that cancels
the order releases everything, a payload that cannot be right is dead-lettered, an order the
ledger never held is nothing to do, and a stale event changes nothing."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from services.bom import MaterialLine
from services.chassis.consumer import EventConsumer
from services.chassis.db import make_engine
from services.chassis.events import MalformedEvent
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.rules import active_rule
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.inventory.adapters.tables import material_balances
from services.inventory.app import definition, subscriptions
from services.inventory.domain.reservation import ReservationState
from services.inventory.service_layer import handlers
from services.inventory.service_layer.plant import Plant
from tests.unit.fake_wms import FakeWms

HW = load_tenants(("hardware",))["hardware"]
STEEL, SILVER = "SPCC 冷轧钢板 cold-rolled steel", "镀银液 silver plating solution"


@pytest.fixture
def held(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'inventory.db'}")
    upgrade(definition.migrations_dir, engine)
    wms = FakeWms()
    wms.put("hardware", STEEL, "kg", 1000)
    wms.put("hardware", SILVER, "L", 15)
    uow = unit_of_work_factory(definition, engine)
    cmd = handlers.ReserveMaterials(
        str(uuid.uuid4()),
        "HW-20261126-00001",
        1,
        "00000000-0000-0000-0000-000000000001",
        4_500_000,
        "PRIORITY_NORMAL",
        [MaterialLine("HB-2040 铰链 hinge", 5000, "银色 silver")],
    )
    with acting_as(Identity("hardware", "王经理", frozenset({"approver"}))):
        handlers.reserve_materials(cmd, uow, Plant("hardware", HW, wms, active_rule(HW, "material_lock")))
    consumer = EventConsumer("inventory", subscriptions(lambda _t: HW), uow, ["hardware"])
    yield engine, uow, consumer, cmd
    engine.dispose()


def event(event_type: str, version: int, **data) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-26T09:30:00+00:00",
            "data": {"version": version, **data},
        },
        ensure_ascii=False,
    ).encode()


def reserved(engine) -> dict[str, int]:
    with engine.connect() as c:
        return {r.material: r.reserved for r in c.execute(select(material_balances))}


def state(uow, order_id: str) -> ReservationState:
    with acting_as(Identity("hardware", "t")), uow(read_only=True) as tx:
        res = tx.reservations.for_order(order_id)
    assert res is not None
    return res.state


def test_a_change_that_cancels_the_order_releases_everything(held):
    engine, uow, consumer, cmd = held
    body = event(
        "order_changed",
        4,
        order_id=cmd.order_id,
        revision=2,
        previous_revision=1,
        cancels_order=True,
        lines=[],
    )
    assert consumer.handle("order.events", "order_changed", body) == "ok"
    assert reserved(engine) == {STEEL: 0, SILVER: 0}
    assert state(uow, cmd.order_id) is ReservationState.RELEASED
    # the order_cancelled that follows finds it released: nothing more
    assert (
        consumer.handle("order.events", "order_cancelled", event("order_cancelled", 5, order_id=cmd.order_id))
        == "ok"
    )
    assert reserved(engine) == {STEEL: 0, SILVER: 0}


def test_an_older_version_arriving_late_is_stale(held):
    _engine, uow, consumer, cmd = held
    assert (
        consumer.handle(
            "order.events", "order_change_rejected", event("order_change_rejected", 4, order_id=cmd.order_id)
        )
        == "ok"
    )
    late = event("order_change_requested", 3, order_id=cmd.order_id, revision=1)
    assert consumer.handle("order.events", "order_change_requested", late) == "stale"
    assert state(uow, cmd.order_id) is ReservationState.HELD


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("order_changed", {"order_id": "x", "revision": 2}),  # a change to nothing, not cancelling
        ("order_changed", {"order_id": "x", "revision": 0, "lines": [{"product_model": "A", "quantity": 1}]}),
        ("order_cancelled", {"order_id": ""}),
    ],
)
def test_a_payload_that_cannot_be_right_is_malformed(held, event_type, data):
    _engine, _uow, consumer, _cmd = held
    with pytest.raises(MalformedEvent):
        consumer.handle("order.events", event_type, event(event_type, 7, **data))


def test_a_version_zero_is_malformed(held):
    _engine, _uow, consumer, cmd = held
    with pytest.raises(MalformedEvent):
        consumer.handle("order.events", "order_cancelled", event("order_cancelled", 0, order_id=cmd.order_id))
