"""gRPC channels to other services: the caller's identity travels as a fresh signed token, the
trace context via the OpenTelemetry client interceptor."""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext

from services.chassis import identity
from services.chassis.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, Unavailable


class _Credentials(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, secret: str):
        self._secret = secret

    def intercept_unary_unary(self, continuation, client_call_details, request):
        caller = identity.current()
        token = identity.issue_token(
            self._secret,
            caller.tenant_id,
            caller.user,
            caller.roles,
            customer_id=caller.customer_id,
            ttl_s=300,
        )
        metadata = [*(client_call_details.metadata or []), ("authorization", f"Bearer {token}")]
        details = (
            client_call_details._replace(metadata=metadata)
            if hasattr(client_call_details, "_replace")
            else _Details(client_call_details, metadata)
        )
        return continuation(details, request)


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
}


def remote_error(exc: grpc.RpcError, what: str) -> DomainError:
    """Translate a peer's failure into this service's terms (never re-raise a raw RpcError)."""
    cls = _REMOTE_ERRORS.get(exc.code(), Unavailable)
    return cls(f"{what}: {exc.details()}")
