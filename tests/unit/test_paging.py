"""Page tokens are opaque base64 the service wrote, and still the caller's input once decoded:
each part goes through a parser before it reaches a query, and anything else is INVALID_ARGUMENT
on page_token (never INTERNAL, never a query with a NUL byte in it)."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest

from services.chassis.errors import InvalidArgument
from services.chassis.paging import (
    MAX_PAGE_SIZE,
    day_part,
    decode_token,
    encode_token,
    instant_part,
    matching,
    page_size,
    uuid_part,
)

ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
CODE = matching(r"[A-Z0-9][A-Z0-9_-]{0,31}")


def forge(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_a_token_round_trips_its_parts_through_their_parsers():
    at = datetime(2026, 11, 25, 9, 30, 0, 123456, tzinfo=UTC)

    assert decode_token(encode_token(at.isoformat(), ID), instant_part, uuid_part) == (at, ID)
    assert decode_token(encode_token("2026-12-01", ID), day_part, uuid_part) == (date(2026, 12, 1), ID)
    assert decode_token(encode_token("MIDEA-SD"), CODE) == ("MIDEA-SD",)


@pytest.mark.parametrize(
    ("token", "parsers"),
    [
        (forge("2026-12-01|\x00' OR 1=1"), (day_part, uuid_part)),  # a NUL PostgreSQL would refuse
        (forge("2026-13-01|" + ID), (day_part, uuid_part)),
        (forge("2026-11-25T09:30:00|" + ID), (instant_part, uuid_part)),  # an instant needs its offset
        (forge("0001-01-01T00:00:00+01:00|" + ID), (instant_part, uuid_part)),  # before year 1 in UTC
        (forge("9999-12-31T23:59:59-01:00|" + ID), (instant_part, uuid_part)),  # after 9999 in UTC
        (forge(ID.upper()), (uuid_part,)),  # not what this service writes
        (forge("midea-sd"), (CODE,)),
        (forge("MIDEA-SD|extra"), (CODE,)),  # one part too many
        (forge("no-bar"), (day_part, uuid_part)),  # one too few
        ("not base64 at all!", (CODE,)),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), (CODE,)),  # not UTF-8
        ("", (CODE,)),
    ],
)
def test_anything_this_service_did_not_write_is_a_bad_page_token(token, parsers):
    with pytest.raises(InvalidArgument) as caught:
        decode_token(token, *parsers)

    [violation] = caught.value.violations
    assert violation.field == "page_token"


def test_page_sizes_have_a_default_and_a_ceiling():
    assert page_size(0, default=50) == 50
    assert page_size(7, default=50) == 7
    assert page_size(10_000, default=50) == MAX_PAGE_SIZE == 500
