"""Material quantities, exactly: the ledger counts integer millionths of a material's unit
(0.002 L of plating solution per hinge × 5000 hinges = 10 L, not 9.999999999). Floats exist only at
the edges (the BOM file, the WMS's JSON, proto doubles) and are rounded once on the way in."""

from __future__ import annotations

SCALE = 1_000_000  # millionths: the BOM explosion rounds to 6 decimals (services/bom.py `compare`)


def exact(value: float) -> int:
    """A quantity from the edge (BOM, WMS, proto) as millionths of its unit."""
    return round(value * SCALE)


def shown(millionths: int) -> float:
    """Millionths as the unit's decimal number, for the edges."""
    return millionths / SCALE


def text(millionths: int) -> str:
    """As people read it in a message: 600, 10.5, 0.002 (no trailing zeros)."""
    whole, frac = divmod(abs(millionths), SCALE)
    sign = "-" if millionths < 0 else ""
    return f"{sign}{whole}" + (f".{frac:06d}".rstrip("0") if frac else "")
