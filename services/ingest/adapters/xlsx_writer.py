"""The two workbooks ingest hands to agents, written with openpyxl: a business line's order template
and the error report of an upload.

The template's first sheet holds only the header (the example row lives on the instructions sheet,
so uploading the template unchanged imports nothing); its dropdowns read the option libraries from
a hidden sheet, because an inline list is limited to 255 characters and splits values at commas.

The report writes every cell as a text cell: a value such as "=HYPERLINK(…)" an agent typed comes
back as the text it was, never as a formula (openpyxl would otherwise store any string starting
with "=" as one). Text starting with = + - @ also gets Excel's quote prefix, so editing the cell
keeps it text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from services.chassis.tenant_config import TenantConfig
from services.ingest.domain.sheet_cells import MAX_PRICE_FEN, MAX_QUANTITY
from services.ingest.domain.sheet_columns import Column, columns_for, required_keys
from services.ingest.domain.sheet_rows import MAX_DATA_ROWS, RowProblem

ORDERS = "订单"
INSTRUCTIONS = "填写说明"
OPTIONS = "选项"
_LAST = MAX_DATA_ROWS + 1  # validations cover the header's 10,000 rows below it
_BOLD = Font(bold=True)
_REQUIRED = PatternFill("solid", fgColor="FCE4D6")
_OPTIONAL = PatternFill("solid", fgColor="DDEBF7")
_FORMATS = {"quantity": "0", "unit_price": "0.00", "due_date": "yyyy/m/d"}
_EXCEL_CELL_MAX = 32_767
_FORMULA_START = ("=", "+", "-", "@")


def template_xlsx(config: TenantConfig) -> bytes:
    columns = columns_for(config)
    required = set(required_keys(config))
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = ORDERS
    options = book.create_sheet(OPTIONS)
    options.sheet_state = "hidden"
    lists = 0  # columns of the options sheet used
    for j, column in enumerate(columns, start=1):
        letter = get_column_letter(j)
        cell = sheet.cell(row=1, column=j, value=column.label)
        cell.font = _BOLD
        cell.fill = _REQUIRED if column.key in required else _OPTIONAL
        sheet.column_dimensions[letter].width = column.width
        kind = column.custom.type if column.custom else column.key
        sheet.column_dimensions[letter].number_format = _FORMATS.get(
            kind, "@" if kind != "date" else "yyyy/m/d"
        )
        if column.library:
            lists += 1
            _library(options, lists, column)
        validation = _validation(column, lists)
        if validation is not None:
            validation.add(f"{letter}2:{letter}{_LAST}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    _instructions(book.create_sheet(INSTRUCTIONS, 1), columns, required)
    book.active = 0
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _library(options: Worksheet, at: int, column: Column) -> None:
    options.cell(row=1, column=at, value=column.label)
    for i, value in enumerate(column.library, start=2):
        options.cell(row=i, column=at, value=value).data_type = "s"


def _validation(column: Column, list_column: int) -> DataValidation | None:
    kind = column.custom.type if column.custom else column.key
    if column.library:
        letter = get_column_letter(list_column)
        source = f"{quote_sheetname(OPTIONS)}!${letter}$2:${letter}${len(column.library) + 1}"
        return _dv("list", source, None, f"请从下拉列表选择 / choose from the list: {column.label}")
    if kind == "quantity":
        return _dv(
            "whole", "1", str(MAX_QUANTITY), f"请填 1 到 {MAX_QUANTITY:,} 的整数 / a whole number", "between"
        )
    if kind == "unit_price":
        return _dv(
            "decimal", "0.01", str(MAX_PRICE_FEN // 100), "请填大于 0 的金额 / a price above 0", "between"
        )
    if kind == "integer":
        return _dv("whole", "-999999999", "999999999", "请填整数 / a whole number", "between")
    if kind == "decimal":
        return _dv("decimal", "-999999999", "999999999", "请填数字 / a number", "between")
    if kind in ("due_date", "date"):
        return _dv("date", "DATE(2000,1,1)", None, "请填日期，如 2026/3/15 / a date", "greaterThanOrEqual")
    if column.max_length:
        return _dv("textLength", "0", str(column.max_length), f"最多 {column.max_length} 个字", "between")
    return None


def _dv(kind: str, low: str, high: str | None, error: str, operator: str | None = None) -> DataValidation:
    return DataValidation(
        type=kind,
        operator=operator,
        formula1=low,
        formula2=high,
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="输入有误 / invalid entry",
        error=error[:225],
    )


_RULES = (
    ("填写说明 How to fill in", ""),
    (
        "每行一个订单行；表头请勿修改，可在表头上方加标题行。",
        "One order line per row; keep the header, title rows above it are fine.",
    ),
    (
        "请直接填写数值，不要使用公式（公式不会被计算，该行会被退回）。",
        "Type values, no formulas (they are not evaluated; the row is returned).",
    ),
    ("文字不能以 = + - @ 开头。", "Text must not start with = + - @."),
    ("数量：正整数，可用千分位，如 1,200。", "Quantity: a whole number above 0; 1,200 is fine."),
    (
        "单价：元，最多两位小数；留空则按合同价。",
        "Unit price: yuan, at most 2 decimals; empty = the contract price.",
    ),
    (
        "交货日期：日期格式单元格，或 2026/3/15、2026-3-15、3月15日（年份自动推断）。",
        "Due date: a date cell, or 2026/3/15, 2026-3-15, 3月15日 (the year is inferred).",
    ),
    (
        "与前面某行完全相同的行视为重复，会被退回。",
        "A row identical to an earlier one is returned as a duplicate.",
    ),
    (
        f"每个文件最多 {MAX_DATA_ROWS:,} 行、10 MB；只读取第一个可见的工作表。",
        f"At most {MAX_DATA_ROWS:,} rows and 10 MB a file; only the first visible sheet is read.",
    ),
)


def _instructions(sheet: Worksheet, columns: Sequence[Column], required: set[str]) -> None:
    for zh, en in _RULES:
        sheet.append([zh, en])
    sheet["A1"].font = _BOLD
    sheet.append([])
    sheet.append(["列名 Column", "必填 Required", "可选值 Allowed values", "最长 Max length"])
    for column in columns:
        allowed = "、".join(column.library) if column.library else ""
        sheet.append(
            [
                column.label,
                "是 yes" if column.key in required else "否 no",
                allowed[:1000],
                column.max_length or "",
            ]
        )
    sheet.append([])
    sheet.append(["示例（仅供参考，不会被导入）Example, for reference only (never imported)"])
    sheet.append([c.label for c in columns])
    sheet.append([_example(c) for c in columns])
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if isinstance(cell.value, str):
                cell.data_type = "s"
    for letter, width in (("A", 48), ("B", 48), ("C", 40), ("D", 14)):
        sheet.column_dimensions[letter].width = width


def _example(column: Column) -> str:
    samples = {
        "customer_name": "华顺五金贸易",
        "product_model": "HB-2040",
        "quantity": "1,200",
        "unit_price": "12.30",
        "delivery_address": "广东省佛山市顺德区北滘镇工业大道 1 号",
        "due_date": "2026/3/15",
        "note": "加急",
    }
    if column.library:
        return column.library[0]
    if column.custom:
        return {"integer": "12", "decimal": "1.5", "date": "2026/3/15", "boolean": "是"}.get(
            column.custom.type, ""
        )
    return samples.get(column.key, "")


def error_report_xlsx(problems: Sequence[RowProblem], header: Sequence[str]) -> bytes:
    """One row per problem: the row as the agent typed it (the header's columns), then 行号, 列,
    错误代码, 说明, Description. A row with three problems appears three times."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("错误报告")
    width = len(header)
    for j in range(width):
        sheet.column_dimensions[get_column_letter(j + 1)].width = 16
    for j, w in enumerate((8, 14, 28, 48, 48), start=width + 1):
        sheet.column_dimensions[get_column_letter(j)].width = w
    labels = [*header, "行号", "列", "错误代码", "说明", "Description"]
    sheet.append([_text(sheet, v, bold=True) for v in labels])
    for p in problems:
        values = list(p.values[:width]) + [""] * (width - len(p.values[:width]))
        zh, en = (
            (f"提示：{p.message_zh}", f"Warning: {p.message_en}")
            if p.warning
            else (p.message_zh, p.message_en)
        )
        row = [*values, str(p.row_no), p.column, p.code, zh, en]
        sheet.append([_text(sheet, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text(sheet: Worksheet, value: str, *, bold: bool = False) -> WriteOnlyCell:
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))[:_EXCEL_CELL_MAX]
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # never "f", whatever the text starts with
    cell.number_format = "@"
    if text.startswith(_FORMULA_START):
        cell.quotePrefix = True
    if bold:
        cell.font = _BOLD
    return cell
