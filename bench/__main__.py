"""`python -m bench [--quick] [--only CASE ...] [--skip CASE ...]`: run the cases, print one table,
write it as JSON to build/bench/latest.json (and a timestamped copy)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
import traceback
from pathlib import Path

from bench.config import FULL, QUICK
from bench.report import RESULTS_DIR, Report, machine, table
from bench.stacks import Environment

CASES = ("read", "write", "relay", "flow", "scale", "replicas", "reservations", "board", "ingest", "edge")
MODULES = {
    "read": "bench.cases.read_rpc",
    "write": "bench.cases.write_rpc",
    "relay": "bench.cases.relay",
    "flow": "bench.cases.order_flow",
    "scale": "bench.cases.scale",
    "replicas": "bench.cases.replicas",
    "reservations": "bench.cases.reservations",
    "board": "bench.cases.board",
    "ingest": "bench.cases.ingest",
    "edge": "bench.cases.edge_http",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts (CI): proves the suite runs")
    parser.add_argument("--only", nargs="+", choices=CASES, help="run only these cases")
    parser.add_argument("--skip", nargs="+", choices=CASES, default=[], help="leave these cases out")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default build/bench)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # the stack probes queues before they exist
    cfg = QUICK if args.quick else FULL
    selected = [c for c in (args.only or CASES) if c not in args.skip]

    report = Report(mode="quick" if args.quick else "full")
    facts = machine()
    print(f"bench ({report.mode}): {', '.join(selected)} on {facts['nproc']} x {facts['cpu']}", flush=True)
    env = Environment()
    failed = []
    try:
        for case in selected:
            started = time.monotonic()
            print(f"  {case} ...", end="", flush=True)
            try:
                importlib.import_module(MODULES[case]).run(env, cfg, report)
                print(f" {time.monotonic() - started:.0f}s", flush=True)
            except Exception:
                failed.append(case)
                print(" FAILED", flush=True)
                traceback.print_exc()
    finally:
        env.close()
    print()
    print(table(report.rows))
    for note in report.notes:
        print(f"  * {note}")
    path = report.write(args.out)
    print(f"\nwritten to {path} (and latest.json beside it)")
    if failed:
        print(f"cases that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
