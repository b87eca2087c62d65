"""Poison order events reaching production's and inventory's consumers (#16), on embedded mode's
SQLite: order_approved / order_changed / order_change_requested / order_cancelled without an order
id, with negative or zero quantities, a colour that is not text, 10,000 lines, revision or version
0. Each is MalformedEvent, which the retry policy dead-letters at once with its reason (no retry
can fix it), nothing of it is written, and the consumer goes on with the next good event."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from services.bom import MaterialLine
from services.chassis.consumer import EventConsumer
from services.chassis.db import make_engine
from services.chassis.events import MalformedEvent
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.retry import DeadLetter, RetryPolicy
from services.chassis.rules import active_rule
from services.chassis.runtime import unit_of_work_factory
from services.chassis.tenants import load_tenants
from services.inventory.adapters.tables import material_balances
from services.inventory.app import definition as inventory_definition
from services.inventory.app import subscriptions as inventory_subscriptions
from services.inventory.service_layer import handlers as inventory_handlers
from services.inventory.service_layer.plant import Plant
from services.production.adapters.tables import merge_candidates, work_orders
from services.production.app import definition as production_definition
from services.production.app import subscriptions as production_subscriptions
from services.production.consumers_batching import tenant_files_policy, with_batching
from tests.unit.fake_wms import FakeWms

HW = load_tenants(("hardware",))["hardware"]
STEEL, SILVER = "SPCC 冷轧钢板 cold-rolled steel", "镀银液 silver plating solution"
LINE = {
    "product_model": "HB-2040 铰链 hinge",
    "quantity": 300,
    "workshop": "stamping-1",
    "colour": "银色 silver",
    "surface_treatment": "电镀 plating",
    "packaging": "纸箱 carton",
    "unit_price_fen": 85,
    "line_no": 1,
}
TEN_THOUSAND = [{**LINE, "line_no": n + 1} for n in range(10_000)]


def body(event_type: str, data: dict) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-26T09:30:00+00:00",
            "data": data,
        },
        ensure_ascii=False,
    ).encode()


def order_no(order_id: str) -> str:
    return f"HW-20261126-{int(order_id[:8], 16) % 90000 + 10000}"


def approved(order_id: str, **over: object) -> dict:
    return {
        "order_id": order_id,
        "order_no": order_no(order_id),
        "customer_id": "00000000-0000-0000-0000-000000000001",
        "priority": "PRIORITY_NORMAL",
        "due_date": "2026-12-20",
        "version": 2,
        "revision": 1,
        "lines": [LINE],
        "approved_by": "王经理",
        **over,
    }


def changed(order_id: str, **over: object) -> dict:
    return {
        "order_id": order_id,
        "order_no": order_no(order_id),
        "version": 4,
        "revision": 2,
        "previous_revision": 1,
        "change_id": str(uuid.uuid4()),
        "due_date": "2026-12-24",
        "lines": [{**LINE, "colour": "金色 gold"}],
        **over,
    }


def requested(order_id: str, **over: object) -> dict:
    return {"order_id": order_id, "order_no": order_no(order_id), "version": 3, "revision": 1, **over}


def cancelled(order_id: str, **over: object) -> dict:
    return {"order_id": order_id, "order_no": order_no(order_id), "version": 5, "reason": "客户取消", **over}


# (event type, what is wrong, the data given the order's id)
POISON = [
    ("order_approved", "no order id", lambda o: {**approved(o), "order_id": ""}),
    ("order_approved", "negative quantity", lambda o: approved(o, lines=[{**LINE, "quantity": -5}])),
    ("order_approved", "zero quantity", lambda o: approved(o, lines=[{**LINE, "quantity": 0}])),
    ("order_approved", "colour not text", lambda o: approved(o, lines=[{**LINE, "colour": {"rgb": 1}}])),
    ("order_approved", "quantity past int32", lambda o: approved(o, lines=[{**LINE, "quantity": 2**40}])),
    ("order_approved", "10,000 lines", lambda o: approved(o, lines=TEN_THOUSAND)),
    (
        "order_approved",
        "quantity past the contract's 10,000,000",
        lambda o: approved(o, lines=[{**LINE, "quantity": 10_000_001}]),
    ),
    ("order_approved", "version 0", lambda o: approved(o, version=0)),
    ("order_approved", "no lines", lambda o: approved(o, lines=[])),
    (
        "order_approved",
        "a line without a model",
        lambda o: approved(o, lines=[{**LINE, "product_model": ""}]),
    ),
    ("order_changed", "no order id", lambda o: {**changed(o), "order_id": ""}),
    ("order_changed", "revision 0", lambda o: changed(o, revision=0)),
    ("order_changed", "version 0", lambda o: changed(o, version=0)),
    ("order_changed", "negative quantity", lambda o: changed(o, lines=[{**LINE, "quantity": -5}])),
    ("order_changed", "zero quantity", lambda o: changed(o, lines=[{**LINE, "quantity": 0}])),
    ("order_changed", "colour not text", lambda o: changed(o, lines=[{**LINE, "colour": 7}])),
    ("order_changed", "10,000 lines", lambda o: changed(o, lines=TEN_THOUSAND)),
    (
        "order_changed",
        "quantity past the contract's 10,000,000",
        lambda o: changed(o, lines=[{**LINE, "quantity": 10_000_001}]),
    ),
    ("order_changed", "no lines, not cancelling", lambda o: changed(o, lines=[])),
    ("order_change_requested", "no order id", lambda o: {**requested(o), "order_id": ""}),
    ("order_change_requested", "version 0", lambda o: requested(o, version=0)),
    ("order_change_requested", "version not a number", lambda o: requested(o, version="three")),
    ("order_cancelled", "no order id", lambda o: {**cancelled(o), "order_id": ""}),
    ("order_cancelled", "version 0", lambda o: cancelled(o, version=0)),
    ("order_cancelled", "version negative", lambda o: cancelled(o, version=-1)),
]
IDS = [f"{t}: {why}" for t, why, _ in POISON]


def dead_lettered_at_once(consumer: EventConsumer, event_type: str, data: dict) -> str:
    """The consumer refuses it as MalformedEvent; the retry policy dead-letters it on the first
    attempt with that reason. Returns the reason."""
    with pytest.raises(MalformedEvent) as refused:
        consumer.handle("order.events", event_type, body(event_type, data))
    decision = RetryPolicy().decide(1, refused.value)
    assert isinstance(decision, DeadLetter) and decision.reason == str(refused.value)
    assert decision.reason
    return decision.reason


# --- production: work orders and batch merging, one consumer ---


@pytest.fixture
def production(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'production.db'}")
    upgrade(production_definition.migrations_dir, engine)
    uow = unit_of_work_factory(production_definition, engine)
    consumer = EventConsumer(
        "production", with_batching(production_subscriptions(), tenant_files_policy), uow, ["hardware"]
    )
    order_id = str(uuid.uuid4())
    assert (
        consumer.handle("order.events", "order_approved", body("order_approved", approved(order_id))) == "ok"
    )
    yield engine, consumer, order_id
    engine.dispose()


def production_rows(engine) -> tuple[int, int]:
    with engine.connect() as c:
        return (
            c.execute(select(func.count()).select_from(work_orders)).scalar_one(),
            c.execute(select(func.count()).select_from(merge_candidates)).scalar_one(),
        )


@pytest.mark.parametrize(("event_type", "why", "data"), POISON, ids=IDS)
def test_production_dead_letters_a_poison_order_event_and_goes_on(production, event_type, why, data):
    engine, consumer, order_id = production
    before = production_rows(engine)
    other = str(uuid.uuid4())  # a fresh order for approvals (the fixture's is approved already)

    dead_lettered_at_once(consumer, event_type, data(other if event_type == "order_approved" else order_id))

    assert production_rows(engine) == before  # nothing of it written
    # the consumer goes on: the next good event of the same kind is applied
    good = {
        "order_approved": approved(other),
        "order_changed": changed(order_id),
        "order_change_requested": requested(order_id),
        "order_cancelled": cancelled(order_id),
    }[event_type]
    assert consumer.handle("order.events", event_type, body(event_type, good)) == "ok"


# --- inventory: the order's reservation ---


@pytest.fixture
def inventory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'inventory.db'}")
    upgrade(inventory_definition.migrations_dir, engine)
    wms = FakeWms()
    wms.put("hardware", STEEL, "kg", 100_000)
    wms.put("hardware", SILVER, "L", 100)
    uow = unit_of_work_factory(inventory_definition, engine)
    order_id = str(uuid.uuid4())
    cmd = inventory_handlers.ReserveMaterials(
        order_id,
        "HW-20261126-00042",
        1,
        "00000000-0000-0000-0000-000000000001",
        25_500,
        "PRIORITY_NORMAL",
        [MaterialLine("HB-2040 铰链 hinge", 300, "银色 silver", "电镀 plating")],
    )
    with acting_as(Identity("hardware", "王经理", frozenset({"approver"}))):
        inventory_handlers.reserve_materials(
            cmd, uow, Plant("hardware", HW, wms, active_rule(HW, "material_lock"))
        )
    consumer = EventConsumer("inventory", inventory_subscriptions(lambda _t: HW), uow, ["hardware"])
    yield engine, consumer, order_id
    engine.dispose()


def balances(engine) -> dict[str, tuple[int, int]]:
    with engine.connect() as c:
        return {r.material: (r.reserved, r.locked) for r in c.execute(select(material_balances))}


INVENTORY_POISON = [p for p in POISON if p[0] != "order_approved"]  # inventory reserves by RPC


@pytest.mark.parametrize(
    ("event_type", "why", "data"), INVENTORY_POISON, ids=[f"{t}: {why}" for t, why, _ in INVENTORY_POISON]
)
def test_inventory_dead_letters_a_poison_order_event_and_goes_on(inventory, event_type, why, data):
    engine, consumer, order_id = inventory
    before = balances(engine)

    dead_lettered_at_once(consumer, event_type, data(order_id))

    assert balances(engine) == before  # nothing held or released by it
    good = {
        "order_changed": changed(order_id),
        "order_change_requested": requested(order_id),
        "order_cancelled": cancelled(order_id),
    }[event_type]
    assert consumer.handle("order.events", event_type, body(event_type, good)) == "ok"


# --- not poison: a colour outside today's option library ---


def test_a_colour_outside_the_option_library_is_applied_not_dead_lettered(production, inventory):
    """The order service checked the colour against the tenant file when the order was taken; a
    library edited since must not dead-letter orders in flight. Production makes it as written;
    inventory holds what the BOM says for it (no colour-specific material: steel only)."""
    engine, consumer, _ = production
    purple = str(uuid.uuid4())
    data = approved(purple, lines=[{**LINE, "colour": "紫色 purple"}])
    assert consumer.handle("order.events", "order_approved", body("order_approved", data)) == "ok"
    assert production_rows(engine)[0] == 2

    inv_engine, inv_consumer, order_id = inventory
    data = changed(order_id, lines=[{**LINE, "colour": "紫色 purple"}])
    assert inv_consumer.handle("order.events", "order_changed", body("order_changed", data)) == "ok"
    assert balances(inv_engine)[SILVER][0] == 0 and balances(inv_engine)[STEEL][0] > 0
