"""End to end in distributed mode: six service processes on their own PostgreSQL databases,
RabbitMQ between them, notify's consumer under `nameko run`."""

from __future__ import annotations

import time
import urllib.request
import uuid

import pytest

from services.catalog import NAMES
from services.stack import DistributedStack, free_port_offset
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

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(postgres, rabbitmq, vhost, tmp_path_factory, channels):
    s = DistributedStack(
        pg_dsn=postgres,
        db_prefix=f"oms_e2e_{uuid.uuid4().hex[:6]}",
        amqp_base=rabbitmq,
        vhost=vhost,
        # the first block free now: a service's own client sockets take ephemeral ports in this range
        port_offset=free_port_offset(range(1000, 2000, 100)),
        log_dir=tmp_path_factory.mktemp("stack-logs"),
        # the due-date check every second (alerts scenario); the plant's channels
        extra_env={"OMS_DUE_CHECK_S": "1", **channels.env()},
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
    scenario.check_walking_skeleton(stack[1])


def test_order_lifecycle(stack):
    scenario.check_order_lifecycle(stack[1])


def test_customers(stack):
    customer_scenario.check_customers(stack[1])


def test_order_entry_rules(stack):
    entry_scenario.check_order_entry_rules(stack[1])


def test_delivery_batches(stack):
    change_scenario.check_delivery_batches(stack[1])


def test_a_new_contract_price_reaches_the_next_order(stack):
    change_scenario.check_a_new_contract_price_reaches_the_next_order(stack[1])


def test_change_control(stack):
    change_scenario.check_change_control(stack[1])


def test_malformed_request(stack):
    scenario.check_malformed_request_is_refused(stack[1])


def test_phone_orders_are_idempotent(stack):
    _s, api = stack
    result = scenario.run_skeleton_flow(api)
    scenario.check_phone_order_is_idempotent(api, result["order"].customer_id)
    ingest_scenario.check_phone_form_with_a_contract_scan(api, result["order"].customer_id)


def test_an_agent_spreadsheet_makes_its_good_rows_orders_once_and_reports_the_bad(stack):
    ingest_scenario.check_agent_spreadsheet(stack[1])


def test_marketplace_pulls_make_each_order_once_and_fill_the_review_queue(stack):
    s, api = stack
    ingest_scenario.check_marketplace_pulls(api, s.marketplace_url)  # the stack's simulator process


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


def test_work_orders_wait_for_production_while_it_is_down(stack):
    """Nothing lost: approvals made while production is stopped are waiting in its queue and
    become work orders when it comes back."""
    from oms.customer.v1 import customer_pb2
    from oms.order.v1 import order_pb2
    from oms.production.v1 import production_pb2

    s, api = stack
    md = scenario.Caller("hardware").metadata()
    customer = api.customers.ListCustomers(customer_pb2.ListCustomersRequest(), metadata=md).customers[0]
    s.stop("production")
    approved = []
    for _ in range(3):
        order = api.orders.CreateOrder(
            order_pb2.CreateOrderRequest(
                customer_id=customer.customer_id,
                channel=order_pb2.CHANNEL_AGENT,
                due_date=scenario.due(),
                lines=[scenario.line(qty=100)],
            ),
            metadata=md,
        ).order
        api.orders.ApproveOrder(order_pb2.ApproveOrderRequest(order_id=order.order_id), metadata=md)
        approved.append(order.order_id)
    s.start("production")
    deadline = time.monotonic() + 10
    while True:
        found = [
            api.production.ListWorkOrders(
                production_pb2.ListWorkOrdersRequest(order_id=oid), metadata=md
            ).work_orders
            for oid in approved
        ]
        if all(len(w) == 3 for w in found):  # HB-2040: stamping-1 → plating → assembly
            break
        assert time.monotonic() < deadline, f"work orders after restart: {[len(w) for w in found]}"
        time.sleep(0.1)


def test_same_configuration_orders_merge_and_a_changed_rule_is_dry_run(stack):
    production_scenario.check_same_configuration_orders_merge_and_a_changed_rule_is_dry_run(stack[1])


def test_an_order_over_fifty_thousand_locks_its_materials(stack):
    production_scenario.check_an_order_over_fifty_thousand_locks_its_materials(stack[1])


def test_a_colour_change_freezes_revises_and_moves_the_reservation(stack):
    production_scenario.check_a_colour_change_freezes_revises_and_moves_the_reservation(stack[1])


def test_a_work_order_due_soon_warns_once_and_is_withdrawn_once_it_finishes(stack, channels):
    alerts_scenario.check_a_work_order_due_soon_warns_once_and_is_withdrawn_once_it_finishes(
        stack[1], channels
    )


def test_the_http_json_api_through_the_edge(stack):
    http_scenario.check_the_http_api(f"http://127.0.0.1:{stack[0].http_port}")


def test_sign_in_sessions_and_throttling_through_the_edge(stack):
    signin_scenario.check_sign_in(f"http://127.0.0.1:{stack[0].http_port}")
