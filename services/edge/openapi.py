"""The OpenAPI 3.1 document of the HTTP/JSON API, generated from the proto descriptors the edge
serves, so it cannot drift from them: one POST operation per RPC (Connect's unary JSON form), each
message a JSON Schema in protobuf's JSON mapping (lowerCamelCase names, 64-bit integers as strings,
enums by name, Timestamps as RFC 3339), with the protovalidate rules a JSON Schema can say
(lengths, patterns, ranges, item counts). Hand-written: no OpenAPI 3 generator for protos is
installable here (grpc-gateway's protoc-gen-swagger writes OpenAPI 2 from google.api.http
annotations, which these RPC-style routes do not need).
"""

from __future__ import annotations

import re
from typing import Any

from buf.validate import validate_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from services import permissions
from services.edge.catalog import PublicService

F = FieldDescriptor
INT32 = {F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32, F.TYPE_UINT32, F.TYPE_FIXED32}
INT64 = {F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64, F.TYPE_UINT64, F.TYPE_FIXED64}
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.Any": {"type": "object"},
}
CODES = [
    "canceled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
]
ERROR = {
    "type": "object",
    "description": "A Connect error: the gRPC code, the message, and the details "
    "(e.g. google.rpc.BadRequest's field violations, readable under `debug`).",
    "properties": {
        "code": {"type": "string", "enum": CODES},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "value": {"type": "string", "contentEncoding": "base64"},
                    "debug": {"type": "object"},
                },
                "required": ["type", "value"],
            },
        },
    },
    "required": ["code"],
}
# A POST whose Content-Type is missing or not one the edge reads is refused by the Connect
# protocol itself (connectrpc), before any RPC: 415 with an empty body and the accepted types in
# Accept-Post, not a Connect error in JSON.
UNSUPPORTED_MEDIA_TYPE = {
    "description": "The request's Content-Type is not one the API reads (application/json, "
    "application/proto): no body; Accept-Post lists the accepted types",
    "headers": {"Accept-Post": {"schema": {"type": "string"}}},
}


def is_open(path: str) -> bool:
    """An RPC that needs no token (sign-in, refresh, sign-out: services/permissions.py)."""
    rule = permissions.rule_for(path)
    return rule is not None and rule.open


def openapi_document(services: list[PublicService]) -> dict[str, Any]:
    schemas: dict[str, Any] = {"ConnectError": ERROR}
    paths: dict[str, Any] = {}
    for service in services:
        for method in service.methods:
            request, response = method.input_type, method.output_type
            _add(request, schemas)
            _add(response, schemas)
            path = f"/{service.full_name}/{method.name}"
            paths[path] = {
                "post": {
                    **({"security": []} if is_open(path) else {}),  # sign-in needs no token
                    "operationId": f"{service.descriptor.name}_{method.name}",
                    "tags": [service.descriptor.name],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(request)}},
                    },
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": _ref(response)}},
                        },
                        "415": UNSUPPORTED_MEDIA_TYPE,
                        "default": {
                            "description": "An error (HTTP status by Connect's code mapping: 400 "
                            "invalid_argument / failed_precondition / out_of_range, 401 unauthenticated, "
                            "403 permission_denied, 404 not_found, 409 aborted / already_exists, 429 "
                            "resource_exhausted, 499 canceled, 500 internal / unknown / data_loss, 501 "
                            "unimplemented, 503 unavailable, 504 deadline_exceeded)",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ConnectError"}}
                            },
                        },
                    },
                }
            }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "中枢 OMS Zhongshu OMS — HTTP/JSON API",
            "version": "v1",
            "description": "Every public RPC of the services as a JSON POST (the Connect protocol): "
            "POST /<package.Service>/<Method> with the request message as JSON, a bearer token in "
            "Authorization. Generated from the protos (protos/oms/*/v1).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _ref(message: Descriptor) -> dict[str, str]:
    if message.full_name in WELL_KNOWN:
        return WELL_KNOWN[message.full_name]
    return {"$ref": f"#/components/schemas/{message.full_name}"}


def _add(message: Descriptor, schemas: dict[str, Any]) -> None:
    if message.full_name in schemas or message.full_name in WELL_KNOWN:
        return
    schemas[message.full_name] = {}  # placed first: a recursive message refers to itself
    properties = {}
    required = []
    for field in message.fields:
        properties[field.json_name] = _field(field, schemas)
        if field.containing_oneof is None and _rejects_zero(field, _rules(field)):
            required.append(field.json_name)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        # proto3 JSON leaves a zero value out: a field whose rules refuse its zero value must be sent
        schema["required"] = required
    choices = [
        [f.json_name for f in oneof.fields]
        for oneof in message.oneofs
        if oneof.GetOptions().HasExtension(validate_pb2.oneof)
        and oneof.GetOptions().Extensions[validate_pb2.oneof].required
    ]
    if choices:
        schema["allOf"] = [{"oneOf": [{"required": [name]} for name in names]} for names in choices]
    schemas[message.full_name] = schema


