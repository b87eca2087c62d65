"""Events on the wire: the envelope, the contract check, and the tolerant reader."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format

from oms.customer.v1 import customer_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from services.chassis.events import DomainEvent, EventCodec, MalformedEvent, ReceivedEvent
from services.customer.domain.model import CustomerCreated
from services.order.domain.model import OrderApproved, OrderCreated
from services.production.domain.model import WorkOrderCreated

CODEC = EventCodec(
    "order", {"order_created": order_pb2.OrderCreated, "order_approved": order_pb2.OrderApproved}
)
CREATED = OrderCreated("o-1", "HW-20261125-00042", "c-1", "CHANNEL_AGENT", "PRIORITY_HIGH", "2026-12-10")
APPROVED = OrderApproved(
    "o-1",
    "HW-20261125-00042",
    "c-1",
    "PRIORITY_HIGH",
    "2026-12-10",
    2,
    [
        {
            "product_model": "HB-2040",
            "quantity": 500,
            "colour": "银色 silver",
            "surface_treatment": "",
            "workshop": "stamping-1",
            "unit_price_fen": 120,
        }
    ],
    "li.manager",
)


class TestEncode:
    def test_the_message_goes_to_the_source_exchange_keyed_by_event_type(self):
        msg = CODEC.encode(CREATED, "hardware", {})

        assert msg.exchange == "order.events"
        assert msg.routing_key == "order_created"
        assert msg.tenant_id == "hardware"

    def test_the_body_is_an_envelope_around_the_checked_data(self):
        msg = CODEC.encode(CREATED, "hardware", {})
        doc = json.loads(msg.body)

        assert set(doc) == {"event_id", "event_type", "tenant_id", "source", "occurred_at", "data"}
        assert uuid.UUID(doc["event_id"]).version == 4
        assert doc["event_id"] == msg.message_id
        assert doc["event_type"] == "order_created"
        assert doc["tenant_id"] == "hardware"
        assert doc["source"] == "order"
        assert datetime.fromisoformat(doc["occurred_at"]).utcoffset() is not None
        assert doc["data"] == {
            "order_id": "o-1",
            "order_no": "HW-20261125-00042",
            "customer_id": "c-1",
            "channel": "CHANNEL_AGENT",
            "priority": "PRIORITY_HIGH",
            "due_date": "2026-12-10",
        }

    def test_chinese_text_travels_as_utf8_not_escapes(self):
        body = CODEC.encode(APPROVED, "hardware", {}).body

        assert "银色 silver".encode() in body

    def test_each_event_gets_its_own_id(self):
        assert (
            CODEC.encode(CREATED, "hardware", {}).message_id
            != CODEC.encode(CREATED, "hardware", {}).message_id
        )

    def test_headers_keep_the_trace_context_and_name_tenant_type_and_source(self):
        msg = CODEC.encode(CREATED, "hardware", {"traceparent": "00-abc-def-01"})

        assert msg.headers == {
            "traceparent": "00-abc-def-01",
            "tenant_id": "hardware",
            "event_type": "order_created",
            "source": "order",
        }

    def test_the_approved_event_reads_back_through_its_contract(self):
        msg = CODEC.encode(APPROVED, "hardware", {})

        proto = ReceivedEvent.parse(msg.body).as_proto(order_pb2.OrderApproved)

        assert proto.version == 2
        assert proto.approved_by == "li.manager"
        assert [(x.product_model, x.quantity, x.workshop, x.unit_price_fen) for x in proto.lines] == [
            ("HB-2040", 500, "stamping-1", 120)
        ]

    def test_an_event_with_a_field_its_contract_lacks_is_refused(self):
        @dataclass(frozen=True)
        class DriftedOrderCreated(DomainEvent):
            event_type = "order_created"
            order_id: str
            sales_region: str  # not in oms.order.v1.OrderCreated

        with pytest.raises(json_format.ParseError, match="sales_region"):
            CODEC.encode(DriftedOrderCreated("o-1", "east"), "hardware", {})

    def test_an_event_without_a_contract_is_refused(self):
        @dataclass(frozen=True)
        class OrderArchived(DomainEvent):
            event_type = "order_archived"
            order_id: str

        with pytest.raises(LookupError, match="order_archived"):
            CODEC.encode(OrderArchived("o-1"), "hardware", {})


@pytest.mark.parametrize(
    ("source", "contracts", "event"),
    [
        (
            "customer",
            {"customer_created": customer_pb2.CustomerCreated},
            CustomerCreated("c", "K", "n", "TIER_A", "s"),
        ),
        (
            "production",
            {"work_order_created": production_pb2.WorkOrderCreated},
            WorkOrderCreated(
                "w",
                "WO-1-01",
                "o",
                "1",
                "welding",
                "2026-12-10",
                [{"product_model": "X", "quantity": 1, "colour": "", "surface_treatment": ""}],
            ),
        ),
        ("order", {"order_approved": order_pb2.OrderApproved}, APPROVED),
    ],
    ids=["customer_created", "work_order_created", "order_approved"],
)
def test_every_service_event_matches_its_contract(source, contracts, event):
    msg = EventCodec(source, contracts).encode(event, "hardware", {})

    assert msg.exchange == f"{source}.events"


class TestReceive:
    ENVELOPE = {
        "event_id": "e-1",
        "event_type": "order_approved",
        "tenant_id": "hardware",
        "source": "order",
        "occurred_at": "2026-11-25T09:30:00+00:00",
        "data": {"order_id": "o-1", "version": 2},
    }

    def test_parses_bytes_str_and_mappings_alike(self):
        as_bytes = ReceivedEvent.parse(json.dumps(self.ENVELOPE).encode())

        assert as_bytes == ReceivedEvent.parse(json.dumps(self.ENVELOPE))
        assert as_bytes == ReceivedEvent.parse(self.ENVELOPE)
        assert (as_bytes.event_id, as_bytes.tenant_id, as_bytes.data) == (
            "e-1",
            "hardware",
            {"order_id": "o-1", "version": 2},
        )

    def test_missing_data_is_an_empty_dict(self):
        envelope = {k: v for k, v in self.ENVELOPE.items() if k != "data"}

        assert ReceivedEvent.parse(envelope).data == {}

    @pytest.mark.parametrize(
        "body",
        [
            b"not json at all",
            b"\xff\xfe",
            b"[1, 2, 3]",
            b"null",
            b'"a string"',
            b"{}",
            json.dumps({"event_id": "e-1", "event_type": "x"}).encode(),
            json.dumps({**ENVELOPE, "data": [1, 2]}).encode(),
        ],
        ids=["text", "not-utf8", "list", "null", "string", "empty", "no-tenant", "data-not-object"],
    )
    def test_garbage_is_malformed(self, body):
        with pytest.raises(MalformedEvent):
            ReceivedEvent.parse(body)

    def test_as_proto_ignores_fields_the_reader_does_not_know(self):
        event = ReceivedEvent.parse(
            {
                **self.ENVELOPE,
                "data": {
                    "order_id": "o-1",
                    "sales_region": "east",  # added by a newer order service
                    "lines": [{"product_model": "HB-2040", "quantity": 5, "pallet": "EU"}],
                },
            }
        )

        proto = event.as_proto(order_pb2.OrderApproved)

        assert proto.order_id == "o-1"
        assert [(x.product_model, x.quantity) for x in proto.lines] == [("HB-2040", 5)]

    def test_as_proto_of_a_wrongly_typed_field_is_malformed(self):
        event = ReceivedEvent.parse({**self.ENVELOPE, "data": {"version": "two"}})

        with pytest.raises(MalformedEvent, match="order_approved"):
            event.as_proto(order_pb2.OrderApproved)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-oms-attempt": "first"}, "x-oms-attempt is not an attempt number"),
        ({"x-oms-attempt": True}, "x-oms-attempt is not an attempt number"),
        ({"x-oms-attempt": 0}, "x-oms-attempt is not an attempt number"),
        ({"x-oms-exchange": {"nested": [1, 2]}}, "x-oms-exchange is not text"),
        ({"x-oms-routing-key": "x" * 256}, "x-oms-routing-key is not text"),
        ({"traceparent": "0" * 65536}, "traceparent is not a W3C trace context"),
        ({"traceparent": "00-zz-00"}, "traceparent is not a W3C trace context"),
        ({"tenant_id": "hardware\x1b[2J"}, "tenant_id is not text"),
        ({f"h{i}": i for i in range(70)}, "more than 64 headers"),
        ("not a table", "headers are not a table"),
    ],
)
def test_headers_the_transports_read_are_checked(headers, reason):
    from services.chassis.events import check_headers

    with pytest.raises(MalformedEvent, match=reason):
        check_headers(headers)


def test_headers_nobody_reads_may_hold_anything_and_are_kept_as_bounded_text():
    from services.chassis.events import check_headers

    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    checked = check_headers(
        {"traceparent": traceparent, "x-oms-attempt": 3, "deep": {"a": [1, b"\x00"]}, "long": "x" * 5000}
    )
    assert checked["traceparent"] == traceparent and checked["x-oms-attempt"] == 3
    assert checked["deep"] == "{'a': [1, b'\\x00']}" and len(checked["long"]) == 1000
    assert check_headers(None) == {}


class TestEnvelopeContract:
    """The envelope is read through oms.common.v1.EventEnvelope and its field rules, so the
    contract and the consumer cannot drift apart; the JSON on the wire stays nameko's."""

    ENVELOPE = TestReceive.ENVELOPE

    def test_what_the_codec_writes_parses_into_the_proto_and_passes_its_rules(self):
        import protovalidate

        from oms.common.v1.common_pb2 import EventEnvelope

        doc = json.loads(CODEC.encode(APPROVED, "hardware", {}).body)
        envelope = json_format.ParseDict(doc, EventEnvelope())

        assert protovalidate.collect_violations(envelope) == []
        assert envelope.occurred_at.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(doc["occurred_at"])
        assert ReceivedEvent.parse(json.dumps(doc)).occurred_at == doc["occurred_at"]  # kept as sent

    @pytest.mark.parametrize(
        ("field", "value", "reason"),
        [
            ("event_id", "e" * 37, "event_id is longer than 36 or holds control characters"),
            (
                "event_id",
                "e-\u202e1",
                "event_id is longer than 36 or holds control characters",
            ),  # RTL override
            ("tenant_id", "hard\u200bware", "tenant_id is longer than 64 or holds control characters"),
            ("source", "o" * 65, "source is longer than 64 or holds control characters"),
            ("event_type", "Order-Approved", "event_type does not match regex pattern"),
            ("occurred_at", "yesterday", "occurred_at is not an RFC 3339 time"),
            ("occurred_at", "2026-11-25T09:30:00", "occurred_at is not an RFC 3339 time"),  # no offset
            ("occurred_at", "2026-02-30T09:30:00Z", "occurred_at is not an RFC 3339 time"),
            ("occurred_at", "9" * 5000, "occurred_at is not an RFC 3339 time"),
        ],
    )
    def test_the_field_rules_of_the_proto_decide(self, field, value, reason):
        with pytest.raises(MalformedEvent, match=reason):
            ReceivedEvent.parse({**self.ENVELOPE, field: value})

    def test_the_limits_in_the_reasons_are_the_protos(self):
        from buf.validate import validate_pb2

        from oms.common.v1.common_pb2 import EventEnvelope

        rules = (
            EventEnvelope.DESCRIPTOR.fields_by_name["event_id"].GetOptions().Extensions[validate_pb2.field]
        )
        assert rules.string.max_len == 36
        ReceivedEvent.parse({**self.ENVELOPE, "event_id": "e" * 36})

    def test_envelope_keys_it_does_not_know_are_ignored(self):
        event = ReceivedEvent.parse({**self.ENVELOPE, "schema": 2, "producer": {"host": "x"}})

        assert event.event_id == "e-1"

    def test_times_in_any_offset_are_read(self):
        for text in ("2026-11-25T17:30:00+08:00", "2026-11-25T09:30:00.123456Z", "2026-11-25T09:30:00+00:00"):
            assert ReceivedEvent.parse({**self.ENVELOPE, "occurred_at": text}).occurred_at == text
