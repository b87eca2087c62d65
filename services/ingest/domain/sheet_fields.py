"""A cell read as its column's field: option libraries (with the lenient match agents need) and
a business line's custom fields, on top of the plain readers of sheet_cells. Pure Python.

Custom field values come out spelled as the order service's CustomFieldSpec.normalise stores
them, so its own check passes unchanged when the order is created; this is a local equivalent,
not an import of the order service.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import date
from decimal import Decimal

from services.ingest.domain import sheet_cells as cells
from services.ingest.domain.sheet_cells import Cell, CellError, day, original, shown, text
from services.ingest.domain.sheet_columns import Column


def read_field(column: Column, value: Cell, today: date) -> tuple[object, bool]:
    """The cell read as its column's field, and whether a year was inferred."""
    key = column.key
    if column.custom is not None:
        spec = column.custom
        return custom_value(spec.type, spec.choices, value, today, column.max_length)
    if key == "quantity":
        return cells.quantity(value), False
    if key == "unit_price":
        return cells.price_fen(value), False
    if key == "due_date":
        return cells.due_date(value, today)
    typed = text(value, column.max_length, free_text=not column.library)
    return option(typed, column.library), False


def _option_keys(value: str) -> set[str]:
    norm = " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    first, _, rest = norm.partition(" ")
    return {norm, first, rest} - {""}


def option(typed: str, library: tuple[str, ...]) -> str:
    """A value of an option library (empty library: free text). Besides the exact value, its
    Chinese or English half alone is read as it when that names exactly one option ("银色" or
    "silver" for "银色 silver"): agents type from memory, the order stores the library's spelling."""
    if not library or typed in library:
        return typed
    key = " ".join(unicodedata.normalize("NFKC", typed).casefold().split())
    hits = [o for o in library if key in _option_keys(o)]
    if len(hits) == 1:
        return hits[0]
    some = [shown(o) for o in library[:6]] + (["…"] if len(library) > 6 else [])
    raise CellError(
        "not_in_list",
        f"“{shown(typed)}”不在可选项中（{'、'.join(some)}）",
        f"“{shown(typed)}” is not one of: {', '.join(some)}",
    )


def _invalid(value: Cell, zh: str, en: str) -> CellError:
    typed = shown(original(value))
    return CellError("invalid", f"“{typed}”{zh}", f"“{typed}”: {en}")


def custom_value(
    kind: str, choices: tuple[str, ...], value: Cell, today: date, max_length: int
) -> tuple[str, bool]:
    """A custom field's value as the order stores it (the order service's CustomFieldSpec
    spelling, so its own check passes unchanged) and whether a year was inferred."""
    if kind == "date":
        when, inferred = day(value, today)
        return when.isoformat(), inferred
    if kind == "boolean":
        if isinstance(value, bool):
            return ("true" if value else "false"), False
        typed = cells.digits(value).casefold() if isinstance(value, str) else ""
        if typed in ("true", "是", "yes"):
            return "true", False
        if typed in ("false", "否", "no"):
            return "false", False
        raise _invalid(value, "应为 是 或 否", "expected 是/否 (yes or no)")
    if kind in ("integer", "decimal"):
        number: Decimal | None = None
        if isinstance(value, str):
            number = cells.number_text(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            finite = isinstance(value, int) or math.isfinite(value)
            number = (Decimal(value) if isinstance(value, int) else Decimal(repr(value))) if finite else None
        if kind == "integer":
            if number is None or number != number.to_integral_value() or abs(number) >= 10**18:
                raise _invalid(value, "应为整数，例如 12", "expected a whole number, e.g. 12")
            return str(int(number)), False
        if number is None or len(str(number)) > 32:
            raise _invalid(value, "应为数字，例如 1.5", "expected a number, e.g. 1.5")
        return str(number), False
    typed = text(value, max_length, free_text=kind == "text")
    return (option(typed, choices) if kind == "choice" else typed), False
