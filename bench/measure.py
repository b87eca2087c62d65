"""Timing and memory: latencies per operation, percentiles, peak RSS from /proc."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Sample:
    """What one measured run produced: operation count, wall time, per-operation latencies (s)."""

    count: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    peak_rss_kb: int | None = None

    @property
    def ops_per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def p(self, q: float) -> float | None:
        return percentile(self.latencies, q)

    def to_json(self) -> dict:
        return {
            "count": self.count,
            "seconds": self.seconds,
            "latencies": self.latencies,
            "peak_rss_kb": self.peak_rss_kb,
        }

    @classmethod
    def from_json(cls, doc: dict) -> Sample:
        return cls(doc["count"], doc["seconds"], list(doc.get("latencies", [])), doc.get("peak_rss_kb"))


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def run_sequential(op: Callable[[], object], count: int, warmup: int = 0) -> Sample:
    for _ in range(warmup):
        op()
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        op()
        latencies.append(time.perf_counter() - t0)
    return Sample(count, time.perf_counter() - started, latencies)


def run_concurrent(op: Callable[[], object], count: int, callers: int, warmup: int = 0) -> Sample:
    """`callers` threads share `count` operations; all start together behind a barrier."""
    for _ in range(warmup):
        op()
    per_caller = [count // callers + (1 if i < count % callers else 0) for i in range(callers)]
    latencies: list[list[float]] = [[] for _ in range(callers)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(callers + 1)

    def caller(i: int) -> None:
        barrier.wait()
        try:
            for _ in range(per_caller[i]):
                t0 = time.perf_counter()
                op()
                latencies[i].append(time.perf_counter() - t0)
        except BaseException as exc:  # reported after join; a silent thread would skew the figure
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(callers)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return Sample(count, seconds, [x for lat in latencies for x in lat])


def _status_kb(pid: int | str, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def peak_rss_kb(pid: int | str = "self") -> int | None:
    """VmHWM: the process's resident-set high-water mark since start (or since `reset_peak_rss`)."""
    return _status_kb(pid, "VmHWM")


def reset_peak_rss(pid: int) -> None:
    """Reset VmHWM to the current RSS, so a long-lived server's peak is attributed to one case
    (writing 5 to clear_refs is the kernel's documented way; needs to own the process)."""
    # Where it is refused, the figure is the peak since start: still an upper bound.
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
