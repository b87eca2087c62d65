"""Events on the wire, nameko's convention: topic exchange `<service>.events`, routing key = event
type, JSON body. The body is an envelope (event id, type, tenant, time, source) with the event
message under "data"; the same ids ride in AMQP properties and headers, with the trace context.

Domain events are plain dataclasses named in the past tense; each service declares which proto
message is the contract for each, and the outbox checks every event against it before writing.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import protovalidate
from buf.validate import validate_pb2
from google.protobuf import json_format
from google.protobuf.message import Message as ProtoMessage

from oms.common.v1.common_pb2 import EventEnvelope


class DomainEvent:
    """Base for a service's events; subclasses are dataclasses with an `event_type`."""

    event_type: ClassVar[str]


@dataclass(frozen=True)
class Message:
    """One event as it travels: what the outbox stores and the bus carries."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    tenant_id: str
    headers: dict[str, str] = field(default_factory=dict)


class MalformedEvent(ValueError):
    """A message that no retry can fix (not JSON, missing envelope fields): dead-letter it."""


# Headers the transports set and read (the same on RabbitMQ, nameko and the in-process bus).
ATTEMPT = "x-oms-attempt"
ORIGIN_EXCHANGE = "x-oms-exchange"
ORIGIN_ROUTING_KEY = "x-oms-routing-key"
DEAD_LETTER_REASON = "x-oms-dead-letter-reason"
_LONGEST_TIME = 64  # "2026-11-25T09:30:00.123456789+08:00" is 35; longer text is no time
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_TEXT_HEADERS = {  # header -> longest sane value; each must be printable text
    ORIGIN_EXCHANGE: 255,
    ORIGIN_ROUTING_KEY: 255,
    "tracestate": 512,
    "tenant_id": 64,
    "event_type": 64,
    "source": 64,
}


def check_headers(raw: object) -> dict[str, Any]:
    """The headers of a delivery, checked: those we read must be what they claim (an attempt
    number, an exchange name, a W3C traceparent...); MalformedEvent says which is not. Others
    may hold anything and are kept as bounded text or numbers (to copy onto a forwarded copy)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise MalformedEvent("headers are not a table")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not 0 < len(key) <= 128:
            raise MalformedEvent(f"header name {str(key)[:64]!r} is not short text")
        if key in _TEXT_HEADERS:
            limit = _TEXT_HEADERS[key]
            if not isinstance(value, str) or not 0 < len(value) <= limit or not value.isprintable():
                raise MalformedEvent(f"header {key} is not text of at most {limit} characters")
        elif key == "traceparent":
            if not isinstance(value, str) or not _TRACEPARENT.match(value):
                raise MalformedEvent("header traceparent is not a W3C trace context")
        elif key == ATTEMPT:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise MalformedEvent(f"header {ATTEMPT} is not an attempt number: {str(value)[:64]!r}")
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            value = repr(value)[:1000]  # nested tables, binary, lists: harmless, kept as text
        elif isinstance(value, str):
            value = value[:1000]
        out[key] = value
        if len(out) > 64:
            raise MalformedEvent("more than 64 headers")
    return out


# Envelope fields of the wire's JSON body: oms.common.v1.EventEnvelope declares their types and
# rules (lengths, printable text, a snake_case type, an RFC 3339 time); "data" rides beside them.
ENVELOPE_FIELDS = ("event_id", "event_type", "tenant_id", "source", "occurred_at")


def _rules_of(name: str) -> validate_pb2.FieldRules:
    return EventEnvelope.DESCRIPTOR.fields_by_name[name].GetOptions().Extensions[validate_pb2.field]


