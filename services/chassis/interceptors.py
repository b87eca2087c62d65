"""The server interceptor every RPC passes through: caller identity (the token, verified with
the issuer's public keys), permission (services/permissions.py), request validation, error
mapping to rich gRPC status, and metrics. Health and reflection stay open."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import grpc
import protovalidate
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services import permissions
from services.chassis import deadlines, identity
from services.chassis.db import is_bad_value, is_transient
from services.chassis.errors import (
    AlreadyExists,
    Conflict,
    DeadlineExceeded,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
    VersionConflict,
)
from services.chassis.metrics import RPC_HANDLED, RPC_LATENCY
from services.chassis.settings import InvalidSetting, MissingSetting, Settings

log = logging.getLogger(__name__)

STATUS_OF: dict[type[DomainError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    VersionConflict: grpc.StatusCode.ABORTED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    Internal: grpc.StatusCode.INTERNAL,
    Conflict: grpc.StatusCode.ABORTED,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    TooManyAttempts: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def status_code_for(error: DomainError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return grpc.StatusCode.INTERNAL


OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


def storage_error(exc: BaseException) -> DomainError | None:
    """What a database failure means to the caller: retry in a moment (the database is restarting,
    a lock wait ran out), or fix the request (a value the database refuses); None for a bug."""
    if is_transient(exc):
        return Unavailable("the database is not available right now; retry in a moment")
    if is_bad_value(exc):
        return InvalidArgument("a value in the request cannot be stored (too long or not valid text)")
    return None


def field_violations(error: protovalidate.ValidationError) -> list[FieldViolation]:
    out = []
    for v in error.violations:
        parts = []
        for el in v.proto.field.elements if v.proto.field is not None else ():
            name = el.field_name
            sub = getattr(el, "subscript", None)
            if sub is not None and getattr(sub, "value", None) is not None:
                name += f"[{sub.value}]"
            parts.append(name)
        out.append(FieldViolation(".".join(parts), f"{v.proto.message} ({v.proto.rule_id})"))
    return out


def validate(request) -> None:
    try:
        protovalidate.validate(request)
    except protovalidate.ValidationError as exc:
        raise InvalidArgument("request has invalid fields", field_violations(exc)) from None


def to_status(error: DomainError) -> status_pb2.Status:
    code = status_code_for(error)
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=str(error))
    if isinstance(error, InvalidArgument) and error.violations:
        detail = any_pb2.Any()
        detail.Pack(bad_request(error.violations))
        status.details.append(detail)
    if isinstance(error, TooManyAttempts):
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay={"seconds": error.retry_after_s}))
        status.details.append(detail)
    return status


# The details travel in a trailer (grpc-status-details-bin, base64): past gRPC clients' default
# metadata limit (8 KB) a client drops the whole answer and reports RESOURCE_EXHAUSTED "Stream
# removed" instead of the fields to fix. A request with hundreds of bad fields (a 200-line order)
# hears of the first ones, and how many more there are.
DETAILS_MAX_BYTES = 4000


def bad_request(violations: list[FieldViolation]) -> error_details_pb2.BadRequest:
    out = error_details_pb2.BadRequest()
    for i, v in enumerate(violations):
        item = error_details_pb2.BadRequest.FieldViolation(
            field=v.field[:200], description=v.description[:300]
        )
        if out.ByteSize() + item.ByteSize() + 120 > DETAILS_MAX_BYTES:
            rest = len(violations) - i
            out.field_violations.append(
                error_details_pb2.BadRequest.FieldViolation(
                    field="", description=f"… and {rest} more (fix these first, then send it again)"
                )
            )
            break
        out.field_violations.append(item)
    return out


def bearer_token(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    for key, value in metadata:
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    raise Unauthenticated("missing bearer token (authorization metadata)")


def token_verifier(settings: Settings) -> identity.TokenVerifier:
    """The verifier for the keys the settings name; keys that cannot be read stop start-up."""
    named = " and ".join(
        f"{name}={value}"
        for name, value in (("OMS_JWKS_FILE", settings.jwks_file), ("OMS_JWKS_URL", settings.jwks_url))
        if value
    )
    try:
        return identity.verifier_for(settings.jwks_file, settings.jwks_url)
    except FileNotFoundError:
        if settings.uses_dev_keys:
            raise MissingSetting(
                f"no dev keys at {settings.jwks_file}: run `make setup` (it runs scripts/dev-keys.py), "
                "or set OMS_JWKS_FILE or OMS_JWKS_URL to your issuer's public keys"
            ) from None
        raise InvalidSetting(f"{named}: no such file") from None
    except (OSError, identity.JwksError) as exc:
        raise InvalidSetting(f"{named}: cannot read the issuer's public keys: {exc}") from None


class ChassisInterceptor(grpc.ServerInterceptor):
    def __init__(self, verifier: identity.TokenVerifier, tenants: Iterable[str]):
        self._verifier = verifier
        self._tenants = frozenset(tenants)
        # grpcio asks the interceptor on every call; the wrapped handler of a method never changes.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or method.startswith(OPEN_PREFIXES):
            return handler
        wrapped = self._wrapped[method] = grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        return wrapped

    def _wrap(self, method: str, behaviour: Callable):
        service_name, _, rpc = method.lstrip("/").rpartition("/")
        service_label = service_name.split(".")[1] if service_name.count(".") >= 2 else service_name
        latency = RPC_LATENCY.labels(service_label, rpc)
        rule = permissions.rule_for(method)

        def wrapped(request, context: grpc.ServicerContext):
            started = time.perf_counter()
            code = "OK"
            try:
                if rule is not None and rule.open:  # sign-in: the request itself is the proof
                    validate(request)
                    with deadlines.serving_until(context.time_remaining()):
                        return behaviour(request, context)
                token = bearer_token(context.invocation_metadata())
                caller = self._verifier.verify(token, self._tenants)
                permissions.check(method, rule, caller)
                validate(request)
                with identity.acting_as(caller, token), deadlines.serving_until(context.time_remaining()):
                    return behaviour(request, context)
            except DomainError as exc:
                code = status_code_for(exc).name
                context.abort_with_status(rpc_status.to_status(to_status(exc)))
            except Exception as exc:
                if context.code() is not None:  # an abort inside the handler already set the status
                    code = context.code().name
                    raise
                known = storage_error(exc)
                if known is not None:
                    code = status_code_for(known).name
                    log.warning("%s: %s (%s)", method, known, type(exc).__name__)
                    context.abort_with_status(rpc_status.to_status(to_status(known)))
                code = "INTERNAL"
                log.exception("%s failed", method)
                context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")
            finally:
                latency.observe(time.perf_counter() - started)
                RPC_HANDLED.labels(service_label, rpc, code).inc()

        return wrapped
