"""The WMS adapter (services/inventory/adapters/wms.py) against a real WMS simulator on a spare
loopback port: what it reads and writes, and how it fails — fast, with UNAVAILABLE saying what
to retry, never past the caller's deadline, behind a circuit breaker that opens and closes."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY

from services.chassis.deadlines import serving_until
from services.chassis.errors import FailedPrecondition, Internal, InvalidArgument, NotFound, Unavailable
from services.chassis.settings import InvalidSetting, MissingSetting, from_env
from services.chassis.tenants import load_tenants
from services.inventory.adapters.wms import (
    HttpWms,
    UnconfiguredWms,
    build_wms,
    new_breaker,
    seed_demo_materials,
)
from services.inventory.service_layer.plant import warehouse_of
from services.inventory.service_layer.ports import WmsLine, WmsReservation, WmsStock, WmsUnavailable

STEEL = "SPCC 冷轧钢板 cold-rolled steel"
SILVER = "镀银液 silver plating solution"
ODD = "包装/纸箱 50% carton & tape?#"  # characters a URL must escape
WH = "hardware"


@pytest.fixture
def wms(wms_simulator):
    adapter = HttpWms(wms_simulator.url, timeout_s=0.5, breaker=new_breaker(fail_max=3, reset_timeout_s=60))
    adapter.seed_stock(
        WH,
        [
            WmsStock(STEEL, "kg", 100, "A-01"),
            WmsStock(SILVER, "L", 40.5, "C-02"),
            WmsStock(ODD, "个", 7, ""),
        ],
    )
    yield adapter
    adapter.close()


def lines(**quantities: float) -> list[WmsLine]:
    names = {"steel": (STEEL, "kg"), "silver": (SILVER, "L")}
    return [WmsLine(names[k][0], names[k][1], q) for k, q in quantities.items()]


def on_hand(wms: HttpWms, material: str) -> float:
    return wms.stock(WH, [material])[material].on_hand


def breaker_metric(wms: HttpWms) -> float | None:
    return REGISTRY.get_sample_value("oms_wms_breaker_state", {"wms": wms.label})


def calls(operation: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "oms_wms_request_seconds_count", {"operation": operation, "outcome": outcome}
        )
        or 0
    )


def test_stock_is_read_by_material_name_in_chinese_and_unknown_materials_are_absent(wms):
    found = wms.stock(WH, [STEEL, ODD, "不存在 unknown", STEEL])
    assert found == {STEEL: WmsStock(STEEL, "kg", 100.0, "A-01"), ODD: WmsStock(ODD, "个", 7.0, "")}
    assert wms.stock(WH, []) == {}
    assert wms.stock("autoparts", [STEEL]) == {}  # another warehouse holds its own stock


def test_reserve_replace_release_and_issue_are_idempotent(wms):
    wms.put_reservation(WH, "res-1", "SO-1", lines(steel=30, silver=2.5), hard_lock=True)
    wms.put_reservation(WH, "res-1", "SO-1", lines(steel=30, silver=2.5), hard_lock=True)  # again: no change
    expected = WmsReservation("res-1", "SO-1", True, "open", tuple(lines(steel=30, silver=2.5)))
    assert wms.reservation(WH, "res-1") == expected
    assert [r.reservation_id for r in wms.reservations(WH, "open")] == ["res-1"]

    wms.put_reservation(WH, "res-1", "SO-1", lines(steel=20), hard_lock=False)  # replaced, silver dropped
    assert wms.reservation(WH, "res-1") == WmsReservation(
        "res-1", "SO-1", False, "open", tuple(lines(steel=20))
    )

    wms.issue(WH, "res-1")
    wms.issue(WH, "res-1")  # a second issue changes nothing
    assert on_hand(wms, STEEL) == 80.0
    assert on_hand(wms, SILVER) == 40.5
    issued = wms.reservation(WH, "res-1")
    assert issued is not None and issued.state == "issued"

    wms.put_reservation(WH, "res-2", "SO-2", lines(silver=4), hard_lock=False)
    wms.release(WH, "res-2")
    wms.release(WH, "res-2")  # released already: fine
    wms.release(WH, "never-made")  # unknown: already released
    released = wms.reservation(WH, "res-2")
    assert released is not None and released.state == "released"
    assert wms.reservation(WH, "never-made") is None
    assert on_hand(wms, SILVER) == 40.5
    assert {r.reservation_id: r.state for r in wms.reservations(WH)} == {
        "res-1": "issued",
        "res-2": "released",
    }


def test_what_the_wms_refuses_is_said_as_the_matching_status(wms):
    wms.put_reservation(WH, "res-1", "SO-1", lines(steel=90), hard_lock=False)
    with pytest.raises(
        FailedPrecondition,
        match=r"仓储系统拒绝 WMS refused .*not enough free stock: SPCC 冷轧钢板 cold-rolled steel 11 > 10 kg",
    ):
        wms.put_reservation(WH, "res-2", "SO-2", lines(steel=11), hard_lock=False)
    assert wms.reservation(WH, "res-2") is None  # nothing reserved
    with pytest.raises(InvalidArgument, match="greater than 0"):
        wms.put_reservation(WH, "res-3", "SO-3", lines(steel=-1), hard_lock=False)
    with pytest.raises(InvalidArgument, match="kept in kg, not t"):
        wms.put_reservation(WH, "res-3", "SO-3", [WmsLine(STEEL, "t", 1)], hard_lock=False)
    with pytest.raises(NotFound, match="no reservation nope"):
        wms.issue(WH, "nope")
    wms.issue(WH, "res-1")
    with pytest.raises(FailedPrecondition, match="issued to the shop floor"):
        wms.release(WH, "res-1")
    assert wms.breaker_state == "closed"  # refusals are answers: the WMS is up


def test_a_wms_that_is_down_answers_unavailable_at_once(wms, wms_simulator):
    wms.stock(WH, [STEEL])  # a pooled connection exists: it must not keep "answering"
    wms_simulator.offline()
    started = time.monotonic()
    with pytest.raises(WmsUnavailable) as raised:
        wms.put_reservation(WH, "res-1", "SO-1", lines(steel=1), hard_lock=False)
    assert time.monotonic() - started < 0.5
    assert isinstance(raised.value, Unavailable) and raised.value.maybe_applied is False
    assert str(raised.value) == (
        f"仓储系统暂不可用 WMS unavailable ({wms_simulator.url}: cannot connect: connection refused) — "
        "could not reserve materials (res-1, order SO-1); nothing was changed, retry"
    )
    wms_simulator.online()
    assert wms.reservation(WH, "res-1") is None  # nothing half-reserved


def test_a_wms_slower_than_the_callers_deadline_is_given_up_within_it(wms, wms_simulator):
    wms_simulator.set_faults(hang=True)
    started = time.monotonic()
    with serving_until(0.25), pytest.raises(WmsUnavailable) as raised:
        wms.put_reservation(WH, "res-1", "SO-1", lines(steel=1), hard_lock=False)
    took = time.monotonic() - started
    assert 0.15 < took < 0.6, took
    assert re.search(
        r"no answer within 0\.[12]\d s, what was left of the caller's deadline", str(raised.value)
    )
    assert "may or may not have been applied: repeating the request is safe" in str(raised.value)
    assert raised.value.maybe_applied is True
    # a deadline shorter than our own timeout says nothing about the WMS: the breaker ignores it
    for _ in range(4):
        with serving_until(0.1), pytest.raises(WmsUnavailable):
            wms.stock(WH, [STEEL])
    assert wms.breaker_state == "closed"
    with serving_until(0.01), pytest.raises(WmsUnavailable, match="no time left of the caller's deadline"):
        wms.stock(WH, [STEEL])


def test_a_wms_slower_than_our_timeout_is_given_up_at_the_timeout(wms, wms_simulator):
    wms_simulator.set_faults(latency_ms=2000)
    started = time.monotonic()
    with pytest.raises(
        WmsUnavailable, match=r"no answer within 0.50 s, OMS_WMS_TIMEOUT_S\) — could not read"
    ):
        wms.stock(WH, [STEEL])
    assert 0.4 < time.monotonic() - started < 1.0


def reset_time_passes(wms: HttpWms) -> None:
    """The breaker's reset time elapses: moved back rather than slept through, so how busy the
    machine is cannot decide what the breaker does."""
    wms.breaker._state_storage.opened_at = datetime.now(UTC) - timedelta(
        seconds=wms.breaker.reset_timeout + 1
    )


def test_the_breaker_opens_after_repeated_failures_and_closes_after_its_reset_time(wms, wms_simulator):
    assert breaker_metric(wms) == 0
    wms_simulator.set_faults(error_rate=1.0)
    for _ in range(3):
        with pytest.raises(WmsUnavailable, match="HTTP 503: the WMS failed this request"):
            wms.stock(WH, [STEEL])
    assert (wms.breaker_state, breaker_metric(wms)) == ("open", 2)

    wms_simulator.clear_faults()  # the WMS is back, but the breaker holds calls back until reset
    sent_before = calls("stock", "ok")
    started = time.monotonic()
    with pytest.raises(WmsUnavailable) as raised:
        wms.stock(WH, [STEEL])
    assert time.monotonic() - started < 0.2  # not sent: no wait for the WMS
    held_back = f"circuit breaker open: {wms.label} failed repeatedly, calls are held back for up to 60 s"
    assert held_back in str(raised.value)
    assert "nothing was sent, retry later" in str(raised.value)
    assert calls("stock", "ok") == sent_before
    assert calls("stock", "open") >= 1

    reset_time_passes(wms)  # one trial call goes through, succeeds, and closes the breaker
    assert wms.stock(WH, [STEEL])[STEEL].on_hand == 100.0
    assert (wms.breaker_state, breaker_metric(wms)) == ("closed", 0)


def test_a_failed_trial_call_opens_the_breaker_again(wms, wms_simulator):
    wms_simulator.offline()
    for _ in range(3):
        with pytest.raises(WmsUnavailable, match="connection refused"):
            wms.stock(WH, [STEEL])
    assert wms.breaker_state == "open"
    reset_time_passes(wms)
    with pytest.raises(WmsUnavailable, match="connection refused"):  # the trial call, still down
        wms.stock(WH, [STEEL])
    assert (wms.breaker_state, breaker_metric(wms)) == ("open", 2)

    # while a trial call is on its way the breaker is half-open
    wms_simulator.online()
    wms_simulator.set_faults(latency_ms=1500)
    reset_time_passes(wms)
    patient = HttpWms(wms.base_url, timeout_s=5, breaker=wms.breaker)  # waits out the slow trial
    trial = threading.Thread(target=patient.stock, args=(WH, [STEEL]))
    trial.start()
    seen = []
    deadline = time.monotonic() + 1.4  # the trial call takes 1.5 s
    while time.monotonic() < deadline and seen[-1:] != [("half-open", 1)]:
        seen.append((wms.breaker_state, breaker_metric(wms)))
        time.sleep(0.01)
    assert seen[-1] == ("half-open", 1), seen[-5:]
    trial.join()
    assert (wms.breaker_state, breaker_metric(wms)) == ("closed", 0)


def test_a_share_of_5xx_answers_fails_that_share_of_calls(wms_simulator):
    wms = HttpWms(wms_simulator.url, timeout_s=0.5, breaker=new_breaker(fail_max=1000))
    wms.seed_stock(WH, [WmsStock(STEEL, "kg", 1, "")])
    wms_simulator.set_faults(error_rate=0.5)
    failed = 0
    for _ in range(60):
        try:
            wms.stock(WH, [STEEL])
        except WmsUnavailable as exc:
            assert "HTTP 503" in str(exc) and exc.maybe_applied is False
            failed += 1
    assert 10 <= failed <= 50  # binomial(60, 0.5) leaves this range with probability < 1e-6


def test_calls_are_not_queued_behind_each_other_by_the_breaker(wms, wms_simulator):
    wms_simulator.set_faults(latency_ms=200)
    threads = [threading.Thread(target=wms.stock, args=(WH, [STEEL])) for _ in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started < 1.2  # one after the other would take 1.6 s


def test_latency_is_measured_per_operation_and_outcome(wms, wms_simulator):
    before = {o: calls("release", o) for o in ("ok", "rejected", "unreachable")}
    wms.release(WH, "r-1")
    wms.put_reservation(WH, "r-2", "SO", lines(steel=1), hard_lock=False)
    wms.issue(WH, "r-2")
    with pytest.raises(FailedPrecondition):
        wms.release(WH, "r-2")
    wms_simulator.offline()
    with pytest.raises(WmsUnavailable):
        wms.release(WH, "r-3")
    after = {o: calls("release", o) for o in ("ok", "rejected", "unreachable")}
    assert {o: after[o] - before[o] for o in after} == {"ok": 1, "rejected": 1, "unreachable": 1}


def test_settings_build_the_adapter(monkeypatch):
    env = {"OMS_WMS_URL": "http://wms.plant.local:8080/api", "OMS_WMS_TIMEOUT_S": "1.5"}
    settings = from_env(
        "inventory", env={**env, "OMS_WMS_BREAKER_FAILURES": "7", "OMS_WMS_BREAKER_RESET_S": "30"}
    )
    wms = build_wms(settings)
    assert isinstance(wms, HttpWms)
    assert (wms.base_url, wms.timeout_s, wms.breaker.fail_max, wms.breaker.reset_timeout) == (
        "http://wms.plant.local:8080/api",
        1.5,
        7,
        30,
    )
    with_token = from_env("inventory", env={"OMS_WMS_TOKEN": "s3cret"})
    assert with_token.wms_token == "s3cret" and "s3cret" not in repr(with_token)
    with pytest.raises(InvalidSetting, match="OMS_WMS_URL"):
        build_wms(from_env("inventory", env={"OMS_WMS_URL": "wms:8080"}))
    with pytest.raises(InvalidSetting, match="OMS_WMS_TIMEOUT_S"):
        from_env("inventory", env={"OMS_WMS_TIMEOUT_S": "soon"})


def test_without_a_wms_url_every_call_names_the_setting_and_production_refuses_to_start():
    wms = build_wms(from_env("inventory", env={}))
    assert isinstance(wms, UnconfiguredWms)
    with pytest.raises(WmsUnavailable, match="no WMS configured: set OMS_WMS_URL"):
        wms.stock(WH, [STEEL])
    production = {
        "OMS_ENV": "production",
        "OMS_DB_URL": "postgresql+psycopg://db/oms_inventory",
        "OMS_AMQP_URL": "amqp://mq/oms",
        "OMS_JWKS_FILE": "/etc/oms/jwks/jwks.json",
    }
    with pytest.raises(MissingSetting, match="OMS_WMS_URL is required"):
        build_wms(from_env("inventory", env=production))


def test_demo_materials_are_seeded_into_an_empty_warehouse_only(wms_simulator):
    tenant = load_tenants(("hardware",))["hardware"]
    wms = HttpWms(wms_simulator.url, timeout_s=1)
    warehouse = warehouse_of(tenant.tenant_id, tenant)
    seed_demo_materials(wms, tenant)
    names = [m.material for m in tenant.demo.materials]
    stock = wms.stock(warehouse, names)
    assert {m: s.on_hand for m, s in stock.items()} == {m.material: m.on_hand for m in tenant.demo.materials}
    assert stock[STEEL] == WmsStock(STEEL, "kg", 50000.0, "A-01")
    wms.seed_stock(warehouse, [WmsStock(STEEL, "kg", 123, "A-01")])  # counted since
    seed_demo_materials(wms, tenant)  # a restart: the counted stock stays
    assert wms.stock(warehouse, [STEEL])[STEEL].on_hand == 123


def test_an_answer_that_breaks_the_contract_is_internal_not_a_retry():
    def garbled(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stock"):
            return httpx.Response(200, json={"items": [{"material": STEEL}]})
        if request.url.path.endswith("/r1"):
            return httpx.Response(200, text="<html>proxy login</html>")
        return httpx.Response(401, json={"message": "token expired"})

    wms = HttpWms("http://user:pw@wms.test:8080", timeout_s=1, transport=httpx.MockTransport(garbled))
    assert wms.label == "wms.test:8080"  # no credentials in metrics
    with pytest.raises(Internal, match="WMS answer not understood: a stock item lacks or garbles 'unit'"):
        wms.stock(WH, [STEEL])
    with pytest.raises(Internal, match="the answer to read reservation r1 is not JSON"):
        wms.reservation(WH, "r1")
    with pytest.raises(Internal, match="HTTP 401 to release reservation r2 — check OMS_WMS_TOKEN"):
        wms.release(WH, "r2")
    assert wms.breaker_state == "closed"
