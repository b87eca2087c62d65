"""Measured work that must run in a process of its own (a baseline's "server", the relay): the
parent calls `run_job(name, args)`, the child runs `python -m bench.worker NAME` with the args as
JSON on stdin and answers one JSON document on stdout, including its own peak RSS."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

from bench.measure import peak_rss_kb
from bench.stacks import ROOT, python_env

# job name -> "module:function"; each function takes the JSON args and returns a JSON-able dict
JOBS = {
    "bare-insert": "bench.cases.write_rpc:bare_insert_job",
    "relay": "bench.cases.relay:relay_job",
    "pika-naive": "bench.cases.relay:pika_naive_job",
    "pika-pipelined": "bench.cases.relay:pika_pipelined_job",
    "scale-query": "bench.cases.scale:query_job",
    "reserve-materials": "bench.cases.reservations:reserve_job",
    "bare-guarded-update": "bench.cases.reservations:bare_guarded_update_job",
}


def run_job(name: str, args: dict, timeout_s: float = 900) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.worker", name],
        input=json.dumps(args),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=python_env(),
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench job {name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    module, _, func = JOBS[sys.argv[1]].partition(":")
    result = getattr(importlib.import_module(module), func)(json.loads(sys.stdin.read()))
    result["peak_rss_kb"] = peak_rss_kb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
