"""End to end in embedded mode: `python -m services` as a real process on SQLite files and the
in-process bus, driven through its public gRPC API only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.catalog import NAMES
from services.chassis.tenants import load_tenants
from services.marketplace_simulator import dev as marketplace_dev
from services.marketplace_simulator.server import start_in_thread as start_marketplace
from tests.e2e import (
    alerts_scenario,
    change_scenario,
    customer_scenario,
    entry_scenario,
    http_scenario,
    ingest_scenario,
    production_scenario,
    scenario,
    signin_scenario,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def marketplace():
    """The marketplace simulator with the tenants' shops, in this process so the scenario can put
    orders into it; the stack pulls from it (OMS_MARKETPLACE_URL) with its dev credentials."""
    tenants = load_tenants(("hardware", "autoparts")).values()
    with start_marketplace(0, shops=marketplace_dev.tenant_shops(tenants)) as sim:
        yield sim


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, marketplace, channels, http_port):
    data = tmp_path_factory.mktemp("embedded")
    port = free_port()
    env = dict(
        os.environ,
        OMS_DATA_DIR=str(data),
        OMS_GRPC_PORT=str(port),
        OMS_HTTP_PORT=str(http_port),
        OMS_MARKETPLACE_URL=marketplace.url,
        OMS_DUE_CHECK_S="1",  # the due-date check every second, for the alerts scenario
        **channels.env(),
    )
    marketplace_dev.export_credentials(load_tenants(("hardware", "autoparts")).values(), env)
    env.pop("OMS_WMS_URL", None)  # the stack's own WMS simulator, never a WMS a developer's shell names
    log = open(data / "stack.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "services"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    addr = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    with grpc.insecure_channel(addr) as ch:
        while True:
            assert proc.poll() is None, (data / "stack.log").read_text()
            try:
                if (
                    health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == 1
                ):
                    break
            except grpc.RpcError:
                pass
            assert time.monotonic() < deadline, "embedded stack did not become healthy"
            time.sleep(0.2)
    api = scenario.Api(dict.fromkeys(NAMES, addr))
    yield api, data
    api.close()
    proc.terminate()  # SIGTERM: health goes NOT_SERVING, calls drain, relays stop, exit 0
    assert proc.wait(15) == 0, (data / "stack.log").read_text()[-2000:]
    log.close()


def test_skeleton_flow(embedded):
    api, data = embedded
    scenario.check_walking_skeleton(api)
    # each service owns its own SQLite file; the WMS simulator standing in for the plant's WMS too
    assert {p.name for p in data.glob("*.db")} == {f"{name}.db" for name in NAMES} | {"wms.db"}


def test_order_lifecycle(embedded):
    scenario.check_order_lifecycle(embedded[0])


def test_customers(embedded):
    customer_scenario.check_customers(embedded[0])


def test_order_entry_rules(embedded):
    entry_scenario.check_order_entry_rules(embedded[0])


def test_delivery_batches(embedded):
    change_scenario.check_delivery_batches(embedded[0])


def test_a_new_contract_price_reaches_the_next_order(embedded):
    change_scenario.check_a_new_contract_price_reaches_the_next_order(embedded[0])


def test_change_control(embedded):
    change_scenario.check_change_control(embedded[0])


def test_malformed_request(embedded):
    scenario.check_malformed_request_is_refused(embedded[0])


def test_phone_orders_are_idempotent(embedded):
    api, _ = embedded
    result = scenario.run_skeleton_flow(api)
    scenario.check_phone_order_is_idempotent(api, result["order"].customer_id)
    ingest_scenario.check_phone_form_with_a_contract_scan(api, result["order"].customer_id)


def test_an_agent_spreadsheet_makes_its_good_rows_orders_once_and_reports_the_bad(embedded):
    ingest_scenario.check_agent_spreadsheet(embedded[0])


def test_marketplace_pulls_make_each_order_once_and_fill_the_review_queue(embedded, marketplace):
    ingest_scenario.check_marketplace_pulls(embedded[0], marketplace.url)


def test_same_configuration_orders_merge_and_a_changed_rule_is_dry_run(embedded):
    production_scenario.check_same_configuration_orders_merge_and_a_changed_rule_is_dry_run(embedded[0])


def test_an_order_over_fifty_thousand_locks_its_materials(embedded):
    production_scenario.check_an_order_over_fifty_thousand_locks_its_materials(embedded[0])


def test_a_colour_change_freezes_revises_and_moves_the_reservation(embedded):
    production_scenario.check_a_colour_change_freezes_revises_and_moves_the_reservation(embedded[0])


def test_a_work_order_due_soon_warns_once_and_is_withdrawn_once_it_finishes(embedded, channels):
    alerts_scenario.check_a_work_order_due_soon_warns_once_and_is_withdrawn_once_it_finishes(
        embedded[0], channels
    )


def test_the_http_json_api_through_the_edge(embedded, http_port):
    http_scenario.check_the_http_api(f"http://127.0.0.1:{http_port}")


def test_sign_in_sessions_and_throttling_through_the_edge(embedded, http_port):
    signin_scenario.check_sign_in(f"http://127.0.0.1:{http_port}")
