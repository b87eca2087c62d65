"""Whatever a gateway answers, an adapter raises nothing but a PullError; whatever a record holds,
it comes out as a MarketOrder or as Unreadable, and the other records still come."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.adapters.marketplaces import PullError
from services.ingest.adapters.marketplaces.jd import JdClient
from services.ingest.adapters.marketplaces.pdd import PddClient
from services.ingest.adapters.marketplaces.tmall import TmallClient
from services.ingest.domain.marketplace import MarketOrder, Unreadable
from tests.unit.ingest.marketplace_replay import CLOCK, END, START, access, fixture

ADAPTERS = {"jd": JdClient, "pdd": PddClient, "tmall": TmallClient}
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=16,
)


def run(platform: str, answer) -> list[Any]:
    http = httpx.Client(transport=httpx.MockTransport(answer))
    adapter = ADAPTERS[platform](access(platform), http, page_size=2, clock=lambda: CLOCK)
    return list(adapter.changed_orders(START, END))


@SETTINGS
@given(
    platform=st.sampled_from(sorted(ADAPTERS)),
    body=st.one_of(st.binary(max_size=120), json_values.map(lambda v: json.dumps(v).encode())),
    status=st.sampled_from([200, 200, 200, 400, 404, 429, 500, 503]),
)
def test_any_answer_is_records_or_a_pull_error(platform, body, status):
    try:
        got = run(platform, lambda request: httpx.Response(status, content=body))
    except PullError:
        return
    assert all(isinstance(r, MarketOrder | Unreadable) for r in got)


@SETTINGS
@given(platform=st.sampled_from(sorted(ADAPTERS)), envelope=json_values)
def test_any_json_inside_the_success_envelope_is_records_or_a_pull_error(platform, envelope):
    key = {
        "jd": "jingdong_pop_order_search_responce",
        "pdd": "order_sn_increment_get_response",
        "tmall": "trades_sold_increment_get_response",
    }[platform]
    body = json.dumps({key: envelope}).encode()
    try:
        got = run(platform, lambda request: httpx.Response(200, content=body))
    except PullError:
        return
    assert all(isinstance(r, MarketOrder | Unreadable) for r in got)


# One recorded record with one field replaced by anything, or dropped, one or two levels deep.
RECORDED = {
    "jd": (
        "search_page1.json",
        lambda b: b["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["orderInfoList"],
    ),
    "pdd": ("increment_page1.json", lambda b: b["order_sn_increment_get_response"]["order_sn_list"]),
    "tmall": ("fullinfo_4123456789012345678.json", lambda b: [b["trade_fullinfo_get_response"]["trade"]]),
}


def garble(target: Any, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(target) if isinstance(target, dict) else list(range(len(target)))))
    inner = target[key]
    if isinstance(inner, dict | list) and inner and data.draw(st.booleans()):
        garble(inner, data)
    elif isinstance(target, dict) and data.draw(st.booleans()):
        del target[key]
    else:
        target[key] = data.draw(json_values)


@SETTINGS
@given(platform=st.sampled_from(sorted(ADAPTERS)), data=st.data())
def test_a_garbled_record_is_unreadable_or_read_and_the_others_still_come(platform, data):
    name, records_of = RECORDED[platform]
    body = json.loads(fixture(platform, name))
    records = records_of(body)
    garble(records[0], data)
    if platform == "tmall":
        listing = {
            "trades_sold_increment_get_response": {"total_results": 1, "trades": {"trade": [{"tid": 1}]}}
        }
        answers = [json.dumps(listing).encode(), json.dumps(body).encode()]
    else:
        for page in body.values():  # one page holding both records
            found = page.get("searchorderinfo_result", page)
            found["orderTotal" if platform == "jd" else "total_count"] = len(records)
        answers = [json.dumps(body).encode()]
    replies = iter(answers)

    got = run(platform, lambda request: httpx.Response(200, content=next(replies)))

    assert len(got) == len(records)
    assert all(isinstance(r, MarketOrder | Unreadable) for r in got)
    if platform != "tmall":
        assert isinstance(got[1], MarketOrder)  # the untouched record is read all the same
        assert got[1].raw == records[1]
    assert got[0].raw == records[0]  # read or not, the record is kept whole
