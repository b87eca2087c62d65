"""A customer's after-sales request (售后申请) reaches its sales owner and the order desk, through
notify's real wiring and database (SQLite): exactly what they read, once per event, and a
malformed event refused by name."""

from __future__ import annotations

import re

import pytest

from services.chassis.events import MalformedEvent
from tests.unit.notify.test_material_and_stage_notices import ORDER_ID, ORDER_NO, deliver, told
from tests.unit.notify.test_material_and_stage_notices import notify as notify  # the fixture


def requested(customer_id: str = "c-1", kind: str = "AFTER_SALES_KIND_QUALITY") -> dict:
    return {
        "after_sales_id": "a-1",
        "order_id": ORDER_ID,
        "order_no": ORDER_NO,
        "customer_id": customer_id,
        "kind": kind,
        "description": "第2批 200 件镀层起泡",
        "submitted_by": "美的采购",
        "submitted_at": "2026-11-26T08:30:00+00:00",
    }


def test_the_sales_owner_and_the_order_desk_are_told_once(notify):
    event_id = "5b0f7d1e-0000-4000-8000-000000000001"
    assert deliver(notify.consumer, "order", "after_sales_requested", requested(), event_id) == "ok"
    deliver(notify.consumer, "order", "after_sales_requested", requested(), event_id)  # redelivered
    subject = f"售后申请 after-sales request: {ORDER_NO} (质量问题 quality)"
    body = "美的采购: 第2批 200 件镀层起泡"
    assert told(notify.engine) == [
        ("刘敏", "order_desk", "after_sales_requested", subject, body, ORDER_NO, False),
        ("陈丽", "sales_owner", "after_sales_requested", subject, body, ORDER_NO, False),
    ]


def test_without_a_known_sales_owner_the_order_desk_still_hears(notify):
    deliver(notify.consumer, "order", "after_sales_requested", requested("c-2", "AFTER_SALES_KIND_DAMAGE"))
    assert [(r[0], r[3]) for r in told(notify.engine)] == [
        ("刘敏", f"售后申请 after-sales request: {ORDER_NO} (运输损坏 damage in transport)")
    ]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({**requested(), "kind": "AFTER_SALES_KIND_\u202eEVIL"}, "has kind"),
        ({**requested(), "order_no": ""}, "has no order id, order number or customer"),
        ({**requested(), "customer_id": ""}, "has no order id, order number or customer"),
    ],
)
def test_a_malformed_request_is_refused_by_name(notify, data, says):
    with pytest.raises(MalformedEvent, match=re.escape(says)):
        deliver(notify.consumer, "order", "after_sales_requested", data)
    assert told(notify.engine) == []
