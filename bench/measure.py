"""Timing, memory and CPU: latencies per operation, percentiles, peak RSS and CPU time from /proc."""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
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


def run_concurrent(
    op: Callable[[], object],
    count: int,
    callers: int,
    warmup: int = 0,
    setup: Callable[[], object] | None = None,
) -> Sample:
    """`callers` threads share `count` operations; all start together behind a barrier, each
    after its own `setup()` (say, connecting its channel), which is not timed."""
    for _ in range(warmup):
        op()
    per_caller = [count // callers + (1 if i < count % callers else 0) for i in range(callers)]
    latencies: list[list[float]] = [[] for _ in range(callers)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(callers + 1)

    def caller(i: int) -> None:
        try:
            if setup is not None:
                setup()
            ready = True
        except BaseException as exc:
            errors.append(exc)
            ready = False
        barrier.wait()  # even after a failed setup, or the others would wait for ever
        try:
            for _ in range(per_caller[i] if ready else 0):
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


# CPU time from /proc: utime + stime in clock ticks (fields 14 and 15 of /proc/<pid>/stat), for
# every thread of the process. /proc/<pid>/stat is world-readable, PostgreSQL backends' included.
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (index 0 = state), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """Live children, grandchildren... of `pid` (a server that forks workers)."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            parent_of[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parent_of.items() if parent in frontier}
        found.extend(frontier)
    return found


def process_tree(pid: int) -> Callable[[], list[int]]:
    """For a CpuMeter: the process and whatever it has forked at the time of asking."""
    return lambda: [pid, *descendants(pid)]


def pids_running(fragment: str) -> list[int]:
    """Pids whose command line contains `fragment` (a server the bench did not start)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if fragment in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
    return found


def cpu_ticks(pids: Iterable[int]) -> dict[tuple[int, int], int]:
    """{(pid, start time): utime + stime ticks} for those of `pids` still alive; the start time
    tells a process from a later one given the same pid."""
    ticks = {}
    for pid in pids:
        if (fields := _stat_fields(pid)) is not None:
            ticks[(pid, int(fields[19]))] = int(fields[11]) + int(fields[12])
    return ticks


class CpuMeter:
    """CPU seconds spent inside a `with` block by the processes `pids()` names (asked at the start
    and again at the end): only those alive at both count; one that came or went in between
    (a PostgreSQL backend of a pool that grew) is left out, so the figure is a lower bound."""

    def __init__(self, pids: Callable[[], Iterable[int]]):
        self._pids = pids
        self._before: dict[tuple[int, int], int] = {}
        self.seconds = 0.0
        self.counted = 0  # processes alive at both ends
        self.left_out = 0  # processes seen at one end only

    def __enter__(self) -> CpuMeter:
        self._before = cpu_ticks(self._pids())
        return self

    def __exit__(self, *_exc: object) -> None:
        after = cpu_ticks(self._pids())
        both = self._before.keys() & after.keys()
        self.seconds = sum(after[k] - self._before[k] for k in both) / CLK_TCK
        self.counted, self.left_out = len(both), len(self._before.keys() ^ after.keys())


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every core; not idle, not iowait) since boot."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / CLK_TCK
