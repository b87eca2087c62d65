"""What the simulator accepts: every field of a request is checked, and a bad one is a 400 with a
message naming it."""

from __future__ import annotations

import math
import re
from typing import Any

from services.wms_simulator.store import Line, SimError

MAX_LINES = 500
WAREHOUSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
RESERVATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def text(value: Any, name: str, max_len: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise SimError(400, "bad_request", f"{name} must be a string")
    value = value.strip()
    if required and not value:
        raise SimError(400, "bad_request", f"{name} is required")
    if len(value) > max_len:
        raise SimError(400, "bad_request", f"{name} is longer than {max_len} characters")
    if CONTROL.search(value):
        raise SimError(400, "bad_request", f"{name} must be one line of text (no control characters)")
    return value


def number(value: Any, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SimError(400, "bad_request", f"{name} must be a number")
    if positive and value <= 0:
        raise SimError(400, "bad_request", f"{name} must be greater than 0, not {value:g}")
    if value < 0:
        raise SimError(400, "bad_request", f"{name} must not be negative, not {value:g}")
    if value > 1e12:
        raise SimError(400, "bad_request", f"{name} is too large")
    return float(value)


def warehouse_of(value: str) -> str:
    if not WAREHOUSE.match(value):
        raise SimError(400, "bad_request", f"warehouse {value!r} must be letters, digits, _ . - (at most 32)")
    return value


def reservation_id_of(value: str) -> str:
    if not RESERVATION_ID.match(value):
        raise SimError(
            400, "bad_request", f"reservation id {value!r} must be letters, digits, _ . : - (at most 128)"
        )
    return value


def object_of(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SimError(400, "bad_request", "the body must be a JSON object")
    return body


def parse_lines(value: Any) -> list[Line]:
    if not isinstance(value, list) or not value:
        raise SimError(400, "bad_request", "lines must be a non-empty list")
    if len(value) > MAX_LINES:
        raise SimError(400, "bad_request", f"at most {MAX_LINES} lines")
    lines, seen = [], set()
    for i, raw in enumerate(value):
        raw = object_of(raw)
        material = text(raw.get("material"), f"lines[{i}].material", 200)
        if material in seen:
            raise SimError(
                400, "bad_request", f"lines[{i}]: {material} appears twice; give one line per material"
            )
        seen.add(material)
        lines.append(
            Line(
                material,
                text(raw.get("unit"), f"lines[{i}].unit", 16),
                number(raw.get("quantity"), f"lines[{i}].quantity", positive=True),
            )
        )
    return lines
