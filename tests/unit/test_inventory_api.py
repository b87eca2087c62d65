"""The inventory API sums what a request asks per model; the sum is 64-bit, so the largest
request the field rules allow answers (never INTERNAL from an int32 overflow)."""

from __future__ import annotations

import protovalidate

from oms.inventory.v1 import inventory_pb2
from services.inventory.api import InventoryApi
from services.inventory.domain.model import StockLevel


class StockUow:
    def __init__(self, levels: dict[str, int]):
        self._levels = {m: StockLevel(m, on_hand) for m, on_hand in levels.items()}
        self.stock = self

    def __call__(self, read_only: bool = False):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def levels(self, models):
        return {m: self._levels[m] for m in models if m in self._levels}


def ask(*items: tuple[str, int], stock: dict[str, int] | None = None):
    request = inventory_pb2.CheckAvailabilityRequest(
        items=[inventory_pb2.RequestedItem(product_model=m, quantity=q) for m, q in items]
    )
    protovalidate.validate(request)  # what the chassis does before the handler runs
    return InventoryApi(StockUow(stock or {}), plants=None).CheckAvailability(  # type: ignore[arg-type]
        request, context=None
    )


def test_one_model_twice_at_two_billion_is_summed_in_64_bits():
    reply = ask(("HB-2040", 2_000_000_000), ("HB-2040", 2_000_000_000), stock={"HB-2040": 60_000})

    [item] = reply.items
    assert (item.product_model, item.requested, item.available) == ("HB-2040", 4_000_000_000, 60_000)
    assert not item.sufficient and not reply.all_available


def test_the_largest_request_the_rules_allow_is_answered():
    reply = ask(*[("HB-2040", 2_000_000_000)] * 200)

    assert [i.requested for i in reply.items] == [400_000_000_000]


def test_quantities_of_one_model_are_added_up_and_others_kept_apart():
    reply = ask(("HB-2040", 300), ("BK-310", 5), ("HB-2040", 400), stock={"HB-2040": 700, "BK-310": 4})

    assert [(i.product_model, i.requested, i.sufficient) for i in reply.items] == [
        ("HB-2040", 700, True),
        ("BK-310", 5, False),
    ]
