"""One cell of an agent's sheet read as a plain field: text, quantity, price, date. Pure
Python; the cells come as python-calamine yields them (option libraries and custom fields:
sheet_fields.py).

Each reader returns the value or raises `CellError(reason, message_zh, message_en)`; the row
checker adds the row and the column. A message quotes at most ~30 characters of what was typed.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal

Cell = str | int | float | bool | date | datetime | time | timedelta | None

MAX_QUANTITY = 10_000_000
MAX_PRICE_FEN = 1_000_000_000  # 10 million yuan a unit: beyond it a typo, not a price
MAX_YEARS_AHEAD = 5
SHOWN = 30
REPORT_VALUE_MAX = 200  # an original value in the error report (the row number points at the rest)

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BIG = 10**100
_EPOCH = date(1899, 12, 30)  # serial 0 of the 1900 system, counting Lotus's phantom 29 Feb 1900


class CellError(Exception):
    def __init__(self, reason: str, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.reason = reason
        self.message_zh = message_zh
        self.message_en = message_en


def shown(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def trim(text: str) -> str:
    """Without the white space around it: ASCII, ideographic (U+3000), no-break and zero-width."""
    out = text.strip()
    if out and (out[0] in _ZERO_WIDTH or out[-1] in _ZERO_WIDTH):
        out = out.strip(_ZERO_WIDTH).strip()
    return out


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not trim(value))


def original(value: Cell) -> str:
    """The cell as the agent sees it, for the error report (long text cut)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    elif isinstance(value, date | time):
        text = value.isoformat()
    elif isinstance(value, int):
        text = str(value) if abs(value) < _BIG else "…"  # str() refuses ints of over 4,300 digits
    else:
        text = str(value)
    return text if len(text) <= REPORT_VALUE_MAX else text[: REPORT_VALUE_MAX - 1] + "…"


def text(value: Cell, max_length: int, *, free_text: bool) -> str:
    """A text field. Numbers and dates are read as text (a model "2040"); `free_text` also refuses
    a leading + or - (a formula when the value is exported and reopened), except a bare dash."""
    if isinstance(value, str):
        out = trim(value)
    elif isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        out = str(int(value))
    else:
        out = original(value)
    if max_length and len(out) > max_length:
        raise CellError(
            "too_long",
            f"内容过长：{len(out)} 个字，最多 {max_length} 个字",
            f"too long: {len(out)} characters, at most {max_length}",
        )
    if _CONTROL.search(out):
        raise CellError("control_character", "含有不可见的控制字符", "contains invisible control characters")
    if out[:1] in ("=", "@") or (free_text and out[:1] in ("+", "-") and out.strip("-")):
        raise CellError(
            "formula_text",
            f"不能以“{out[0]}”开头（再次导出时会变成公式）",
            f"must not start with “{out[0]}” (it becomes a formula when exported again)",
        )
    return out


def digits(value: str) -> str:
    """Full-width digits and punctuation as ASCII ("１，２００" → "1,200")."""
    return unicodedata.normalize("NFKC", trim(value)).strip()


_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_PLAIN = re.compile(r"\d+(?:\.\d+)?")


def number_text(value: str) -> Decimal | None:
    t = digits(value)
    negative = t.startswith("-")
    t = t.removeprefix("-")
    if len(t) > 30 or not (_PLAIN.fullmatch(t) or _GROUPED.fullmatch(t)):
        return None
    number = Decimal(t.replace(",", ""))
    return -number if negative else number


def _not_a_number(value: Cell, example: str) -> CellError:
    typed = shown(original(value))
    return CellError(
        "not_a_number", f"“{typed}”不是数字，例如 {example}", f"“{typed}” is not a number, e.g. {example}"
    )


def quantity(value: Cell) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _not_a_number(value, "1200")
    if isinstance(value, str):
        number = number_text(value)
        if number is None:
            raise _not_a_number(value, "1200")
    elif isinstance(value, float) and not math.isfinite(value):
        raise _not_a_number(value, "1200")
    else:
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if number != number.to_integral_value():
        raise CellError("not_whole", "必须是整数", "must be a whole number")
    if number <= 0:
        raise CellError("not_positive", "必须大于 0", "must be above 0")
    if number > MAX_QUANTITY:
        raise CellError(
            "too_large",
            f"超过上限 {MAX_QUANTITY:,}",
            f"above the limit of {MAX_QUANTITY:,}",
        )
    return int(number)


