"""What a failure means survives the trip: a peer's field violations reach our caller with their
field names, a peer's INTERNAL stays INTERNAL (no retry fixes it), an unreachable peer or a
restarting database is UNAVAILABLE (retry in a moment)."""

from __future__ import annotations

from concurrent import futures

import grpc
import psycopg
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from sqlalchemy import exc as sa_exc

from services.chassis.client import remote_error
from services.chassis.errors import (
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    Unavailable,
)
from services.chassis.interceptors import status_code_for, storage_error


def _bad_request() -> status_pb2.Status:
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="lines[0].colour", description="'紫色' is not in this business line's list"
                )
            ]
        )
    )
    return status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT, message="order lines use values outside", details=[detail]
    )


ANSWERS = {
    "invalid": lambda ctx: ctx.abort_with_status(rpc_status.to_status(_bad_request())),
    "internal": lambda ctx: ctx.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log"),
    "precondition": lambda ctx: ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "order is APPROVED"),
    "unavailable": lambda ctx: ctx.abort(grpc.StatusCode.UNAVAILABLE, "database restarting"),
}


@pytest.fixture(scope="module")
def peer():
    def handle(request: bytes, context):
        ANSWERS[request.decode()](context)

    handler = grpc.method_handlers_generic_handler(
        "test.Peer", {"Call": grpc.unary_unary_rpc_method_handler(handle)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary("/test.Peer/Call")
    yield lambda what: call(what.encode(), timeout=5)
    channel.close()
    server.stop(0)


def failure(call, what: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(what)
    return caught.value


def test_a_peers_field_violations_keep_their_field_names(peer):
    error = remote_error(failure(peer, "invalid"), "order service")

    assert isinstance(error, InvalidArgument)
    assert error.violations == [
        FieldViolation("lines[0].colour", "'紫色' is not in this business line's list")
    ]


def test_a_peers_internal_error_is_not_turned_into_retry_later(peer):
    error = remote_error(failure(peer, "internal"), "order service")

    assert isinstance(error, Internal) and status_code_for(error) == grpc.StatusCode.INTERNAL


@pytest.mark.parametrize(
    ("what", "cls"), [("precondition", FailedPrecondition), ("unavailable", Unavailable)]
)
def test_other_codes_keep_their_class(peer, what, cls):
    assert isinstance(remote_error(failure(peer, what), "peer"), cls)


def test_an_unreachable_peer_is_unavailable():
    with grpc.insecure_channel("127.0.0.1:1") as channel, pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/test.Peer/Call")(b"x", timeout=2)
    assert isinstance(remote_error(caught.value, "customer service"), Unavailable)


def _wrapped(orig: Exception, cls=sa_exc.OperationalError) -> sa_exc.DBAPIError:
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "orig",
    [
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is shutting down"),
        psycopg.OperationalError("connection failed: Connection refused"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ],
    ids=["admin-shutdown", "shutting-down", "refused", "serialization"],
)
def test_a_database_that_is_away_for_a_moment_is_unavailable(orig):
    cls = (
        sa_exc.DBAPIError
        if isinstance(orig, psycopg.errors.SerializationFailure)
        else sa_exc.OperationalError
    )
    assert isinstance(storage_error(_wrapped(orig, cls)), Unavailable)


def test_sqlite_busy_is_unavailable_but_a_missing_table_is_a_bug():
    import sqlite3

    assert isinstance(storage_error(_wrapped(sqlite3.OperationalError("database is locked"))), Unavailable)
    assert storage_error(_wrapped(sqlite3.OperationalError("no such table: orders"))) is None


def test_a_value_the_database_refuses_is_invalid_argument_and_a_bug_stays_a_bug():
    nul = sa_exc.DataError("INSERT", {}, psycopg.errors.DataError("A string literal cannot contain NUL"))
    assert isinstance(storage_error(nul), InvalidArgument)
    assert storage_error(ZeroDivisionError()) is None
    unique = sa_exc.IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("duplicate key"))
    assert storage_error(unique) is None
