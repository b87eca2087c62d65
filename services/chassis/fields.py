"""Field parsing the proto rules cannot finish, and the well-known types at the edge.

A string can match YYYY-MM-DD and still be no day at all (2026-02-30); a google.type.Date can
hold 2026-02-30 too when a caller skips the contract's `oms.date` rule. Failures are
INVALID_ARGUMENT naming the field, never INTERNAL. Instants leave as google.protobuf.Timestamp
(UTC), days as google.type.Date."""

from __future__ import annotations

from datetime import UTC, date, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date

from services.chassis.errors import FieldViolation, InvalidArgument


def parse_date(field: str, value: str) -> date:
    """A day that travels as YYYY-MM-DD text (event payloads)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(
            f"{field} is not a calendar date",
            [FieldViolation(field, f"{value!r} is not a valid YYYY-MM-DD day")],
        ) from None


def date_from_proto(field: str, value: Date) -> date:
    """A google.type.Date as a day; one that names no day (month 13, 30 February, year 0) is
    the caller's mistake on `field`."""
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        raise InvalidArgument(
            f"{field} is not a calendar date",
            [
                FieldViolation(
                    field, f"{value.year:04d}-{value.month:02d}-{value.day:02d} is not a calendar day"
                )
            ],
        ) from None


def optional_date_from_proto(request: Message, field: str) -> date | None:
    """The day in `request.<field>`, or None when the field is unset (an open bound)."""
    return date_from_proto(field, getattr(request, field)) if request.HasField(field) else None


def date_to_proto(value: date) -> Date:
    return Date(year=value.year, month=value.month, day=value.day)


def timestamp_of(value: datetime | None) -> Timestamp | None:
    """An aware datetime as a Timestamp (UTC); None stays None, so the field stays unset."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times leave in UTC, aware")
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def instant_from_proto(field: str, value: Timestamp) -> datetime:
    """A Timestamp as an aware UTC datetime; one outside years 1-9999 (seconds a caller may set
    freely) is the caller's mistake on `field`."""
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidArgument(
            f"{field} is not a time this system can read",
            [FieldViolation(field, f"{value.seconds}s / {value.nanos}ns is outside years 1-9999")],
        ) from None


def optional_instant_from_proto(request: Message, field: str) -> datetime | None:
    return instant_from_proto(field, getattr(request, field)) if request.HasField(field) else None
