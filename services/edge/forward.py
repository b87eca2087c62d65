"""The edge's Connect endpoints forward each call to the service that answers it, over gRPC: the
same request message, the caller's own token (the backend checks it, as for any gRPC caller), the
trace context and the caller's deadline; the backend's status comes back as a Connect error with
its code, message and details (a BadRequest's field violations among them, readable as JSON)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from connectrpc.code import Code
from connectrpc.errors import ConnectError, ErrorDetail
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import status_pb2
from protobuf.wkt import Any as WireAny

from services.edge.catalog import PublicService, snake

log = logging.getLogger(__name__)
# Headers passed on to the backend: the caller's bearer token and the W3C trace context. Nothing
# else a client sends reaches a backend's metadata.
FORWARDED = ("authorization", "traceparent", "tracestate")
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 60.0
STATUS_DETAILS = "grpc-status-details-bin"
# Text gRPC's client writes about its own connection, never a service's answer.
LOCAL_MARKERS = (
    "ipv4:",
    "ipv6:",
    "unix:",
    "failed to connect",
    "Stream removed",
    "Socket closed",
    "Connection reset",
)
LOCAL_MESSAGES = {
    Code.UNAVAILABLE: "the service is unavailable; try again",
    Code.RESOURCE_EXHAUSTED: "the service's answer was too large to pass on",
}

Forward = Callable[[Any, Any], Awaitable[Any]]


class Forwarder:
    """One backend service's methods, named as the generated Connect application calls them
    (`list_orders(request, ctx)`), each forwarding to the backend over `channel`."""

    def __init__(self, service: PublicService, channel: grpc.aio.Channel):
        self.service = service
        for method in service.methods:
            setattr(self, snake(method.name), _forward(service.full_name, method, channel))


def _forward(service_name: str, method: MethodDescriptor, channel: grpc.aio.Channel) -> Forward:
    response_class = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        f"/{service_name}/{method.name}",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=response_class.FromString,
    )

    async def forward(request, ctx):
        try:
            headers = ctx.request_headers
            metadata = tuple((name, headers[name]) for name in FORWARDED if headers.get(name))
            timeout = min(ctx.timeout_ms / 1000, MAX_TIMEOUT_S) if ctx.timeout_ms else DEFAULT_TIMEOUT_S
            return await call(request, metadata=metadata, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise connect_error(exc) from None
        except Exception:
            # the edge's own fault: logged here, never its text to the caller
            log.exception("edge: forwarding %s/%s failed", service_name, method.name)
            raise ConnectError(Code.INTERNAL, "internal error at the edge") from None

    return forward


def connect_error(exc: grpc.aio.AioRpcError) -> ConnectError:
    """The backend's status as a Connect error. The details travel as they came (type URL and
    bytes; connectrpc's own protobuf runtime carries them), made readable by codec.py."""
    code = Code[exc.code().name] if exc.code().name in Code.__members__ else Code.UNKNOWN
    message = exc.details() or code.value
    if any(marker in message for marker in LOCAL_MARKERS):
        # gRPC's own text about the edge's connection (addresses, transport): not the caller's business
        message = LOCAL_MESSAGES.get(code, "the service could not be reached; try again")
    details: list[ErrorDetail] = []
    for key, value in exc.trailing_metadata() or ():
        if key == STATUS_DETAILS and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            details = [ErrorDetail(WireAny(type_url=a.type_url, value=a.value)) for a in status.details]
    return ConnectError(code, message, details)
