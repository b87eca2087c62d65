"""The services, for the launchers (embedded stack, local distributed stack)."""

from __future__ import annotations

import importlib

from services.chassis.runtime import ServiceDefinition

# identity last: its demo portal accounts name customers the customer service seeds first
NAMES = ("customer", "inventory", "order", "production", "ingest", "notify", "identity")
DISTRIBUTED_PORTS = {
    "customer": 50051,
    "order": 50052,
    "production": 50053,
    "inventory": 50054,
    "ingest": 50055,
    "notify": 50056,
    "identity": 50059,  # 50057 and 50058: the WMS and marketplace simulators (services/stack.py)
}


def definitions() -> list[ServiceDefinition]:
    return [importlib.import_module(f"services.{name}.app").definition for name in NAMES]
