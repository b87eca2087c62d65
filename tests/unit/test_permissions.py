"""The permission table (services/permissions.py) covers every RPC of every proto, and the chassis
interceptor enforces it before anything else runs: for each RPC, a real gRPC server with the
real interceptor refuses every caller without one of its roles (PERMISSION_DENIED) and lets
each role it names through."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

import oms
from services import permissions
from services.chassis.identity import Identity, KeySet, TokenVerifier
from services.chassis.interceptors import ChassisInterceptor
from services.permissions import ADMIN, PORTAL_ROLE, ROLES
from tests.unit.keys import TestIssuer, write_jwks

STAFF_ROLES = [r for r in ROLES if r not in (ADMIN, PORTAL_ROLE)]
CUSTOMER = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def generated_services() -> Iterator[tuple[object, object]]:
    """(service descriptor, its _pb2_grpc module) for every service in every generated proto."""
    for info in pkgutil.walk_packages(oms.__path__, "oms."):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(info.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            yield service, importlib.import_module(info.name + "_grpc")


SERVICES = list(generated_services())
ALL_RPCS = sorted(
    f"/{service.full_name}/{method.name}" for service, _ in SERVICES for method in service.methods
)
# Sign-in, refresh and sign-out need no token: the request is the proof (tested below).
OPEN_RPCS = [rpc for rpc in ALL_RPCS if getattr(permissions.rule_for(rpc), "open", False)]
RPCS = [rpc for rpc in ALL_RPCS if rpc not in OPEN_RPCS]


def test_the_generated_protos_were_found():
    assert {s.full_name for s, _ in SERVICES} >= {
        "oms.customer.v1.CustomerService",
        "oms.order.v1.OrderService",
        "oms.production.v1.ProductionService",
        "oms.inventory.v1.InventoryService",
        "oms.ingest.v1.IngestService",
        "oms.notify.v1.NotifyService",
    }


def test_every_rpc_has_a_permission_entry():
    missing = [rpc for rpc in ALL_RPCS if permissions.rule_for(rpc) is None]
    assert missing == [], f"add these to services/permissions.py: {missing}"


def test_every_permission_entry_is_a_real_rpc():
    listed = {f"/{s}/{rpc}" for s, rpcs in permissions.PERMISSIONS.items() for rpc in rpcs}
    assert sorted(listed - set(ALL_RPCS)) == [], "entries for RPCs no proto declares"


def test_no_rule_admits_a_staff_token_through_the_portal_role():
    """`customer` is what a portal account holds; a staff token carrying it names no customer
    and must not read a whole tenant with it."""
    for rpc in RPCS:
        assert PORTAL_ROLE not in permissions.rule_for(rpc).roles, rpc
        assert not permissions.rule_for(rpc).allows(Identity("hardware", "x", frozenset({PORTAL_ROLE}))), rpc


# --- through the real interceptor ---------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer("permissions-test")


@pytest.fixture(scope="module")
def channel(issuer, tmp_path_factory) -> Iterator[grpc.Channel]:
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", issuer)
    verifier = TokenVerifier(KeySet(str(jwks)))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=[ChassisInterceptor(verifier, ["hardware"])]
    )
    for service, grpc_module in SERVICES:
        name = service.name
        servicer = getattr(grpc_module, f"{name}Servicer")()  # every method answers UNIMPLEMENTED
        getattr(grpc_module, f"add_{name}Servicer_to_server")(servicer, server)
    unlisted = grpc.unary_unary_rpc_method_handler(lambda request, context: b"")
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("oms.unlisted.v1.UnlistedService", {"Do": unlisted})]
    )
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(0)


def call(channel: grpc.Channel, rpc: str, token: str | None) -> grpc.StatusCode:
    """Call `rpc` with an empty request (raw bytes: any message type parses them)."""
    metadata = [("authorization", f"Bearer {token}")] if token is not None else []
    try:
        channel.unary_unary(rpc)(b"", metadata=metadata, timeout=10)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


# Past the permission check, an empty request is refused by validation or reaches the base
# servicer (UNIMPLEMENTED): either way the caller was let through.
LET_THROUGH = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.OK}


@pytest.mark.parametrize("rpc", RPCS)
def test_a_caller_without_one_of_the_roles_is_permission_denied(channel, issuer, rpc):
    rule = permissions.rule_for(rpc)
    denied = {
        "no roles": issuer.mint("hardware", "nobody", []),
        "every other staff role": issuer.mint(
            "hardware", "x", [r for r in STAFF_ROLES if r not in rule.roles]
        ),
        "the portal role without a customer": issuer.mint("hardware", "x", [PORTAL_ROLE]),
        **{f"only {r}": issuer.mint("hardware", "x", [r]) for r in STAFF_ROLES if r not in rule.roles},
    }
    if not rule.portal:
        denied["a portal account"] = issuer.mint("hardware", "p", [PORTAL_ROLE], customer_id=CUSTOMER)
        denied["a portal account claiming admin"] = issuer.mint(
            "hardware", "p", [PORTAL_ROLE, ADMIN], customer_id=CUSTOMER
        )
    outcomes = {who: call(channel, rpc, token) for who, token in denied.items()}
    assert outcomes == dict.fromkeys(denied, grpc.StatusCode.PERMISSION_DENIED)


@pytest.mark.parametrize("rpc", RPCS)
def test_each_role_of_the_rule_and_admin_are_let_through(channel, issuer, rpc):
    rule = permissions.rule_for(rpc)
    allowed = {f"only {r}": issuer.mint("hardware", "x", [r]) for r in sorted(rule.roles)}
    allowed["admin"] = issuer.mint("hardware", "root", [ADMIN])
    if rule.portal:
        allowed["a portal account"] = issuer.mint("hardware", "p", [PORTAL_ROLE], customer_id=CUSTOMER)
    for who, token in allowed.items():
        assert call(channel, rpc, token) in LET_THROUGH, who


@pytest.mark.parametrize("rpc", RPCS)
def test_without_a_valid_token_it_is_unauthenticated_before_any_permission_check(channel, rpc):
    assert call(channel, rpc, None) == grpc.StatusCode.UNAUTHENTICATED
    assert call(channel, rpc, TestIssuer("untrusted").mint("hardware", "m", [ADMIN])) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


def test_only_sign_in_refresh_and_sign_out_need_no_token():
    assert OPEN_RPCS == [
        "/oms.identity.v1.IdentityService/RefreshSession",
        "/oms.identity.v1.IdentityService/SignIn",
        "/oms.identity.v1.IdentityService/SignOut",
    ]


@pytest.mark.parametrize("rpc", OPEN_RPCS)
def test_an_open_rpc_is_let_through_without_a_token_and_still_validated(channel, rpc):
    assert call(channel, rpc, None) == grpc.StatusCode.INVALID_ARGUMENT  # the empty request


def test_an_rpc_missing_from_the_table_is_refused_even_to_admin(channel, issuer):
    rpc = "/oms.unlisted.v1.UnlistedService/Do"
    assert call(channel, rpc, issuer.mint("hardware", "root", [ADMIN])) == grpc.StatusCode.PERMISSION_DENIED


def test_health_stays_open(channel):
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
