"""An agent's order sheet, row by row: which rows become orders and which come back in the error
report with the row, the column and why. Pure Python (no file access: the adapter reads the
workbook, services/ingest/adapters/spreadsheets.py).

The header row is found by its content among the first non-blank rows (agents put title rows
above it), its columns in any order. A row is rejected with every problem it has; a good row may
carry warnings (a year read into `3月15日`). Formula cells are never read, not even their cached
value: the row is rejected. Text starting with = or @ is refused, as is free text starting with
+ or - (all formulas once the value is exported and reopened), except a bare dash.

`open_sheet` streams; it raises `SheetRefused` at the 10,001st data row, so an importer either
reads the whole stream before creating any order or uses `read_sheet`, which returns only once
the whole sheet is read (nothing is imported from a refused file).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from datetime import date

from services.chassis.errors import FieldViolation, InvalidArgument
from services.chassis.tenant_config import TenantConfig
from services.ingest.domain import sheet_cells as cells
from services.ingest.domain.sheet_cells import Cell, CellError
from services.ingest.domain.sheet_columns import (
    Column,
    columns_for,
    header_index,
    match_header,
    required_keys,
)
from services.ingest.domain.sheet_fields import read_field

MAX_DATA_ROWS = 10_000
HEADER_SCAN_ROWS = 20  # non-blank rows searched for the header
LABEL_MAX = 100
HEADER_MIN_MATCHES = 3  # known columns a row needs to be the header ("客户名称：华顺" rows are not)


class SheetRefused(InvalidArgument):
    """The whole file is refused; nothing of it is imported."""

    def __init__(self, code: str, message_zh: str, message_en: str):
        # The uploaded file is the request's `data` field: the caller sees the reason code there.
        super().__init__(
            f"{message_zh} / {message_en}", [FieldViolation("data", f"{code}: {message_zh} / {message_en}")]
        )
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True)
class RowProblem:
    row_no: int  # the Excel row number (1-based)
    column: str  # the column's header as in the sheet ("数量"); "" for the whole row
    code: str  # e.g. "quantity.not_a_number", "cell.formula", "row.duplicate"
    message_zh: str
    message_en: str
    values: tuple[str, ...] = ()  # the row as the agent typed it, one string per header column
    warning: bool = False  # True: the row was imported all the same


@dataclass(frozen=True)
class AgentRow:
    row_no: int
    customer_name: str
    product_model: str
    quantity: int
    unit_price_fen: int | None  # None: empty, the contract price applies
    surface_treatment: str
    colour: str
    packaging: str
    delivery_address: str
    due_date: date
    note: str
    custom_fields: dict[str, str] = field(default_factory=dict)
    warnings: list[RowProblem] = field(default_factory=list)
    # The row's cells as read, one per header column (formula cells blank): a problem found later
    # (an unknown customer, the order service refusing) still shows the row as typed (`problem`).
    source: tuple[Cell, ...] = field(default=(), compare=False, repr=False)

    def key(self) -> tuple[object, ...]:
        """What makes two rows the same order line (not the row number, not the warnings)."""
        return (
            self.customer_name,
            self.product_model,
            self.quantity,
            self.unit_price_fen,
            self.surface_treatment,
            self.colour,
            self.packaging,
            self.delivery_address,
            self.due_date,
            self.note,
            tuple(sorted(self.custom_fields.items())),
        )


def problem(row: AgentRow, column: str, code: str, message_zh: str, message_en: str) -> RowProblem:
    """A problem with a row that passed the sheet's checks, for the same error report."""
    return RowProblem(
        row.row_no, column, code, message_zh, message_en, tuple(map(cells.original, row.source))
    )


@dataclass
class Sheet:
    header_row: int
    labels: tuple[str, ...]  # the header row's cells, as the error report repeats them
    notices: list[RowProblem]  # about the whole sheet (ignored columns), all warnings
    items: Iterator[AgentRow | RowProblem]  # a rejected row gives one RowProblem per problem


