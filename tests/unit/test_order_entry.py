"""A business line's entry rules (option libraries, required fields, routing, custom fields) and
contract prices on order lines: pure domain, every violation reported at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.chassis.errors import InvalidArgument, PermissionDenied
from services.chassis.identity import Identity, acting_as
from services.chassis.tenants import load_tenants
from services.order.app import option_library
from services.order.domain.entry import CustomFieldSpec
from services.order.domain.model import Channel, OrderLine, Priority
from services.order.domain.pricing import PriceDeviation, apply_contract_prices
from services.order.service_layer import handlers
from tests.unit.fakes import (
    FakeContractPrices,
    FakeCustomers,
    FakeOrderUnitOfWork,
    FakeReservations,
    UowFactory,
)

AUTOPARTS = option_library(load_tenants(("autoparts",))["autoparts"])
RAIL = "SB-55 座椅滑轨支架 seat-rail bracket"
HANGER = "EX-12 排气吊耳 exhaust hanger"
TOTE = "防锈袋+周转箱 VCI bag + returnable tote"
GOOD = OrderLine(RAIL, 1000, "", "黑色 black", "电泳 e-coating", packaging=TOTE)
FIELDS = {"vehicle_model": "博越L", "ppap_level": "3"}


def violations(lines, address="宁波", fields=FIELDS) -> list[str]:
    with pytest.raises(InvalidArgument) as exc:
        AUTOPARTS.prepare(lines, address, fields)
    return sorted(v.field for v in exc.value.violations)


class TestEntryRules:
    def test_a_routed_model_gets_its_workshops(self):
        lines, fields = AUTOPARTS.prepare([GOOD, replace(GOOD, product_model=HANGER)], "宁波", FIELDS)
        assert [(x.workshop, x.route) for x in lines] == [
            ("stamping-2", ("stamping-2", "welding")),
            ("stamping-2", ("stamping-2",)),
        ]
        assert fields == FIELDS

    def test_every_broken_rule_is_reported_at_once(self):
        assert violations(
            [
                replace(GOOD, colour="", packaging="纸箱 carton", workshop="welding"),
                replace(GOOD, product_model="X-1"),
            ],
            address="  ",
            fields={"ppap_level": "4", "colour_code": "RAL9005"},
        ) == [
            "custom_fields.colour_code",
            "custom_fields.ppap_level",
            "custom_fields.vehicle_model",
            "delivery_address",
            "lines[0].colour",
            "lines[0].packaging",
            "lines[0].workshop",
            "lines[1].product_model",
            "lines[1].workshop",  # an unknown model has no route: its workshop is missing too
        ]

    def test_the_typed_workshop_may_agree_with_the_route(self):
        lines, _ = AUTOPARTS.prepare([replace(GOOD, workshop="stamping-2")], "宁波", FIELDS)
        assert lines[0].route == ("stamping-2", "welding")

    def test_a_proposal_names_its_fields_under_proposed(self):
        with pytest.raises(InvalidArgument) as exc:
            AUTOPARTS.prepare([replace(GOOD, colour="")], "宁波", FIELDS, prefix="proposed.")
        assert [v.field for v in exc.value.violations] == ["proposed.lines[0].colour"]

    @pytest.mark.parametrize(
        ("kind", "typed", "stored"),
        [
            ("integer", " 012 ", "12"),
            ("decimal", "1.50", "1.50"),
            ("date", "2026-12-01", "2026-12-01"),
            ("boolean", "是", "true"),
            ("boolean", "False", "false"),
            ("text", " 博越L ", "博越L"),
        ],
    )
    def test_custom_values_are_stored_in_one_spelling(self, kind, typed, stored):
        assert CustomFieldSpec("x", kind).normalise(typed) == stored

    @pytest.mark.parametrize(
        ("kind", "typed"),
        [
            ("integer", "1.5"),
            ("integer", "9" * 19),
            ("decimal", "NaN"),
            ("date", "2026-02-30"),
            ("boolean", "maybe"),
        ],
    )
    def test_a_value_of_the_wrong_type_is_refused(self, kind, typed):
        with pytest.raises(ValueError):
            CustomFieldSpec("x", kind).normalise(typed)


class TestContractPrices:
    LINES = [
        OrderLine(RAIL, 1000, "stamping-2", line_no=1),
        OrderLine(HANGER, 500, "stamping-2", unit_price_fen=1100, line_no=2),
    ]

    def test_an_unpriced_line_takes_the_contract_price_and_an_off_price_is_flagged(self):
        lines, off = apply_contract_prices(self.LINES, {RAIL: 1250, HANGER: 1000}, tolerance_percent=2.0)
        assert [x.unit_price_fen for x in lines] == [1250, 1100]
        assert off == [PriceDeviation(2, HANGER, 1100, 1000)] and off[0].percent == 10.0

    def test_within_the_tolerance_is_not_flagged_and_zero_tolerance_flags_any_difference(self):
        assert apply_contract_prices(self.LINES, {HANGER: 1070}, tolerance_percent=2.0)[1] != []  # 2.8% off
        assert apply_contract_prices(self.LINES, {HANGER: 1090}, tolerance_percent=1.0)[1] == []  # 0.92% off
        assert apply_contract_prices(self.LINES, {HANGER: 1099}, tolerance_percent=0.0)[1] != []
        assert apply_contract_prices(self.LINES, {}, tolerance_percent=0.0) == (self.LINES, [])


SALES = Identity("autoparts", "吴晓燕", frozenset({"sales"}))
APPROVER = Identity("autoparts", "刘建华", frozenset({"approver"}))
MANAGER = Identity("autoparts", "孙经理", frozenset({"manager"}))


def test_an_off_contract_order_needs_a_manager_to_approve():
    uow = UowFactory(FakeOrderUnitOfWork)
    prices = FakeContractPrices({("c-1", RAIL): 1250, ("c-1", HANGER): 1000})
    cmd = handlers.CreateOrder(
        "c-1",
        Channel.DIRECT,
        Priority.NORMAL,
        date(2026, 12, 20),
        [GOOD, replace(GOOD, product_model=HANGER, unit_price_fen=1100)],
        delivery_address="宁波",
        custom_fields=FIELDS,
    )
    with acting_as(SALES):
        order = handlers.create_order(
            cmd,
            uow,
            FakeCustomers("c-1"),
            AUTOPARTS,
            "AP",
            uow.numbers,
            clock=lambda: datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
            pricing=handlers.Pricing(prices, 2.0),
        )
    assert prices.asked == [("c-1", (RAIL, HANGER), date(2026, 11, 25))]
    assert [x.unit_price_fen for x in order.lines] == [1250, 1100] and order.price_review
    approve = handlers.ApproveOrder(order.order_id, order.version)
    with acting_as(APPROVER), pytest.raises(PermissionDenied, match="经理"):
        handlers.approve_order(approve, uow, FakeReservations())
    with acting_as(MANAGER):
        approved = handlers.approve_order(approve, uow, FakeReservations())
    assert approved.approved_by == "孙经理"
