"""The six services, for the launchers (embedded stack, local distributed stack)."""

from __future__ import annotations

import importlib

from services.chassis.runtime import ServiceDefinition

NAMES = ("customer", "inventory", "order", "production", "ingest", "notify")
DISTRIBUTED_PORTS = {
    "customer": 50051,
    "order": 50052,
    "production": 50053,
    "inventory": 50054,
    "ingest": 50055,
    "notify": 50056,
}


def definitions() -> list[ServiceDefinition]:
    return [importlib.import_module(f"services.{name}.app").definition for name in NAMES]
