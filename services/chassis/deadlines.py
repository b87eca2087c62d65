"""The deadline of the call being served, so calls it makes to other services share it: a
client that allows 2 s for a phone order gets an answer (or DEADLINE_EXCEEDED) within 2 s,
however many services the order passes through, instead of each hop starting its own 5 or 10 s.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

_expires_at: contextvars.ContextVar[float | None] = contextvars.ContextVar("oms_deadline", default=None)


@contextmanager
def serving_until(time_remaining: float | None) -> Iterator[None]:
    """Run a block as part of a call that must be answered within `time_remaining` seconds
    (None: the caller set no deadline)."""
    token = _expires_at.set(None if time_remaining is None else time.monotonic() + time_remaining)
    try:
        yield
    finally:
        _expires_at.reset(token)


def remaining() -> float | None:
    """Seconds left for the call being served; None outside a call or without a deadline."""
    expires_at = _expires_at.get()
    return None if expires_at is None else expires_at - time.monotonic()
