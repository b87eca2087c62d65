"""The HTTP/JSON edge against its own OpenAPI document (issue #19): schemathesis fuzzes every
operation of a running embedded stack's edge with generated requests, valid and invalid, as an
admin (who may call every staff RPC: services/permissions.py). Whatever it sends, the edge must
answer without a server error (5xx) or a 429, with a content type the document declares, and with
a body the document's schema describes (the 200 message, the Connect error, or the empty 415).

Status codes are not checked against the document: every operation declares 200 and `default`
(the Connect error), so any code conforms. Generated ids name no row, so most calls end in
400/404/412 answers; what is checked is that those answers, and the 200s, are what the document
says they are. The fuzzed tenant holds data first (`edge_url`), so list and read answers carry
real orders, work orders, notices and review items, not only empty lists.

The document is the one the live edge serves at /openapi.json (`test_the_fuzzed_document_is_the_served_one`
reads it with schemathesis.openapi.from_url and compares). The operations are parametrized from
the same generator at collection time, because the stack only exists once a test runs, and
schemathesis' lazy loader (`schemathesis.pytest.from_fixture`, 4.32.5) fails under pytest 9.2
(it writes `Function._nodeid`, which pytest 9.2 no longer has). Parametrizing eagerly also makes
each operation its own test item, failing (and re-runnable with -k) on its own.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from services.edge.catalog import public_services
from services.edge.openapi import openapi_document
from tests.e2e import change_scenario, ingest_scenario, production_scenario, scenario
from tests.e2e.scenario import Caller
from tests.e2e.test_embedded import embedded as embedded  # the same stack fixture, started for this module
from tests.e2e.test_embedded import marketplace as marketplace  # the simulator it pulls from

pytestmark = pytest.mark.e2e

ADMIN = Caller("hardware", "contract-fuzzer", ("admin",))


# What may wait: failed sign-ins (and password checks) for one name, throttled by identity.
THROTTLED = ("/oms.identity.v1.IdentityService/SignIn", "/oms.identity.v1.IdentityService/ChangePassword")


def not_resource_exhausted(ctx, response, case) -> None:
    """Nothing else in the stack limits a caller's rate, and no generated request nears the 12 MiB
    request limit, so a 429 (resource_exhausted) here is an answer lost on the way: a backend's
    error too large for a gRPC channel's metadata limit came back as "Stream removed". The
    sign-in throttle's 429 says how long to wait (RetryInfo)."""
    if response.status_code != 429:
        return
    waits = [d for d in response.json().get("details", []) if d.get("type") == "google.rpc.RetryInfo"]
    assert case.path in THROTTLED and waits, f"429 resource_exhausted: {response.text[:300]}"


CHECKS = [not_a_server_error, not_resource_exhausted, content_type_conformance, response_schema_conformance]
# Small and repeatable, the same cases every run: Hypothesis derandomized, no example database (no
# run depends on an earlier one). The coverage phase adds schemathesis' boundary and
# missing-body cases to the random ones. Hypothesis' too_slow health check times data
# generation, which on a busy 2-core CI machine says more about the machine than the schema.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": 20, "deterministic": True, "database": "none"},
        "phases": {"coverage": {"enabled": True}},
        "suppress-health-check": ["too_slow"],
        "request-timeout": 30,
    }
)
# Excluded, each for a reason; everything else is fuzzed:
# - PullShop calls the marketplace simulator (an outside platform in production) for every case,
#   and a generated pull would fetch and turn its pending orders into orders; it is covered by
#   the marketplace scenario (ingest_scenario.check_marketplace_pulls, run here too, below).
EXCLUDED = ["IngestService_PullShop"]

# As the edge serializes it (JSON), so the fuzzed document is exactly the served one.
DOCUMENT = json.loads(json.dumps(openapi_document(public_services()), ensure_ascii=False))
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).exclude(operation_id=EXCLUDED)


@pytest.fixture(scope="module")
def edge_url(embedded, marketplace, http_port) -> str:
    """The edge of a stack whose fuzzed tenant has data: orders in several states with batches,
    changes and revisions, work orders, batch tasks, reservations, notices, contract prices,
    marketplace runs and review items (the other e2e modules' scenarios, run as they are)."""
    api, _ = embedded
    scenario.run_skeleton_flow(api)
    change_scenario.check_change_control(api)
    change_scenario.check_delivery_batches(api)
    change_scenario.check_a_new_contract_price_reaches_the_next_order(api)
    production_scenario.check_same_configuration_orders_merge_and_a_changed_rule_is_dry_run(api)
    ingest_scenario.check_marketplace_pulls(api, marketplace.url)
    return f"http://127.0.0.1:{http_port}"


@pytest.fixture(scope="module")
def admin_headers() -> dict[str, str]:
    return dict(ADMIN.metadata())


def test_the_fuzzed_document_is_the_served_one(edge_url):
    served = schemathesis.openapi.from_url(f"{edge_url}/openapi.json", config=CONFIG)
    assert served.raw_schema == DOCUMENT
    assert len(DOCUMENT["paths"]) == sum(len(s.methods) for s in public_services())


@schema.parametrize()
def test_every_operation_answers_as_its_document_says(case, edge_url, admin_headers):
    case.call_and_validate(base_url=edge_url, headers=admin_headers, checks=CHECKS)