@dataclass
class SheetResult:
    header_row: int
    labels: tuple[str, ...]
    rows: list[AgentRow]
    problems: list[RowProblem]
    notices: list[RowProblem]


def read_sheet(
    rows: Iterable[Sequence[Cell]],
    formula_cells: Container[tuple[int, int]],
    config: TenantConfig,
    today: date,
) -> SheetResult:
    sheet = open_sheet(rows, formula_cells, config, today)
    good: list[AgentRow] = []
    bad: list[RowProblem] = []
    for item in sheet.items:
        if isinstance(item, AgentRow):
            good.append(item)
        else:
            bad.append(item)
    return SheetResult(sheet.header_row, sheet.labels, good, bad, sheet.notices)


def open_sheet(
    rows: Iterable[Sequence[Cell]],
    formula_cells: Container[tuple[int, int]],
    config: TenantConfig,
    today: date,
) -> Sheet:
    """`rows[i][j]` is the cell in Excel row i+1, column j (A = 0); `formula_cells` holds the
    (i, j) of every formula cell; `today` is the plant's day (TenantConfig.line.tz)."""
    columns = columns_for(config)
    stream = enumerate(rows)
    seen = 0
    for index, row in stream:
        if all(cells.is_blank(v) for v in row):
            continue
        seen += 1
        found = _header(index, row, formula_cells, columns, config)
        if found is not None:
            at, labels, notices = found
            required = frozenset(required_keys(config))
            return Sheet(
                index + 1, labels, notices, _items(stream, at, labels, formula_cells, today, required)
            )
        if seen >= HEADER_SCAN_ROWS:
            break
    raise SheetRefused(
        "header.not_found",
        f"前 {HEADER_SCAN_ROWS} 行中找不到表头（需要 客户名称、产品型号、数量 等列名），请使用下载的模板",
        f"no header row (客户名称, 产品型号, 数量, …) in the first {HEADER_SCAN_ROWS} rows: use the template",
    )


def _header(
    index: int,
    row: Sequence[Cell],
    formula_cells: Container[tuple[int, int]],
    columns: tuple[Column, ...],
    config: TenantConfig,
) -> tuple[dict[int, Column], tuple[str, ...], list[RowProblem]] | None:
    by_key = {c.key: c for c in columns}
    names = header_index(columns)
    labels = tuple(cells.trim(v)[:LABEL_MAX] if isinstance(v, str) else "" for v in row)
    at: dict[int, Column] = {}
    unknown: list[str] = []
    twice: list[Column] = []
    for j, label in enumerate(labels):
        key = match_header(label, names) if label and (index, j) not in formula_cells else None
        if key is None:
            unknown += [label] if label else []
        elif any(c.key == key for c in at.values()):
            twice.append(by_key[key])
        else:
            at[j] = by_key[key]
    if len(at) < HEADER_MIN_MATCHES:
        return None
    if twice:
        raise SheetRefused(
            "header.duplicate_column",
            f"第 {index + 1} 行表头中“{twice[0].label}”列出现了两次",
            f"the header (row {index + 1}) has the column {twice[0].label_en} twice",
        )
    missing = [by_key[k] for k in required_keys(config) if k not in {c.key for c in at.values()}]
    if missing:
        raise SheetRefused(
            "header.missing_column",
            f"第 {index + 1} 行表头缺少必填列：{'、'.join(c.label for c in missing)}",
            f"the header (row {index + 1}) lacks required columns: {', '.join(c.label_en for c in missing)}",
        )
    notices = [
        RowProblem(
            index + 1,
            cells.shown(label),
            "header.unknown_column",
            f"未识别的列“{cells.shown(label)}”，已忽略",
            f"unrecognised column “{cells.shown(label)}” ignored",
            warning=True,
        )
        for label in unknown
    ]
    return at, labels, notices


