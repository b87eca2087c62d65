"""Results: one row per measured case, printed as a table and written as JSON under build/bench/."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import Sample

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "build" / "bench"  # build/ is git-ignored


@dataclass
class Row:
    case: str
    count: int
    ops_s: float
    p50_ms: float | None
    p99_ms: float | None
    peak_rss_mb: float | None
    baseline: str = ""  # the row this one is compared with ("" for a baseline itself)
    ratio: float = 1.0  # this figure / the baseline's figure, both from this run
    ratio_of: str = "ops/s"  # which figure the ratio compares
    aim: str = ""  # e.g. "ops/s ratio >= 0.5" or "p99 <= 1000 ms"; shown, never asserted
    met: bool | None = None
    note: str = ""

    @classmethod
    def of(cls, case: str, sample: Sample, **kw) -> Row:
        p50, p99 = sample.p(50), sample.p(99)
        return cls(
            case=case,
            count=sample.count,
            ops_s=sample.ops_per_s,
            p50_ms=None if p50 is None else p50 * 1000,
            p99_ms=None if p99 is None else p99 * 1000,
            peak_rss_mb=None if sample.peak_rss_kb is None else sample.peak_rss_kb / 1024,
            **kw,
        )

    def figure(self, name: str) -> float | None:
        return {"ops/s": self.ops_s, "p50": self.p50_ms, "p99": self.p99_ms}[name]


def compare(row: Row, baseline: Row, *, of: str = "ops/s", aim: str = "") -> Row:
    """Set row.ratio = row's figure / baseline's figure and judge it against `aim` (">= x" or "<= x")."""
    mine, theirs = row.figure(of), baseline.figure(of)
    row.baseline, row.ratio_of = baseline.case, of
    row.ratio = mine / theirs if mine is not None and theirs else math.nan
    if aim:
        op, limit = aim.split()
        row.aim = f"{of} ratio {aim}"
        row.met = row.ratio >= float(limit) if op == ">=" else row.ratio <= float(limit)
    return row


def spread(row: Row, limit: float) -> Row:
    """Judge a row by its own tail: ratio = its p99 / its p50, aim "p99 <= limit x p50"."""
    row.baseline, row.ratio_of = row.case, "p99/p50"
    row.ratio = row.p99_ms / row.p50_ms if row.p99_ms is not None and row.p50_ms else math.nan
    row.aim = f"p99 <= {limit:g} x p50"
    row.met = row.ratio <= limit
    return row


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


COLUMNS = ("case", "count", "ops/s", "p50 ms", "p99 ms", "peak RSS MB", "baseline", "ratio", "aim")


def cells(row: Row) -> list[str]:
    aim = ""
    if row.aim:
        aim = f"{row.aim}: " + ("met" if row.met else "MISSED")
    ratio = f"{row.ratio:.2f}" if row.baseline else "1 (baseline)"
    return [
        row.case,
        str(row.count),
        _fmt(row.ops_s),
        _fmt(row.p50_ms, 2),
        _fmt(row.p99_ms, 2),
        _fmt(row.peak_rss_mb, 0),
        row.baseline or "-",
        ratio,
        aim,
    ]


def table(rows: list[Row], markdown: bool = False) -> str:
    body = [cells(r) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(c) + " |" for c in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h) for i, h in enumerate(COLUMNS)]
    numeric = {1, 2, 3, 4, 5, 7}
    out = []
    for cols in [list(COLUMNS), *body]:
        padded = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cols, widths, strict=True))
        ]
        out.append("  ".join(padded).rstrip())
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


@dataclass
class Report:
    mode: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "started": self.started.isoformat(),
            "machine": machine(),
            "rows": [asdict(r) for r in self.rows],
            "notes": self.notes,
            "markdown": table(self.rows, markdown=True),
        }

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        doc = json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=True)
        path = directory / f"results-{self.started:%Y%m%dT%H%M%SZ}.json"
        path.write_text(doc)
        (directory / "latest.json").write_text(doc)
        return path