_CURRENCY = re.compile(r"^(?:¥|RMB|CNY)\s*|\s*元$", re.IGNORECASE)


def price_fen(value: Cell) -> int | None:
    """Yuan with at most two decimals, as fen. A float cell is read through its shortest repr
    (12.3 → "12.3" → 1230), so binary residue never becomes a fen; a longer repr is refused."""
    if is_blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _not_a_number(value, "12.30")
    if isinstance(value, str):
        number = number_text(_CURRENCY.sub("", digits(value)))
        if number is None:
            raise _not_a_number(value, "12.30")
    elif isinstance(value, float) and not math.isfinite(value):
        raise _not_a_number(value, "12.30")
    else:
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if number <= 0:
        raise CellError(
            "not_positive",
            "必须大于 0（留空则按合同价）",
            "must be above 0 (leave it empty for the contract price)",
        )
    fen = number * 100
    if fen != fen.to_integral_value():
        raise CellError(
            "too_precise", "最多两位小数（精确到分）", "more than 2 decimals (it is exact to the fen)"
        )
    if fen > MAX_PRICE_FEN:
        raise CellError("too_large", "超过上限 1000 万元", "above 10 million yuan")
    return int(fen)


_YMD = re.compile(r"(\d{4})([/.-])(\d{1,2})\2(\d{1,2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
_YMD_ZH = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]")
_MD_ZH = re.compile(r"(\d{1,2})月(\d{1,2})[日号]")
DATE_FORMATS = "2026/3/15、2026-3-15、3月15日"


def _not_a_date(value: Cell) -> CellError:
    typed = shown(original(value))
    return CellError(
        "not_a_date",
        f"“{typed}”不是日期，请写成 {DATE_FORMATS} 或日期格式的单元格",
        f"“{typed}” is not a date: write 2026/3/15, 2026-3-15, 3月15日 or use a date cell",
    )


def day(value: Cell, today: date) -> tuple[date, bool]:
    """A day and whether its year was inferred (`m月d日`: this year, or next year when the day is
    more than ~6 months gone). Serials are the 1900 system, where serial 60 is 29 Feb 1900."""
    if isinstance(value, datetime):
        return value.date(), False
    if isinstance(value, date):
        return value, False
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not (math.isfinite(value) and 1 <= value < 2958466) or math.floor(value) == 60:
            raise _not_a_date(value)
        serial = math.floor(value)
        return _EPOCH + timedelta(days=serial if serial > 60 else serial + 1), False
    if not isinstance(value, str):
        raise _not_a_date(value)
    t = digits(value)
    try:
        if m := _YMD.fullmatch(t):
            return date(int(m[1]), int(m[3]), int(m[4])), False
        if m := _YMD_ZH.fullmatch(t):
            return date(int(m[1]), int(m[2]), int(m[3])), False
        if m := _MD_ZH.fullmatch(t):
            guess = date(today.year, int(m[1]), int(m[2])) if (int(m[1]), int(m[2])) != (2, 29) else None
            if guess is None or guess < today - timedelta(days=183):
                guess = date(today.year + 1, int(m[1]), int(m[2]))
            return guess, True
    except ValueError:
        pass  # 2026/2/30, or 2月29日 with no leap year ahead
    raise _not_a_date(value)


def due_date(value: Cell, today: date) -> tuple[date, bool]:
    due, inferred = day(value, today)
    if due < today:
        raise CellError(
            "in_past",
            f"{due.isoformat()} 早于今天（{today.isoformat()}）",
            f"{due.isoformat()} is before today ({today.isoformat()})",
        )
    if (due - today).days > 366 * MAX_YEARS_AHEAD:
        raise CellError(
            "too_far",
            f"{due.isoformat()} 在 {MAX_YEARS_AHEAD} 年以后",
            f"{due.isoformat()} is more than {MAX_YEARS_AHEAD} years ahead",
        )
    return due, inferred
