"""How the edge reads and writes JSON, and how an error's details read as JSON.

- Requests: protobuf's JSON mapping, strictly: an unknown field is INVALID_ARGUMENT naming it (a
  typo such as "pagesize" must not pass silently as the default).
- Responses: compact UTF-8 JSON (Chinese as itself, not \\u escapes).
- Errors: Connect carries each detail as base64 protobuf; the edge adds its JSON under `debug`
  for the google.rpc detail types our services send (a BadRequest's field violations readable by
  a person and by a client that has no protobuf)."""

from __future__ import annotations

import base64
import json
from typing import TypeVar

from connectrpc.compat import google_protobuf_binary_codec
from connectrpc.compat._codec import ProtoJSONCodec
from google.protobuf import json_format, message_factory, symbol_database
from google.protobuf.message import Message
from google.rpc import error_details_pb2

M = TypeVar("M", bound=Message)
READABLE_DETAILS = {
    d.full_name: d
    for d in (
        error_details_pb2.BadRequest.DESCRIPTOR,
        error_details_pb2.ErrorInfo.DESCRIPTOR,
        error_details_pb2.PreconditionFailure.DESCRIPTOR,
        error_details_pb2.ResourceInfo.DESCRIPTOR,
        error_details_pb2.QuotaFailure.DESCRIPTOR,
        error_details_pb2.RetryInfo.DESCRIPTOR,
        error_details_pb2.LocalizedMessage.DESCRIPTOR,
        error_details_pb2.Help.DESCRIPTOR,
    )
}


class StrictJson(ProtoJSONCodec):
    def __init__(self) -> None:
        super().__init__(ignore_unknown_fields=False)

    def encode(self, message: Message) -> bytes:
        return json_format.MessageToJson(message, indent=None, ensure_ascii=False).encode()


def codecs() -> list:
    return [google_protobuf_binary_codec(), StrictJson()]


def readable_error(body: bytes) -> bytes:
    """A Connect error body with each known detail's JSON added as `debug`; anything else as is."""
    try:
        error = json.loads(body)
        details = error.get("details") if isinstance(error, dict) else None
        if not isinstance(details, list):
            return body
        for detail in details:
            if not isinstance(detail, dict) or "debug" in detail:
                continue
            descriptor = READABLE_DETAILS.get(str(detail.get("type", "")))
            if descriptor is None:
                continue
            raw = base64.b64decode(str(detail.get("value", "")) + "===")
            message = message_factory.GetMessageClass(descriptor).FromString(raw)
            detail["debug"] = json_format.MessageToDict(message)
        return json.dumps(error, ensure_ascii=False).encode()
    except (ValueError, TypeError):
        return body


_ = symbol_database  # the detail types are registered by importing error_details_pb2
