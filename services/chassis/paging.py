"""Keyset page tokens: opaque to the caller, checked again after decoding.

A token is base64url of the sort key of the last row of a page, its parts joined by "|". The
contract's pattern only says it is base64 text; decoded, it is still the caller's input, so each
part goes through a parser (a UUID, a day, an instant, a code) before it reaches a query. A token
that fails is INVALID_ARGUMENT on page_token, whatever it decodes to."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from services.chassis.errors import FieldViolation, InvalidArgument

R = TypeVar("R")
SEPARATOR = "|"
MAX_PAGE_SIZE = 500


def page_size(requested: int, default: int) -> int:
    """The page size a list RPC uses: the default for 0, never above MAX_PAGE_SIZE."""
    return min(requested or default, MAX_PAGE_SIZE)


def keyset_page(
    rows: Sequence[R], page_size: int, sort_key: Callable[[R], tuple[str, ...]]
) -> tuple[list[R], str]:
    """A page of a query run with LIMIT page_size + 1 (the extra row only says there is more), and
    the next page's token: the last shown row's sort key, "" on the last page."""
    page = list(rows[:page_size])
    more = len(rows) > page_size and page
    return page, encode_token(*sort_key(page[-1])) if more else ""


def encode_token(*parts: str) -> str:
    return base64.urlsafe_b64encode(SEPARATOR.join(parts).encode()).decode()


def decode_token(token: str, *parsers: Callable[[str], Any]) -> tuple:
    """The parts of a token this service issued, each through its parser (which raises
    ValueError on what it would not have written); anything else is a bad page_token."""
    try:
        parts = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8").split(SEPARATOR)
        if len(parts) != len(parsers):
            raise ValueError(f"{len(parts)} parts")
        return tuple(parse(part) for parse, part in zip(parsers, parts, strict=True))
    except (ValueError, UnicodeError):
        raise InvalidArgument(
            "page_token is not one this service issued",
            [FieldViolation("page_token", "not a token from an earlier page of this list")],
        ) from None


# Parsers for token parts: each returns the value a query may use, or raises ValueError.


def uuid_part(text: str) -> str:
    value = str(uuid.UUID(text))
    if value != text:
        raise ValueError("not a canonical UUID")
    return value


def day_part(text: str) -> date:
    return date.fromisoformat(text)


def instant_part(text: str) -> datetime:
    """An instant with its offset, as UTC: a forged one at the edge of the calendar
    ("0001-01-01T00:00:00+01:00") fails here, as a bad token, not later in the query."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("an instant without an offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("an instant outside the calendar") from None


def matching(pattern: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def parse(text: str) -> str:
        if not compiled.fullmatch(text):
            raise ValueError("not a value this list sorts by")
        return text

    return parse
