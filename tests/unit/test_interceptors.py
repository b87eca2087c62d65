"""The interceptor's translations: protovalidate violations to field paths, domain errors to a
rich gRPC status, and the bearer token out of the metadata."""

from __future__ import annotations

import protovalidate
import pytest
from google.rpc import code_pb2, error_details_pb2
from google.type import date_pb2

from oms.order.v1 import order_pb2
from services.chassis.errors import (
    DomainError,
    FieldViolation,
    InvalidArgument,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from services.chassis.interceptors import STATUS_OF, bearer_token, field_violations, to_status

CUSTOMER = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def line(**kw) -> order_pb2.OrderLine:
    return order_pb2.OrderLine(**{"product_model": "HB-2040", "quantity": 1, "workshop": "stamping-1", **kw})


def violations_of(request) -> list[FieldViolation]:
    with pytest.raises(protovalidate.ValidationError) as caught:
        protovalidate.validate(request)
    return field_violations(caught.value)


def valid_request(**kw) -> order_pb2.CreateOrderRequest:
    fields = {
        "customer_id": CUSTOMER,
        "channel": order_pb2.CHANNEL_DIRECT,
        "priority": order_pb2.PRIORITY_NORMAL,
        "due_date": date_pb2.Date(year=2026, month=12, day=10),
        "lines": [line()],
        **kw,
    }
    return order_pb2.CreateOrderRequest(**fields)


def test_a_valid_request_passes():
    protovalidate.validate(valid_request())


def test_a_bad_field_in_a_repeated_message_is_named_with_its_index():
    found = violations_of(valid_request(lines=[line(), line(), line(quantity=0)]))

    assert [v.field for v in found] == ["lines[2].quantity"]
    assert "int32.gt_lte" in found[0].description


def test_several_bad_lines_each_get_their_own_path():
    found = violations_of(valid_request(lines=[line(quantity=-1), line(workshop="x" * 33)]))

    assert sorted(v.field for v in found) == ["lines[0].quantity", "lines[1].workshop"]


def test_top_level_fields_are_named_plainly():
    found = violations_of(valid_request(customer_id="not-a-uuid", channel=order_pb2.CHANNEL_UNSPECIFIED))

    assert sorted(v.field for v in found) == ["channel", "customer_id"]


def test_an_empty_line_list_is_named_lines():
    found = violations_of(valid_request(lines=[]))

    assert [v.field for v in found] == ["lines"]


class TestToStatus:
    def test_invalid_argument_carries_bad_request_details(self):
        error = InvalidArgument(
            "request has invalid fields",
            [FieldViolation("lines[0].quantity", "must be > 0"), FieldViolation("due_date", "past")],
        )

        status = to_status(error)

        assert status.code == code_pb2.INVALID_ARGUMENT
        assert status.message == "request has invalid fields"
        [detail] = status.details
        bad_request = error_details_pb2.BadRequest()
        assert detail.Unpack(bad_request)
        assert [(v.field, v.description) for v in bad_request.field_violations] == [
            ("lines[0].quantity", "must be > 0"),
            ("due_date", "past"),
        ]

    def test_invalid_argument_without_violations_has_no_details(self):
        assert list(to_status(InvalidArgument("bad page token")).details) == []

    def test_other_errors_carry_only_code_and_message(self):
        status = to_status(NotFound("order o-1 not found"))

        assert status.code == code_pb2.NOT_FOUND
        assert status.message == "order o-1 not found"
        assert list(status.details) == []

    @pytest.mark.parametrize("error_cls", list(STATUS_OF), ids=lambda c: c.__name__)
    def test_the_numeric_code_is_the_grpc_code_of_the_table(self, error_cls):
        error = error_cls("x", 30) if error_cls is TooManyAttempts else error_cls("x")
        assert to_status(error).code == STATUS_OF[error_cls].value[0]

    def test_too_many_attempts_says_how_long_to_wait(self):
        status = to_status(TooManyAttempts("wait", 120))
        assert status.code == code_pb2.RESOURCE_EXHAUSTED
        [detail] = status.details
        info = error_details_pb2.RetryInfo()
        assert detail.Unpack(info) and info.retry_delay.seconds == 120

    def test_an_unmapped_error_is_internal(self):
        assert to_status(DomainError("?")).code == code_pb2.INTERNAL


class TestBearerToken:
    def test_reads_the_token_after_bearer(self):
        assert bearer_token([("x-request-id", "r"), ("authorization", "Bearer abc.def.ghi")]) == "abc.def.ghi"

    def test_accepts_bytes_and_any_case_of_bearer(self):
        assert bearer_token([("authorization", b"bearer  tok ")]) == "tok"

    @pytest.mark.parametrize(
        "metadata",
        [[], [("authorization", "Basic dXNlcjpwYXNz")], [("x-tenant", "hardware")]],
        ids=["none", "basic-auth", "bare-tenant-header"],
    )
    def test_without_a_bearer_token_the_caller_is_unauthenticated(self, metadata):
        with pytest.raises(Unauthenticated):
            bearer_token(metadata)