def _items(
    stream: Iterator[tuple[int, Sequence[Cell]]],
    at: dict[int, Column],
    labels: tuple[str, ...],
    formula_cells: Container[tuple[int, int]],
    today: date,
    required: frozenset[str],
) -> Iterator[AgentRow | RowProblem]:
    first_of: dict[tuple[object, ...], int] = {}
    data_rows = 0
    any_formulas = not isinstance(formula_cells, Sized) or len(formula_cells) > 0
    for index, row in stream:
        formulas = {j for j in at if (index, j) in formula_cells} if any_formulas else set()
        if not formulas and all(cells.is_blank(row[j]) for j in at if j < len(row)):
            continue
        data_rows += 1
        if data_rows > MAX_DATA_ROWS:
            raise SheetRefused(
                "file.too_many_rows",
                f"数据超过 {MAX_DATA_ROWS:,} 行，请分成多个文件上传",
                f"more than {MAX_DATA_ROWS:,} data rows: split the file",
            )
        source = tuple(row[j] if j < len(row) else None for j in range(len(labels)))
        if any_formulas:
            source = tuple(None if (index, j) in formula_cells else v for j, v in enumerate(source))
        outcome = _row(index + 1, row, at, labels, formulas, today, required, source)
        if isinstance(outcome, AgentRow):
            earlier = first_of.setdefault(outcome.key(), outcome.row_no)
            if earlier == outcome.row_no:
                yield outcome
                continue
            outcome = [
                (
                    "",
                    "row.duplicate",
                    f"与第 {earlier} 行完全相同（重复行）",
                    f"same as row {earlier} (duplicate)",
                )
            ]
        values = tuple(map(cells.original, source))
        for column, code, zh, en in outcome:
            yield RowProblem(index + 1, column, code, zh, en, values)


Found = tuple[str, str, str, str]  # column, code, message_zh, message_en


def _row(
    row_no: int,
    row: Sequence[Cell],
    at: dict[int, Column],
    labels: tuple[str, ...],
    formulas: set[int],
    today: date,
    required: frozenset[str],
    source: tuple[Cell, ...],
) -> AgentRow | list[Found]:
    problems: list[Found] = []
    warnings: list[RowProblem] = []
    got: dict[str, object] = {}
    custom: dict[str, str] = {}
    for j, column in at.items():
        prefix = "custom_field" if column.custom else column.key
        value = row[j] if j < len(row) else None
        try:
            if j in formulas:
                raise CellError(
                    "formula",
                    "是公式：公式不会被计算，请直接填写数值（复制后“选择性粘贴 → 数值”）",
                    "is a formula: formulas are not evaluated, type the value (paste as values)",
                )
            if cells.is_blank(value):
                if column.key in required:
                    raise CellError("required", "必填，不能为空", "required, empty")
                continue
            parsed, inferred = read_field(column, value, today)
        except CellError as e:
            code = "cell.formula" if e.reason == "formula" else f"{prefix}.{e.reason}"
            problems.append(
                (labels[j], code, f"{column.label}：{e.message_zh}", f"{column.label_en}: {e.message_en}")
            )
            continue
        if column.custom:
            custom[column.custom_key] = str(parsed)
        else:
            got[column.key] = parsed
        if inferred:
            year = str(parsed)[:4]
            zh = f"{column.label}：未写年份，按 {year} 年推断"
            warnings.append(
                RowProblem(
                    row_no,
                    labels[j],
                    f"{prefix}.year_inferred",
                    zh,
                    f"{column.label_en}: no year given, read as {year}",
                    warning=True,
                )
            )
    if problems:
        return problems
    price = got.get("unit_price")
    return AgentRow(
        row_no=row_no,
        customer_name=str(got["customer_name"]),
        product_model=str(got["product_model"]),
        quantity=got["quantity"],  # type: ignore[arg-type]
        unit_price_fen=price if isinstance(price, int) else None,
        surface_treatment=str(got.get("surface_treatment", "")),
        colour=str(got.get("colour", "")),
        packaging=str(got.get("packaging", "")),
        delivery_address=str(got.get("delivery_address", "")),
        due_date=got["due_date"],  # type: ignore[arg-type]
        note=str(got.get("note", "")),
        custom_fields=custom,
        warnings=warnings,
        source=source,
    )
