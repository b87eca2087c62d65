"""Agents' Excel files: the checks on an upload, its rows as python-calamine reads them, and the two
files we hand out (the per-tenant template and the error report, services/ingest/adapters/
xlsx_writer.py).

Only .xlsx (and .xlsm/.xltx, the same package; macros are never run) is read. .xls, .xlsb and .ods
are refused with a "save it as .xlsx" message: calamine reads their formulas' cached values as
plain values and we could not tell them apart (for .xlsx we read the sheet's XML ourselves,
services/ingest/adapters/xlsx_scan.py).

A read is `check_file` (size, format, zip bomb), then the memory and formula scan of the first
visible worksheet, then calamine's stream of rows; the rows go to
services/ingest/domain/sheet_rows.py with the formula cells.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from python_calamine import CalamineSheet, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from services.ingest.adapters.xlsx_package import CORRUPT, open_package, refused
from services.ingest.adapters.xlsx_scan import FormulaCells, scan_sheet
from services.ingest.adapters.xlsx_writer import error_report_xlsx, template_xlsx
from services.ingest.domain.sheet_cells import Cell
from services.ingest.domain.sheet_rows import SheetRefused

__all__ = [
    "FormulaCells",
    "SheetRefused",
    "SheetRows",
    "check_file",
    "error_report_xlsx",
    "read_rows",
    "template_xlsx",
]


class SheetRows(NamedTuple):
    sheet_name: str  # the first visible worksheet
    rows: Iterator[Sequence[Cell]]  # rows[i][j]: Excel row i+1, column j (A = 0)
    formula_cells: FormulaCells


def check_file(data: bytes) -> None:
    """SheetRefused unless `data` is an .xlsx package within the limits (10 MB; 100 MB inflated,
    no member inflating 200× or past its declared size) with a visible worksheet, whatever the
    file's name said."""
    open_package(data)


def read_rows(data: bytes) -> SheetRows:
    """The first visible worksheet's name, its rows (row i is Excel row i+1, cell j column j from
    A) and its formula cells. Raises SheetRefused for a file `check_file` refuses, for a sheet too
    large to load, and for one calamine cannot read."""
    package = open_package(data)
    formulas = scan_sheet(package)
    with _calamine_errors():
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        visible = [
            m.name
            for m in book.sheets_metadata
            if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet
        ]
        if not visible or visible[0] != package.sheet_name:
            raise refused(*CORRUPT)  # calamine would read another sheet than the one scanned
        sheet = book.get_sheet_by_name(package.sheet_name)
    return SheetRows(package.sheet_name, _rows(sheet, formulas), formulas)


def _rows(sheet: CalamineSheet, formulas: FormulaCells) -> Iterator[Sequence[Cell]]:
    """calamine's rows from row 1 (it pads the rows above its first cell, not the columns left of
    it), then empty rows down to the last formula: a formula cell without a cached value is no
    cell to calamine, but the row must still be refused."""
    pad: list[Cell] = [None] * (sheet.start[1] if sheet.start else 0)
    count = 0
    with _calamine_errors():
        for row in sheet.iter_rows():
            count += 1
            yield [*pad, *row] if pad else row
    for _ in range(count, formulas.last_row + 1):
        yield []


@contextmanager
def _calamine_errors() -> Iterator[None]:
    """calamine's errors, and a Rust panic (pyo3 raises it as a BaseException), as a refusal."""
    try:
        yield
    except SheetRefused:
        raise
    except Exception as e:
        raise refused(*CORRUPT) from e
    except BaseException as e:
        if type(e).__name__ == "PanicException":
            raise refused(*CORRUPT) from e
        raise
