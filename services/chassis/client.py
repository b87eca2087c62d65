"""gRPC channels to other services: the caller's own token travels on (services cannot sign
tokens), the trace context via the OpenTelemetry client interceptor."""

from __future__ import annotations

import json
import os

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext

from services.chassis import deadlines, identity
from services.chassis.errors import (
    AlreadyExists,
    DeadlineExceeded,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    VersionConflict,
)
from services.chassis.server import MAX_MESSAGE_BYTES


class ServiceTokens:
    """Tokens the issuer minted for this service, one per tenant, from a JSON file
    (`{"hardware": "<jwt>", ...}`, OMS_SERVICE_TOKEN_FILE; `make setup` writes dev ones). Read
    when first needed and again when the file changes (a renewed token). The service cannot make
    them itself: it holds no private key."""

    def __init__(self, path: str):
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._tokens: dict[str, str] = {}

    def for_tenant(self, tenant_id: str) -> str:
        if not self.path:
            raise Unauthenticated(
                "no token to call another service with: this call is not part of a request, and "
                "OMS_SERVICE_TOKEN_FILE is not set"
            )
        try:
            stat = os.stat(self.path)
            if (stat.st_mtime, stat.st_size) != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    tokens = json.load(f)
                if not isinstance(tokens, dict):
                    raise ValueError("not a JSON object of tenant -> token")
                self._tokens, self._stamp = tokens, (stat.st_mtime, stat.st_size)
        except (OSError, ValueError) as exc:
            raise Unauthenticated(f"OMS_SERVICE_TOKEN_FILE={self.path} cannot be read: {exc}") from None
        token = self._tokens.get(tenant_id)
        if not isinstance(token, str) or not token:
            raise Unauthenticated(
                f"OMS_SERVICE_TOKEN_FILE={self.path} has no service token for {tenant_id!r}"
            )
        return token


class _Credentials(grpc.UnaryUnaryClientInterceptor):
    """Presents the current caller's own token: the one the request being served came with, so
    the callee sees (and checks the roles of) the original user, never a token re-signed here.
    Outside a request (an event consumer acting as its service) it presents the service token
    the issuer minted for the tenant."""

    def __init__(self, service_tokens: ServiceTokens):
        self._service_tokens = service_tokens

    def intercept_unary_unary(self, continuation, client_call_details, request):
        token = identity.current_token() or self._service_tokens.for_tenant(identity.current().tenant_id)
        metadata = [*(client_call_details.metadata or []), ("authorization", f"Bearer {token}")]
        return continuation(_Details(client_call_details, metadata), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base, metadata, timeout: float | None = None):
        self.method = base.method
        self.timeout = base.timeout if timeout is None else timeout
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)
        self.metadata = metadata


class _Deadline(grpc.UnaryUnaryClientInterceptor):
    """The call gets what is left of the deadline of the call being served (less a margin for the
    answer to travel back), or DEFAULT_TIMEOUT_S outside a call: never a fixed timeout per hop."""

    MARGIN_S = 0.02

    def intercept_unary_unary(self, continuation, client_call_details, request):
        timeout = client_call_details.timeout or DEFAULT_TIMEOUT_S
        left = deadlines.remaining()
        if left is not None:
            if left <= self.MARGIN_S:
                raise DeadlineExceeded(f"no time left to call {_peer(client_call_details.method)}")
            timeout = min(timeout, left - self.MARGIN_S)
        details = _Details(client_call_details, client_call_details.metadata, timeout=timeout)
        return continuation(details, request)


class _Translate(grpc.UnaryUnaryClientInterceptor):
    """A peer's failure becomes this service's domain error, once, here: its class of status and
    the fields it named are kept (see remote_error); adapters never see a raw RpcError."""

    def intercept_unary_unary(self, continuation, client_call_details, request):
        try:
            outcome = continuation(client_call_details, request)
            failure = outcome.exception()
        except grpc.RpcError as exc:
            failure = exc
        if isinstance(failure, DomainError):  # refused before leaving (no token, no time left)
            raise failure
        if failure is not None:
            raise remote_error(failure, _peer(client_call_details.method)) from None
        return outcome


def _peer(method: str) -> str:
    """'/oms.customer.v1.CustomerService/GetCustomer' -> 'customer service (GetCustomer)'."""
    service, _, rpc = method.lstrip("/").rpartition("/")
    parts = service.split(".")
    return f"{parts[1] if len(parts) > 2 else service} service ({rpc})"


DEFAULT_TIMEOUT_S = 10.0  # a call made outside any request (an event consumer) still ends
READ_PREFIXES = ("Get", "List", "Check")  # idempotent reads: retried on UNAVAILABLE by gRPC itself


def retry_config(methods: list[str]) -> str:
    """gRPC service config: reads among `methods` ('/pkg.Service/Rpc') are retried, with back-off,
    when the peer is UNAVAILABLE (a pod restarting); writes are never retried here (the caller
    decides, with its idempotency key)."""
    names = []
    for method in methods:
        service, _, rpc = method.lstrip("/").rpartition("/")
        if rpc.startswith(READ_PREFIXES):
            names.append({"service": service, "method": rpc})
    policy = {
        "maxAttempts": 3,
        "initialBackoff": "0.1s",
        "maxBackoff": "1s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    # round_robin: where the address resolves to several pods (a headless Service), calls spread
    # over all of them instead of pinning one connection to one pod (gRPC's default, pick_first).
    return json.dumps(
        {
            "loadBalancingConfig": [{"round_robin": {}}],
            "methodConfig": [{"name": names, "retryPolicy": policy}],
        }
    )


def channel_to(address: str, service_token_file: str = "") -> grpc.Channel:
    """A channel to another service: errors translated once (outermost), the caller's deadline
    shared, the caller's token forwarded (or, outside a request, the service token from
    `service_token_file`), traced; idempotent reads retried by gRPC's own retry policy."""
    from services.permissions import rule_methods

    options = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", retry_config(rule_methods())),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),  # answers as large as requests may be
    ]
    traced = grpcext.intercept_channel(grpc.insecure_channel(address, options=options), client_interceptor())
    return grpc.intercept_channel(
        traced, _Translate(), _Deadline(), _Credentials(ServiceTokens(service_token_file))
    )


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
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
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
        status = rpc_status.from_call(exc)
    except (ValueError, AttributeError):
        return []
    out = []
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out += [FieldViolation(v.field, v.description) for v in bad.field_violations]
    return out
