"""Faults a test (or a person trying the system) switches on: latency, a share of 503s, a WMS
answering 503 to everything ("down"), requests held without an answer ("hang")."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields, replace
from typing import Any

from services.wms_simulator.store import SimError

HANG_LIMIT_S = 600.0  # a hung request is answered (503) after this, so no thread waits forever


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0  # added before every /v1 request is handled
    error_rate: float = 0.0  # share of /v1 requests answered 503 (nothing applied), 0..1
    down: bool = False  # every /v1 request and /healthz answered 503
    # /v1 requests held unanswered until hang is switched off, then served: a write a client gave up
    # on still lands, late, as with a real slow WMS (503 if the simulator stops first)
    hang: bool = False

    def check(self) -> Faults:
        if not (isinstance(self.latency_ms, int | float) and 0 <= self.latency_ms <= 600_000):
            raise SimError(400, "bad_request", "latency_ms must be a number of milliseconds, 0..600000")
        if not (isinstance(self.error_rate, int | float) and 0 <= self.error_rate <= 1):
            raise SimError(400, "bad_request", "error_rate must be a number from 0 to 1")
        for name in ("down", "hang"):
            if not isinstance(getattr(self, name), bool):
                raise SimError(400, "bad_request", f"{name} must be true or false")
        return self


class FaultSwitch:
    """The current faults; changing them wakes every request waiting out a latency or a hang,
    so it looks again (switching `hang` off answers the held requests at once)."""

    def __init__(self, faults: Faults):
        self._lock = threading.Lock()
        self._faults = faults.check()
        self._changed = threading.Event()
        self.stopping = threading.Event()

    @property
    def now(self) -> Faults:
        return self._faults

    def set(self, **changes: Any) -> Faults:
        unknown = set(changes) - {f.name for f in fields(Faults)}
        if unknown:
            raise SimError(400, "bad_request", f"unknown fault(s): {', '.join(sorted(unknown))}")
        with self._lock:
            self._faults = replace(self._faults, **changes).check()
            changed, self._changed = self._changed, threading.Event()
        changed.set()
        return self._faults

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, less if the faults change or the simulator stops."""
        if seconds > 0 and not self.stopping.is_set():
            self._changed.wait(seconds)

    def suffer(self) -> None:
        """Apply the faults to one /v1 request: wait, hang, or raise a 503."""
        faults = self._faults
        if faults.latency_ms:
            self.wait(faults.latency_ms / 1000)
        held = 0.0
        while self._faults.hang and not self.stopping.is_set() and held < HANG_LIMIT_S:
            self.wait(1.0)
            held += 1.0
        faults = self._faults
        if self.stopping.is_set():
            raise SimError(503, "unavailable", "the WMS simulator is stopping")
        if faults.down or faults.hang:
            raise SimError(503, "unavailable", "the WMS is down (simulated)")
        if faults.error_rate and random.random() < faults.error_rate:
            raise SimError(
                503, "unavailable", "the WMS failed this request (simulated error); nothing was applied"
            )
