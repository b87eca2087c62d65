"""The WMS simulator (services/wms_simulator) over HTTP: it checks what it is sent, never lets two
reservations take the same stock, keeps its stock in its file, switches faults on and off, and
runs as its own process the way the distributed stack starts it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from services.wms_simulator import start_in_thread

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
STEEL = "SPCC 冷轧钢板 cold-rolled steel"
STEEL_PATH = f"/v1/warehouses/hardware/stock/{quote(STEEL, safe='')}"


@pytest.fixture
def http(wms_simulator):
    with httpx.Client(base_url=wms_simulator.url, timeout=5) as client:
        assert (
            client.put(STEEL_PATH, json={"unit": "kg", "on_hand": 10, "location": "A-01"}).status_code == 200
        )
        yield client


def reserve(quantity, material=STEEL, unit="kg", order_no="SO-1", **extra):
    return {
        "order_no": order_no,
        "lines": [{"material": material, "unit": unit, "quantity": quantity}],
        **extra,
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("PUT", "/v1/warehouses/hardware/reservations/r1", b"{not json", 400, "not valid JSON"),
        ("PUT", "/v1/warehouses/hardware/reservations/r1", b"[1, 2]", 400, "must be a JSON object"),
        ("PUT", "/v1/warehouses/hardware/reservations/r1", b"", 400, "a JSON body is required"),
        (
            "PUT",
            "/v1/warehouses/hardware/reservations/r1",
            reserve(-1),
            400,
            "quantity must be greater than 0",
        ),
        (
            "PUT",
            "/v1/warehouses/hardware/reservations/r1",
            reserve(0),
            400,
            "quantity must be greater than 0",
        ),
        ("PUT", "/v1/warehouses/hardware/reservations/r1", reserve("5"), 400, "quantity must be a number"),
        ("PUT", "/v1/warehouses/hardware/reservations/r1", reserve(True), 400, "quantity must be a number"),
        ("PUT", "/v1/warehouses/hardware/reservations/r1", reserve(1, unit="t"), 400, "kept in kg, not t"),
        (
            "PUT",
            "/v1/warehouses/hardware/reservations/r1",
            reserve(1, material=" "),
            400,
            "material is required",
        ),
        (
            "PUT",
            "/v1/warehouses/hardware/reservations/r1",
            reserve(1, material="a\nb"),
            400,
            "one line of text",
        ),
        (
            "PUT",
            "/v1/warehouses/hardware/reservations/r1",
            reserve(1, hard_lock="yes"),
            400,
            "hard_lock must be",
        ),
        (
            "PUT",
            "/v1/warehouses/hardware/reservations/r1",
            {"order_no": "SO", "lines": []},
            400,
            "non-empty list",
        ),
        (
            "PUT",
            "/v1/warehouses/hardware/reservations/r1",
            {"lines": reserve(1)["lines"]},
            400,
            "order_no must be",
        ),
        (
            "PUT",
            "/v1/warehouses/hardware/reservations/r1",
            {"order_no": "SO", "lines": reserve(1)["lines"] * 2},
            400,
            "appears twice",
        ),
        ("PUT", "/v1/warehouses/hard ware/reservations/r1", reserve(1), 400, "warehouse 'hard ware'"),
        ("PUT", "/v1/warehouses/hardware/reservations/r%201", reserve(1), 400, "reservation id 'r 1'"),
        ("PUT", STEEL_PATH, {"unit": "kg", "on_hand": -5}, 400, "on_hand must not be negative"),
        ("PUT", STEEL_PATH, {"on_hand": 5}, 400, "unit must be a string"),
        ("POST", "/_sim/faults", {"error_rate": 2}, 400, "error_rate must be a number from 0 to 1"),
        ("POST", "/_sim/faults", {"explode": True}, 400, "unknown fault(s): explode"),
        ("GET", "/v1/warehouses/hardware/reservations?state=lost", None, 400, "state must be open"),
        ("GET", "/v1/warehouses/hardware/reservations/r9", None, 404, "no reservation r9"),
        ("POST", "/v1/warehouses/hardware/reservations/r9/issue", None, 404, "no reservation r9"),
        ("GET", "/v1/elsewhere", None, 404, "no such resource"),
        ("PATCH", STEEL_PATH, None, 501, None),  # http.server: method not implemented
    ],
)
def test_bad_requests_are_answered_with_a_message_and_the_server_goes_on(
    http, method, path, body, status, message
):
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    answer = http.request(method, path, content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    if message is not None:
        assert message in answer.json()["message"]
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/v1/warehouses/hardware/reservations").json() == {"items": []}  # nothing half-made


def test_a_body_too_large_is_refused(http):
    answer = http.put(
        "/v1/warehouses/hardware/reservations/r1",
        content=b"{" + b" " * (1 << 20) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert http.get("/healthz").status_code == 200


def test_racing_reservations_never_take_more_than_is_on_hand(http, wms_simulator):
    def one(i: int) -> int:
        with httpx.Client(base_url=wms_simulator.url, timeout=10) as client:
            return client.put(
                f"/v1/warehouses/hardware/reservations/r{i}", json=reserve(1, order_no=f"SO-{i}")
            ).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(one, range(40)))
    assert sorted(statuses) == [200] * 10 + [409] * 30
    stock = http.get("/v1/warehouses/hardware/stock", params={"material": STEEL}).json()["items"]
    assert stock == [{"material": STEEL, "unit": "kg", "on_hand": 10.0, "reserved": 10.0, "location": "A-01"}]
    short = http.put("/v1/warehouses/hardware/reservations/late", json=reserve(1)).json()
    assert short["error"] == "short"
    assert short["shortfall"] == [{"material": STEEL, "unit": "kg", "requested": 1.0, "available": 0.0}]


def test_a_reservation_may_be_replayed_or_shrunk_even_after_stock_was_counted_down(http):
    assert http.put("/v1/warehouses/hardware/reservations/r1", json=reserve(8)).json()["changed"] is True
    assert http.put(STEEL_PATH, json={"unit": "kg", "on_hand": 5, "location": "A-01"}).status_code == 200
    assert http.put("/v1/warehouses/hardware/reservations/r1", json=reserve(8)).json()["changed"] is False
    assert http.put("/v1/warehouses/hardware/reservations/r1", json=reserve(6)).status_code == 200
    assert (
        http.put("/v1/warehouses/hardware/reservations/r1", json=reserve(7)).status_code == 409
    )  # growth: checked
    short = http.post("/v1/warehouses/hardware/reservations/r1/issue")
    assert short.status_code == 409 and "not enough on hand to issue" in short.json()["message"]


def test_issue_takes_stock_once_and_an_issued_reservation_cannot_change(http):
    http.put("/v1/warehouses/hardware/reservations/r1", json=reserve(4))
    first = http.post("/v1/warehouses/hardware/reservations/r1/issue").json()
    again = http.post("/v1/warehouses/hardware/reservations/r1/issue").json()
    assert (first["state"], first["changed"], again["state"], again["changed"]) == (
        "issued",
        True,
        "issued",
        False,
    )
    stock = http.get("/v1/warehouses/hardware/stock").json()["items"]
    assert [(s["on_hand"], s["reserved"]) for s in stock] == [(6.0, 0.0)]
    assert http.put("/v1/warehouses/hardware/reservations/r1", json=reserve(4)).json()["changed"] is False
    assert http.put("/v1/warehouses/hardware/reservations/r1", json=reserve(3)).status_code == 409
    assert http.delete("/v1/warehouses/hardware/reservations/r1").status_code == 409
    released = http.delete("/v1/warehouses/hardware/reservations/unknown").json()
    assert (released["state"], released["changed"]) == ("released", False)


def test_faults_switch_on_and_off(http, wms_simulator):
    assert http.post("/_sim/faults", json={"down": True}).json()["down"] is True
    assert http.get("/healthz").status_code == 503
    down = http.get("/v1/warehouses/hardware/stock")
    assert (down.status_code, down.headers["Retry-After"]) == (503, "1")
    http.post("/_sim/faults", json={"down": False, "latency_ms": 150})
    started = time.monotonic()
    assert http.get("/v1/warehouses/hardware/stock").status_code == 200
    assert time.monotonic() - started >= 0.14
    http.post("/_sim/faults", json={"latency_ms": 0, "error_rate": 1})
    assert http.put(STEEL_PATH, json={"unit": "kg", "on_hand": 99}).status_code == 503
    http.post("/_sim/faults", json={"error_rate": 0})
    assert (
        http.get("/v1/warehouses/hardware/stock").json()["items"][0]["on_hand"] == 10.0
    )  # the 503 applied nothing

    # a hung request is held until hang is switched off, then served at once
    http.post("/_sim/faults", json={"hang": True})
    answers: list[int] = []
    held = threading.Thread(
        target=lambda: answers.append(http.get("/v1/warehouses/hardware/stock").status_code)
    )
    held.start()
    time.sleep(0.3)
    assert answers == [] and held.is_alive()
    started = time.monotonic()
    with httpx.Client(base_url=wms_simulator.url) as other:
        assert other.post("/_sim/faults", json={"hang": False}).status_code == 200
    held.join(2)
    assert answers == [200] and time.monotonic() - started < 1.0  # served late, as a slow WMS does
    assert http.get("/_sim/faults").json() == {"latency_ms": 0, "error_rate": 0, "down": False, "hang": False}


def test_stock_and_reservations_survive_a_restart_in_their_file(tmp_path):
    db = str(tmp_path / "wms.db")
    with start_in_thread(db_path=db) as first, httpx.Client(base_url=first.url) as client:
        client.put(STEEL_PATH, json={"unit": "kg", "on_hand": 10})
        client.put("/v1/warehouses/hardware/reservations/r1", json=reserve(3))
    with start_in_thread(db_path=db) as second, httpx.Client(base_url=second.url) as client:
        stock = client.get("/v1/warehouses/hardware/stock").json()["items"]
        assert [(s["material"], s["on_hand"], s["reserved"]) for s in stock] == [(STEEL, 10.0, 3.0)]


def test_the_simulator_runs_as_its_own_process_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.wms_simulator", "--port", "0", "--db", str(tmp_path / "wms.db")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("WMS simulator listening on http://127.0.0.1:"), line
        url = line.split()[4]
        assert httpx.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    bad = subprocess.run(
        [sys.executable, "-m", "services.wms_simulator", "--port", "0", "--error-rate", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "error_rate must be a number from 0 to 1" in bad.stderr


def test_the_embedded_stack_starts_a_simulator_unless_a_wms_is_named(tmp_path):
    from services.chassis.settings import from_env
    from services.embedded import EmbeddedStack

    settings = from_env(
        "embedded", env={"OMS_DATA_DIR": str(tmp_path), "OMS_GRPC_PORT": "0", "OMS_HTTP_PORT": "0"}
    )
    stack = EmbeddedStack(settings)
    stack.start()
    try:
        assert stack.wms is not None
        assert stack.runtime("inventory").settings.wms_url == stack.wms.url
        with httpx.Client(base_url=stack.wms.url) as client:  # inventory seeded the demo materials
            stock = client.get("/v1/warehouses/hardware/stock", params={"material": STEEL}).json()["items"]
        assert [(s["on_hand"], s["location"]) for s in stock] == [(50000.0, "A-01")]
        assert (tmp_path / "wms.db").exists()
    finally:
        stack.stop()
    with pytest.raises(httpx.ConnectError):  # stopped with the stack
        httpx.get(f"{stack.wms.url}/healthz", timeout=2)

    with start_in_thread() as plant:
        named = from_env(
            "embedded",
            env={
                "OMS_DATA_DIR": str(tmp_path),
                "OMS_GRPC_PORT": "0",
                "OMS_HTTP_PORT": "0",
                "OMS_WMS_URL": plant.url,
            },
        )
        stack = EmbeddedStack(named, seed=False)
        try:
            assert stack.wms is None
            assert stack.runtime("inventory").settings.wms_url == plant.url
        finally:
            stack.stop()


def test_the_distributed_stack_runs_the_simulator_as_a_process_unless_a_wms_is_named(tmp_path, monkeypatch):
    from services.stack import WMS, DistributedStack, free_port_offset

    monkeypatch.delenv("OMS_WMS_URL", raising=False)

    stack = DistributedStack(port_offset=free_port_offset(range(2000, 3000, 100)), log_dir=tmp_path)
    assert stack.env_for("inventory")["OMS_WMS_URL"] == stack.wms_url
    try:
        stack.start_wms()
        assert httpx.get(f"{stack.wms_url}/healthz", timeout=5).json() == {"status": "ok"}
        stack.kill(WMS)
        stack.start(WMS)  # as the fault suite restarts a crashed process
        assert httpx.get(f"{stack.wms_url}/healthz", timeout=5).status_code == 200
    finally:
        stack.down()
    assert (tmp_path / "wms.db").exists()

    named = DistributedStack(log_dir=tmp_path, extra_env={"OMS_WMS_URL": "http://wms.plant.local:8080"})
    named.start_wms()
    assert named.processes == {}
    assert named.env_for("inventory")["OMS_WMS_URL"] == "http://wms.plant.local:8080"
