"""The fault table: one row per fault (or burst, or poison round), printed at the end of the run
and written to build/faults/latest.md with the evidence behind every non-zero figure."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "build" / "faults"
COLUMNS = ("fault", "requests during it", "recovery time (s)", "lost", "duplicated")


@dataclass
class Row:
    fault: str
    requests: int = 0
    recovery_s: float | None = None
    lost: int = 0
    duplicated: int = 0
    recovered: bool = True
    notes: list[str] = field(default_factory=list)  # figures behind the row (orders, errors, ...)
    problems: list[str] = field(default_factory=list)  # what made it fail, with evidence

    def cells(self) -> list[str]:
        if self.recovery_s is not None:
            recovery = f"{self.recovery_s:.1f}"
        else:
            recovery = "n/a" if self.recovered else "NOT RECOVERED"
        return [self.fault, str(self.requests), recovery, str(self.lost), str(self.duplicated)]


class FaultReport:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.sections: list[tuple[str, str]] = []  # (title, markdown)
        self.started = time.time()
        self.context: list[str] = []

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def section(self, title: str, markdown: str) -> None:
        self.sections.append((title, markdown))

    def table(self) -> str:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(_cell(c) for c in row.cells()) + " |" for row in self.rows]
        return "\n".join(lines)

    def text_table(self) -> str:
        cells = [list(COLUMNS)] + [row.cells() for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
        out = []
        for n, r in enumerate(cells):
            out.append(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(r, widths, strict=True))
                )
            )
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        return "\n".join(out)

    def markdown(self, outcome: str) -> str:
        took = time.time() - self.started
        parts = [
            "# Fault-injection suite: latest run",
            "",
            f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {took:.0f} s, {outcome}. "
            "`make test-faults` writes this file (build/ is git-ignored).",
            "",
            *self.context,
            "",
            self.table(),
            "",
        ]
        for row in self.rows:
            if row.notes or row.problems:
                parts.append(f"## {row.fault}")
                parts.append("")
                parts += [f"- {n}" for n in row.notes]
                parts += [f"- **{p}**" if not p.startswith("    ") else p for p in row.problems]
                parts.append("")
        for title, body in self.sections:
            parts += [f"## {title}", "", body, ""]
        return "\n".join(parts)

    def write(self, outcome: str) -> Path:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUT_DIR / "latest.md"
        path.write_text(self.markdown(outcome))
        return path


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


class LogWatch:
    """Remembers where each log file of a directory ended, to show what was logged since:
    the ERROR/CRITICAL lines and tracebacks' last lines, as evidence for a failed row."""

    INTERESTING = re.compile(
        r"\b(ERROR|CRITICAL|Traceback|Exception|Error:)\b|Can't decode|Retrying in|reconnecting in|reattached"
    )
    # pika's own loggers repeat, at ERROR, what the chassis already logged about a lost broker
    NOISE = re.compile(r"\bpika\.adapters\.|^(Socket|Streaming|AMQP|_Async|Closing|Aborting)")

    def __init__(self, directory: Path):
        self.directory = directory
        self.offsets = {p: p.stat().st_size for p in directory.glob("*.log")} if directory.exists() else {}

    def since(self, per_file: int = 6) -> list[str]:
        found = []
        for path in sorted(self.directory.glob("*.log")):
            start = self.offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            hits = []
            lines = text.splitlines()
            for i, line in enumerate(lines):
                if (
                    self.INTERESTING.search(line)
                    and not line.startswith("  ")
                    and not self.NOISE.search(line)
                ):
                    if line.startswith("Traceback"):
                        # the exception line closes the traceback: show that one
                        j = i + 1
                        while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                            j += 1
                        if j < len(lines):
                            line = f"Traceback ... {lines[j]}"
                    hits.append(line.strip()[:300])
            unique = list(dict.fromkeys(hits))
            for h in unique[:per_file]:
                found.append(f"    {path.name}: {h}")
            if len(unique) > per_file:
                found.append(f"    {path.name}: ... {len(unique) - per_file} more distinct error lines")
        return found
