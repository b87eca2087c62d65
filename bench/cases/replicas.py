"""Case 6: one service as 1 and as 2 processes behind one port (SO_REUSEPORT, as pods behind one
address). CreateOrder from 8 clients, each with a channel and connection of its own so the kernel
can spread them, on a fresh distributed stack with one order process, then (that one stopped, so
the machine stays quiet) on a fresh one with two. Ratio = ops/s with 2 processes / with 1."""

from __future__ import annotations

from bench.cases.write_rpc import creates
from bench.config import Config
from bench.measure import CpuMeter, process_tree
from bench.report import Report, Row, compare
from bench.stacks import Distributed, Environment

CLIENTS = 8


def run(env: Environment, cfg: Config, report: Report) -> None:
    env.stop_shared()  # one stack at a time on the machine
    rows, split = [], ""
    for processes in (1, 2):
        dist = Distributed(env.work_dir, replicas={"order": processes} if processes > 1 else None)
        try:
            dist.wait_listening("order", processes)
            pids = {k: pid for k, pid in dist.pids().items() if k == "order" or k.startswith("order-")}
            meters = {k: CpuMeter(process_tree(pid)) for k, pid in pids.items()}
            sample = creates(
                dist.addresses(),
                dist.pid("order"),
                cfg.replica_calls,
                CLIENTS,
                min(cfg.warmup, 50),
                (*meters.values(),),
            )
        finally:
            dist.stop()
        rows.append(Row.of(f"replicas.CreateOrder.pg.{CLIENTS}x.{processes}proc", sample))
        if processes > 1:
            split = ", ".join(f"{k} {m.seconds:.1f} s" for k, m in meters.items())
    one, two = rows
    compare(two, one)
    two.aim, two.met = "ops/s ratio > 1 (informational)", two.ratio > 1
    report.add(one, two)
    report.notes.append(
        f"replicas: {CLIENTS} CreateOrder clients, each its own connection, on a fresh distributed stack "
        "with 1 order process, then on another with 2 (DistributedStack replicas, OMS_REUSE_PORT=1, "
        f"one port); CPU of each order process during the 2-process run (how the kernel spread the "
        f"connections): {split}; peak RSS = the first order process"
    )
