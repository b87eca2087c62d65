"""Fixtures of the notify channel tests (the helpers themselves are in support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.notify.support import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
