"""Benchmarks: `make bench` measures the chassis, the event relay and the order flow, each against a
baseline measured in the same run on the same machine (see README, "Performance")."""
