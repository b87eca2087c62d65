"""A stock read of as many materials as ListMaterialStock accepts (200 names of 128 characters,
~230 KB URL-encoded) is asked of the WMS in several queries, each URL short enough for the
proxies in front of a plant's WMS; the answer is the same as one query's would be."""

from __future__ import annotations

from urllib.parse import quote_plus

import httpx

from services.inventory.adapters.wms import MAX_QUERY, HttpWms, _by_query_length, new_breaker
from services.inventory.service_layer.ports import WmsStock

NAMES = [f"{n:03d}" + "钢" * 125 for n in range(200)]


def test_names_are_split_in_order_and_each_query_stays_under_the_limit():
    chunks = list(_by_query_length(NAMES))
    assert [n for chunk in chunks for n in chunk] == NAMES
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(str(httpx.QueryParams({"material": chunk}))) <= MAX_QUERY
    assert list(_by_query_length([])) == []
    assert list(_by_query_length(["x" * 128])) == [["x" * 128]]
    assert len(quote_plus(NAMES[0])) < MAX_QUERY


def test_two_hundred_long_names_are_read_in_several_queries_with_one_answer(wms_simulator):
    wms = HttpWms(wms_simulator.url, timeout_s=2.0, breaker=new_breaker(fail_max=3, reset_timeout_s=60))
    try:
        wms.seed_stock("hardware", [WmsStock(NAMES[0], "kg", 5.0, "A-01"), WmsStock(NAMES[-1], "L", 7.0, "")])
        stock = wms.stock("hardware", NAMES)
    finally:
        wms.close()
    assert {m: s.on_hand for m, s in stock.items() if s.on_hand} == {NAMES[0]: 5.0, NAMES[-1]: 7.0}
    assert set(stock) <= set(NAMES)