def _rejects_zero(field: FieldDescriptor, rules) -> bool:
    """Whether protovalidate refuses this field's zero value ("", 0, empty list, unset): then a
    JSON request must carry it (the JSON form of a zero value is its absence)."""
    if rules is None or rules.ignore in (validate_pb2.IGNORE_IF_ZERO_VALUE, validate_pb2.IGNORE_ALWAYS):
        return False
    if rules.required:
        return True
    kind = rules.WhichOneof("type")
    if kind is None:
        return False
    r = getattr(rules, kind)
    if kind == "repeated":
        return r.HasField("min_items") and r.min_items > 0
    if field.is_repeated:
        return False
    if kind == "string":
        if (r.HasField("min_len") and r.min_len > 0) or (r.HasField("uuid") and r.uuid):
            return True
        return bool(r.HasField("pattern") and _full_match(r.pattern, "") is False)
    if kind == "enum":
        allowed = getattr(r, "in")  # "in" is a Python keyword
        return 0 in r.not_in or (len(allowed) > 0 and 0 not in allowed)
    if kind in ("int32", "int64", "uint32", "uint64", "sint32", "sint64", "double", "float"):
        lower_gt = r.HasField("gt") and r.gt >= 0
        lower_gte = r.HasField("gte") and r.gte > 0
        upper_lt = r.HasField("lt") and r.lt <= 0
        upper_lte = r.HasField("lte") and r.lte < 0
        return lower_gt or lower_gte or upper_lt or upper_lte
    return False


def _full_match(pattern: str, text: str) -> bool | None:
    """Python's reading of an RE2 pattern: None when it cannot tell."""
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return None


def _field(field: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    rules = _rules(field)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single(value, schemas, None)}
    if field.is_repeated:
        schema: dict[str, Any] = {"type": "array", "items": _single(field, schemas, rules, item=True)}
        if rules is not None and rules.HasField("repeated"):
            r = rules.repeated
            if r.HasField("max_items"):
                schema["maxItems"] = r.max_items
            if r.HasField("min_items"):
                schema["minItems"] = r.min_items
        return schema
    return _single(field, schemas, rules)


def _single(field: FieldDescriptor, schemas: dict[str, Any], rules, item: bool = False) -> dict[str, Any]:
    scalar_rules = (
        rules.repeated.items if (item and rules is not None and rules.HasField("repeated")) else rules
    )
    if field.type == F.TYPE_MESSAGE:
        _add(field.message_type, schemas)
        return _ref(field.message_type)
    if field.type == F.TYPE_ENUM:
        return _enum(field.enum_type)
    if field.type == F.TYPE_BOOL:
        return {"type": "boolean"}
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return {"type": "number"}
    if field.type == F.TYPE_BYTES:
        return {"type": "string", "contentEncoding": "base64"}
    if field.type == F.TYPE_STRING:
        constrained = _string(scalar_rules)
        if rules is not None and rules.ignore == validate_pb2.IGNORE_IF_ZERO_VALUE and len(constrained) > 1:
            return {"anyOf": [{"type": "string", "maxLength": 0}, constrained]}  # "" is let through
        return constrained
    if field.type in INT32:
        return _integer(scalar_rules, "int32", field.type)
    if field.type in INT64:
        # protobuf's JSON writes 64-bit integers as strings and reads either form
        schema = _integer(scalar_rules, "int64", field.type)
        return {**schema, "type": ["integer", "string"], "pattern": "^-?[0-9]+$"}
    return {}


def _enum(enum: EnumDescriptor) -> dict[str, Any]:
    return {"type": "string", "enum": [v.name for v in enum.values]}


def _string(rules) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if rules is None or not rules.HasField("string"):
        return schema
    r = rules.string
    if r.HasField("min_len"):
        schema["minLength"] = r.min_len
    if r.HasField("max_len"):
        schema["maxLength"] = r.max_len
    if r.HasField("pattern"):
        schema["pattern"] = r.pattern
    if r.HasField("uuid") and r.uuid:
        schema["format"] = "uuid"
    return schema


def _integer(rules, format_: str, proto_type: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "format": format_}
    if proto_type in (F.TYPE_UINT32, F.TYPE_FIXED32, F.TYPE_UINT64, F.TYPE_FIXED64):
        schema["minimum"] = 0
    kind = {"int32": ("int32", "sint32", "sfixed32", "uint32", "fixed32")}.get(format_, ())
    if rules is None:
        return schema
    name = rules.WhichOneof("type")
    if name is None or (format_ == "int32" and name not in kind) or (format_ == "int64" and name in kind):
        return schema
    r = getattr(rules, name)
    for proto_key, json_key in (
        ("gte", "minimum"),
        ("lte", "maximum"),
        ("gt", "exclusiveMinimum"),
        ("lt", "exclusiveMaximum"),
    ):
        if r.HasField(proto_key):
            schema[json_key] = getattr(r, proto_key)
    return schema


def _rules(field: FieldDescriptor):
    options = field.GetOptions()
    if not options.HasExtension(validate_pb2.field):
        return None
    return options.Extensions[validate_pb2.field]