def _why(violation: protovalidate.Violation) -> str:
    """A rule the envelope broke, in the words every dead letter has used for it."""
    path = violation.proto.field
    name = path.elements[0].field_name if path is not None and path.elements else "envelope"
    rule = violation.proto.rule_id
    if rule in ("string.min_len", "required"):
        return f"not an OMS event: {name} is missing or not text"
    if rule in ("string.max_len", "oms.printable"):
        limit = _rules_of(name).string.max_len
        return f"not an OMS event: {name} is longer than {limit} or holds control characters"
    return f"not an OMS event: {name} {violation.proto.message} ({rule})"


@dataclass(frozen=True)
class ReceivedEvent:
    event_id: str
    event_type: str
    tenant_id: str
    source: str
    occurred_at: str
    data: dict[str, Any]

    @classmethod
    def parse(cls, body: bytes | str | Mapping[str, Any]) -> ReceivedEvent:
        """Read an envelope from the wire, trusting nothing: the body must be a JSON object that
        parses into oms.common.v1.EventEnvelope and passes its field rules, with `data` an
        object. MalformedEvent says what is wrong."""
        try:
            doc = body if isinstance(body, Mapping) else json.loads(body)
        except (ValueError, TypeError) as exc:  # not UTF-8, not JSON
            raise MalformedEvent(f"not an OMS event: body is not JSON ({exc})") from None
        if not isinstance(doc, Mapping):
            raise MalformedEvent("not an OMS event: body is not a JSON object")
        fields = {}
        for name in ENVELOPE_FIELDS:
            value = doc.get(name)
            if not isinstance(value, str) or not value:  # proto3 JSON would read 42 as "42"
                raise MalformedEvent(f"not an OMS event: {name} is missing or not text")
            fields[name] = value
        data = doc.get("data")
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise MalformedEvent("not an OMS event: data is not a JSON object")
        envelope = EventEnvelope()
        try:
            if len(fields["occurred_at"]) > _LONGEST_TIME:
                raise json_format.ParseError("too long")
            json_format.ParseDict(fields, envelope)
        except json_format.ParseError:  # every other field is text: only the time can fail here
            raise MalformedEvent(
                f"not an OMS event: occurred_at is not an RFC 3339 time: {fields['occurred_at'][:40]!r}"
            ) from None
        violations = protovalidate.collect_violations(envelope)
        if violations:
            raise MalformedEvent(_why(violations[0]))
        return cls(**fields, data=dict(data))

    def as_proto(self, message_cls: type[ProtoMessage]) -> ProtoMessage:
        """Read `data` through its contract; unknown fields are ignored (tolerant reader)."""
        try:
            return json_format.ParseDict(self.data, message_cls(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise MalformedEvent(f"{self.event_type} does not match its contract: {exc}") from exc


class EventCodec:
    """Turns domain events into wire messages, checked against their proto contracts."""

    def __init__(self, source: str, contracts: Mapping[str, type[ProtoMessage]]):
        self.source = source
        self.exchange = f"{source}.events"
        self.contracts = dict(contracts)

    def encode(self, event: DomainEvent, tenant_id: str, headers: dict[str, str]) -> Message:
        event_type = event.event_type
        contract = self.contracts.get(event_type)
        if contract is None:
            raise LookupError(f"{self.source} has no contract for event {event_type!r}")
        data = dataclasses.asdict(event)  # type: ignore[call-overload]
        # ParseDict raises on a field the contract lacks, so a drifting event fails in tests.
        checked = json_format.MessageToDict(
            json_format.ParseDict(data, contract()), preserving_proto_field_name=True
        )
        event_id = str(uuid.uuid4())
        occurred_at = datetime.now(UTC).isoformat()
        envelope = {
            "event_id": event_id,
            "event_type": event_type,
            "tenant_id": tenant_id,
            "source": self.source,
            "occurred_at": occurred_at,
            "data": checked,
        }
        all_headers = {**headers, "tenant_id": tenant_id, "event_type": event_type, "source": self.source}
        return Message(
            exchange=self.exchange,
            routing_key=event_type,
            body=json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode(),
            message_id=event_id,
            tenant_id=tenant_id,
            headers=all_headers,
        )
