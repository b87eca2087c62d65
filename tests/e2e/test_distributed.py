"""End to end in distributed mode: six service processes on their own PostgreSQL databases,
RabbitMQ between them, notify's consumer under `nameko run`."""

from __future__ import annotations

import urllib.request
import uuid

import pytest

from services.catalog import NAMES
from services.stack import DistributedStack
from tests.e2e import scenario

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(postgres, rabbitmq, vhost, tmp_path_factory):
    s = DistributedStack(
        pg_dsn=postgres,
        db_prefix=f"oms_e2e_{uuid.uuid4().hex[:6]}",
        amqp_base=rabbitmq,
        vhost=vhost,
        port_offset=1000,
        log_dir=tmp_path_factory.mktemp("stack-logs"),
    )
    s.create_databases(drop=True)
    try:
        s.up()
        api = scenario.Api({name: s.address(name) for name in NAMES})
        yield s, api
        api.close()
    finally:
        s.down()
        s.drop_databases()


def test_skeleton_flow(stack):
    s, api = stack
    result = scenario.run_skeleton_flow(api)
    assert result["visible_after_s"] < 2.0
    scenario.check_tenants_and_customers_are_isolated(
        api, result["order"].order_id, result["order"].customer_id
    )
    scenario.check_omsctl_reads_back(
        {name: s.address(name) for name in NAMES},
        result["order"].order_id,
        {w.work_order_no for w in result["work_orders"]},
    )


def test_malformed_request(stack):
    scenario.check_malformed_request_is_refused(stack[1])


def test_phone_orders_are_idempotent(stack):
    _s, api = stack
    result = scenario.run_skeleton_flow(api)
    scenario.check_phone_order_is_idempotent(api, result["order"].customer_id)


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def test_services_expose_prometheus_metrics(stack):
    s, api = stack
    scenario.run_skeleton_flow(api)
    order = scrape(s.metrics_ports["order"])
    assert 'oms_grpc_server_handled_total{code="OK",method="ApproveOrder",service="order"}' in order
    assert 'oms_outbox_published_total{service="order"}' in order
    production = scrape(s.metrics_ports["production"])
    assert 'consumer="production.create_work_orders",event_type="order_approved",outcome="ok"' in production
    worker = scrape(s.metrics_ports["notify-worker"])  # the nameko worker counts what it handled
    assert 'event_type="work_order_created",outcome="ok"' in worker
