"""Phone forms through the ingest service layer (SQLite): a form sent twice makes one order; its
scans are checked against their declared type, stored once per content and kept with the intake;
the form is archived as received; a form without a priority gets the tenant rule's."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from services.chassis.db import make_engine
from services.chassis.errors import InvalidArgument
from services.chassis.identity import Identity, acting_as
from services.chassis.migrations import upgrade
from services.chassis.rules import compile_rule
from services.chassis.runtime import unit_of_work_factory
from services.ingest.adapters.tables import attachments, raw_payloads
from services.ingest.app import definition
from services.ingest.domain.model import Attachment, PhoneOrder, PhoneOrderLine
from services.ingest.service_layer import handlers
from tests.unit.ingest.test_pulling import FakeOrders

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32
PDF = b"%PDF-1.7\n" + b"\x02" * 32
CUSTOMER = "00000000-0000-0000-0000-00000000000a"


def form(key: str = "phone-0001-abcd", priority: str = "", scans=(), qty: int = 5000) -> PhoneOrder:
    return PhoneOrder(
        idempotency_key=key,
        customer_id=CUSTOMER,
        due_date=date(2026, 12, 20),
        priority=priority,
        lines=[PhoneOrderLine("HB-2040 铰链 hinge", qty, "stamping-1", "银色 silver", "电镀 plating", 85)],
        attachments=list(scans),
        signed_at=datetime(2026, 11, 26, 3, 0, tzinfo=UTC),
        location=(29.87, 121.54, 12.0),
    )


@pytest.fixture
def ingest(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ingest.db'}")
    upgrade(definition.migrations_dir, engine)
    with acting_as(Identity("hardware", "陈丽", frozenset({"sales"}))):
        yield unit_of_work_factory(definition, engine), FakeOrders(), engine
    engine.dispose()


def test_a_form_sent_twice_makes_one_order_and_keeps_its_scans_location_and_signing_time(ingest):
    uow, orders, engine = ingest
    scans = [Attachment("合同.png", "image/png", PNG), Attachment("合同副本.pdf", "application/pdf", PDF)]
    first, duplicate = handlers.submit_phone_order(form(scans=scans), uow, orders)
    again, second_duplicate = handlers.submit_phone_order(form(scans=scans), uow, orders)
    assert (duplicate, second_duplicate, again.order_no) == (False, True, first.order_no)
    assert len(orders.created) == 1
    assert [(a.filename, a.size) for a in again.attachments] == [
        ("合同.png", len(PNG)),
        ("合同副本.pdf", len(PDF)),
    ]
    assert (again.location, again.signed_at) == (
        (29.87, 121.54, 12.0),
        datetime(2026, 11, 26, 3, 0, tzinfo=UTC),
    )
    assert handlers.attachment(scans[0].sha256, uow) == ("image/png", PNG)
    with engine.connect() as c:
        assert len(c.execute(select(attachments)).all()) == 2
        [archived] = c.execute(select(raw_payloads.c.source, raw_payloads.c.payload)).all()
    assert archived.source == "form"
    payload = json.loads(archived.payload)
    assert (
        payload["idempotency_key"] == "phone-0001-abcd"
        and payload["attachments"][0]["sha256"] == scans[0].sha256
    )


@pytest.mark.parametrize(
    ("scan", "field"),
    [
        (Attachment("合同.jpg", "image/jpeg", PNG), "attachments[0].data"),  # a PNG said to be a JPEG
        (Attachment("合同.pdf", "application/pdf", b"<html>not a pdf</html>"), "attachments[0].data"),
        (Attachment("合同.exe", "application/x-msdownload", b"MZ\x90\x00"), "attachments[0].content_type"),
    ],
)
def test_a_scan_that_is_not_what_it_says_is_refused_and_nothing_is_made(ingest, scan, field):
    uow, orders, _ = ingest
    with pytest.raises(InvalidArgument) as refused:
        handlers.submit_phone_order(form(scans=[scan]), uow, orders)
    assert [v.field for v in refused.value.violations] == [field]
    assert orders.created == {}


def test_a_form_without_a_priority_gets_the_tenant_rules(ingest):
    uow, orders, _ = ingest
    rule = compile_rule(
        "big_direct_orders", "ingest_priority", "order.amount_cny > params.cny", {"cny": 10000}
    )

    def by_rule(facts: dict) -> str:
        return "PRIORITY_HIGH" if rule.matches({"order": facts}) else "PRIORITY_NORMAL"

    handlers.submit_phone_order(form("phone-small-0001", qty=1000), uow, orders, priority_rule=by_rule)
    handlers.submit_phone_order(form("phone-large-0001", qty=20000), uow, orders, priority_rule=by_rule)
    handlers.submit_phone_order(
        form("phone-given-0001", "PRIORITY_NORMAL", qty=20000), uow, orders, priority_rule=by_rule
    )
    assert [d.priority for d in orders.created.values()] == [
        "PRIORITY_NORMAL",
        "PRIORITY_HIGH",
        "PRIORITY_NORMAL",
    ]
