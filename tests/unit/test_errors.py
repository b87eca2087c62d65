"""The one table from domain errors to gRPC status codes, case by case."""

from __future__ import annotations

import grpc
import pytest

from services.chassis.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    VersionConflict,
)
from services.chassis.interceptors import STATUS_OF, status_code_for


class CustomerNotFound(NotFound):
    """A service's own refinement of NotFound."""


class StockShortfall(FailedPrecondition):
    pass


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidArgument("bad", [FieldViolation("due_date", "past")]), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFound("order o-1"), grpc.StatusCode.NOT_FOUND),
        (AlreadyExists("customer code"), grpc.StatusCode.ALREADY_EXISTS),
        (FailedPrecondition("approved already"), grpc.StatusCode.FAILED_PRECONDITION),
        (VersionConflict("stale"), grpc.StatusCode.ABORTED),
        (PermissionDenied("not an approver"), grpc.StatusCode.PERMISSION_DENIED),
        (Unauthenticated("no token"), grpc.StatusCode.UNAUTHENTICATED),
        (Unavailable("WMS down"), grpc.StatusCode.UNAVAILABLE),
        (CustomerNotFound("c-1"), grpc.StatusCode.NOT_FOUND),
        (StockShortfall("HB-2040"), grpc.StatusCode.FAILED_PRECONDITION),
        (DomainError("unclassified"), grpc.StatusCode.INTERNAL),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, Exception) else x.name,
)
def test_status_code_for(error, code):
    assert status_code_for(error) == code


def test_every_domain_error_the_chassis_defines_has_a_row():
    defined = {cls for cls in DomainError.__subclasses__() if cls.__module__ == "services.chassis.errors"}

    assert defined <= set(STATUS_OF)  # refinements (DeadlineExceeded < Unavailable) may add a row
    assert all(issubclass(cls, DomainError) for cls in STATUS_OF)


def test_refinements_keep_or_sharpen_their_parents_code():
    from services.chassis.errors import DeadlineExceeded, Duplicate

    assert status_code_for(Duplicate("dup", "uq")) == grpc.StatusCode.ALREADY_EXISTS
    assert status_code_for(DeadlineExceeded("late")) == grpc.StatusCode.DEADLINE_EXCEEDED


def test_invalid_argument_without_violations_has_an_empty_list():
    assert InvalidArgument("bad").violations == []
