"""gRPC channels to other services: the caller's identity travels as a signed token, the
trace context via the OpenTelemetry client interceptor."""

from __future__ import annotations

import time

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext

from services.chassis import identity
from services.chassis.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
    VersionConflict,
)


class _Credentials(grpc.UnaryUnaryClientInterceptor):
    """Sends the current caller's identity as a token signed here, reused until near expiry."""

    TTL_S = 300

    def __init__(self, secret: str):
        self._secret = secret
        self._tokens: dict[identity.Identity, tuple[str, float]] = {}

    def _token_for(self, caller: identity.Identity) -> str:
        token, renew_at = self._tokens.get(caller, ("", 0.0))
        if time.monotonic() >= renew_at:
            token = identity.issue_token(
                self._secret,
                caller.tenant_id,
                caller.user,
                caller.roles,
                customer_id=caller.customer_id,
                ttl_s=self.TTL_S,
            )
            if len(self._tokens) > 4096:
                self._tokens.clear()
            self._tokens[caller] = (token, time.monotonic() + self.TTL_S / 2)
        return token

    def intercept_unary_unary(self, continuation, client_call_details, request):
        token = self._token_for(identity.current())
        metadata = [*(client_call_details.metadata or []), ("authorization", f"Bearer {token}")]
        return continuation(_Details(client_call_details, metadata), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base, metadata):
        self.method = base.method
        self.timeout = base.timeout
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)
        self.metadata = metadata


def channel_to(address: str, jwt_secret: str) -> grpc.Channel:
    traced = grpcext.intercept_channel(grpc.insecure_channel(address), client_interceptor())
    return grpc.intercept_channel(traced, _Credentials(jwt_secret))


_REMOTE_ERRORS = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.ABORTED: VersionConflict,
    # Our own credentials were refused: a misconfiguration, not something a retry fixes.
    grpc.StatusCode.UNAUTHENTICATED: PermissionDenied,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    # The peer is down, overloaded or too slow: the caller may retry.
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: Unavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Unavailable,
    grpc.StatusCode.CANCELLED: Unavailable,
    # The peer failed: retrying the same call will not help.
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.UNKNOWN: Internal,
    grpc.StatusCode.UNIMPLEMENTED: Internal,
    grpc.StatusCode.DATA_LOSS: Internal,
}


def remote_error(exc: grpc.RpcError, what: str) -> DomainError:
    """Translate a peer's failure into this service's terms (never re-raise a raw RpcError),
    keeping its meaning: the same class of status, and the fields it named."""
    code = exc.code() if callable(getattr(exc, "code", None)) else None
    cls = _REMOTE_ERRORS.get(code, Internal)
    message = f"{what}: {exc.details() if callable(getattr(exc, 'details', None)) else exc}"
    if cls is InvalidArgument:
        return InvalidArgument(message, _field_violations(exc))
    return cls(message)


def _field_violations(exc: grpc.RpcError) -> list[FieldViolation]:
    """The peer's BadRequest details, so a caller is told which of its fields to fix."""
    try:
        status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    except (ValueError, AttributeError):
        return []
    out = []
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out += [FieldViolation(v.field, v.description) for v in bad.field_violations]
    return out
