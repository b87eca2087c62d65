"""Field parsing the proto rules cannot finish: a string can match YYYY-MM-DD and still be no
day at all (2026-02-30). Failures are INVALID_ARGUMENT naming the field, never INTERNAL."""

from __future__ import annotations

from datetime import date

from services.chassis.errors import FieldViolation, InvalidArgument


def parse_date(field: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(
            f"{field} is not a calendar date",
            [FieldViolation(field, f"{value!r} is not a valid YYYY-MM-DD day")],
        ) from None


def parse_optional_date(field: str, value: str) -> date | None:
    return parse_date(field, value) if value else None
