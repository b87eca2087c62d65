"""Agents' Excel files end to end (services/ingest/adapters/spreadsheets.py): real .xlsx files
built here with openpyxl (or by hand, as Excel lays them out), read with python-calamine, checked
row by row; the refusals of hostile files; the template and the error report."""

from __future__ import annotations

import io
import random
import re
import string
import struct
import time
import zipfile
from datetime import date

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from services.ingest.adapters.spreadsheets import check_file, error_report_xlsx, read_rows, template_xlsx
from services.ingest.domain.sheet_rows import MAX_DATA_ROWS, AgentRow, SheetRefused, read_sheet
from tests.unit.ingest.test_sheet_rows import AUTOPARTS, HARDWARE, HEADER, HINGE, TODAY, row, tenant


def xlsx(
    *rows: list[object], text: tuple[str, ...] = (), hidden_first: list[list[object]] | None = None
) -> bytes:
    """A workbook whose first visible sheet holds `rows` from A1; cells named in `text` are text
    cells even when they start with "=" (openpyxl makes those formulas otherwise)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if hidden_first is not None:
        sheet.title = "旧"
        for r in hidden_first:
            sheet.append(r)
        sheet.sheet_state = "hidden"
        sheet = book.create_sheet("订单")
    for r in rows:
        sheet.append(r)
    for ref in text:
        sheet[ref].data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezip(data: bytes, edit: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit.get(info.filename, src.read(info)))
    return out.getvalue()


def sheet_xml(data: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def excel_like(sheet_data: str, shared: tuple[str, ...] = ()) -> bytes:
    """A package laid out by hand as Excel writes one (shared strings, <c r=…>), with the given
    <sheetData> content."""
    rel = "http://schemas.openxmlformats.org/package/2006/relationships"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{rel}"><Relationship Id="rId1" Target="xl/workbook.xml"'
            f' Type="{_R}/officeDocument"/></Relationships>',
        )
        sheets = '<sheets><sheet name="订单" sheetId="1" r:id="rId1"/></sheets>'
        z.writestr("xl/workbook.xml", f'<workbook {_NS} xmlns:r="{_R}">{sheets}</workbook>')
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{rel}"><Relationship Id="rId1" Type="{_R}/worksheet"'
            ' Target="worksheets/sheet1.xml"/></Relationships>',
        )
        items = "".join(f"<si><t>{s}</t></si>" for s in shared)
        z.writestr("xl/sharedStrings.xml", f"<sst {_NS}>{items}</sst>")
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}>'
            f"<sheetData>{sheet_data}</sheetData></worksheet>",
        )
    return out.getvalue()


def upload(data: bytes, config=HARDWARE):
    _, rows, formulas = read_rows(data)
    return read_sheet(rows, formulas, config, TODAY)


def refusal(data: bytes) -> str:
    with pytest.raises(SheetRefused) as e:
        upload(data)
    return e.value.code


def test_title_rows_and_a_header_that_does_not_start_in_column_a():
    data = xlsx(
        [None, None, "华顺五金贸易 12 月订单"],
        [],
        [None, None, "制表：张三", None, "日期：2026-11-26"],
        [None, None, *HEADER],
        [None, None, *row()],
    )
    assert CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).start == (0, 2)
    result = upload(data)
    assert result.header_row == 4 and result.labels[:3] == ("", "", "客户名称")
    assert result.rows == [
        AgentRow(
            5,
            "华顺五金",
            HINGE,
            1200,
            1230,
            "电镀 plating",
            "银色 silver",
            "纸箱",
            "佛山",
            date(2026, 12, 3),
            "",
        )
    ]


def test_a_mixed_file_gives_exactly_the_good_rows_and_the_problems():
    data = xlsx(
        ["华顺五金 订单"],
        [],
        HEADER,
        row(),  # 4 good
        row(数量="abc"),  # 5
        row(),  # 6 duplicate of 4
        row(数量="=C4*2"),  # 7 a real formula (openpyxl writes no cached value)
        row(客户名称='=HYPERLINK("http://evil.example","点此")'),  # 8 text, not a formula
        row(备注="@SUM(A1)"),  # 9
        row(客户名称="名" * 10_000),  # 10
        row(数量=7),  # 11 good
        text=("A8",),
    )
    assert b"<f>C4*2</f>" in sheet_xml(data) and b"HYPERLINK" in sheet_xml(data)
    result = upload(data)
    assert [r.row_no for r in result.rows] == [4, 11]
    assert [(p.row_no, p.column, p.code) for p in result.problems] == [
        (5, "数量", "quantity.not_a_number"),
        (6, "", "row.duplicate"),
        (7, "数量", "cell.formula"),
        (8, "客户名称", "customer_name.formula_text"),
        (9, "备注", "note.formula_text"),
        (10, "客户名称", "customer_name.too_long"),
    ]
    assert result.problems[1].message_en == "same as row 4 (duplicate)"
    assert result.problems[5].message_zh == "客户名称：内容过长：10000 个字，最多 200 个字"


def test_a_formulas_cached_value_is_never_used():
    data = xlsx(HEADER, row(数量="=1000+200"))
    xml = sheet_xml(data).replace(b"<f>1000+200</f><v />", b"<f>1000+200</f><v>1200</v>")
    data = rezip(data, {"xl/worksheets/sheet1.xml": xml})
    (calamine_row,) = list(
        CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).iter_rows()
    )[1:]
    assert calamine_row[2] == 1200  # calamine alone would take it for a typed 1200
    result = upload(data)
    assert result.rows == [] and [(p.code, p.values[2]) for p in result.problems] == [("cell.formula", "")]


def test_formulas_in_excels_own_layout_and_in_other_writers_layouts():
    cells = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>'
        '<c r="D1" t="s"><v>3</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2" t="s"><v>5</v></c>'
        '<c r="C2" s="3"><f>7*2</f><v>14</v></c><c r="D2"><v>46359</v></c></row>'
    )
    shared = ("客户名称", "产品型号", "数量", "交货日期", "华顺", HINGE)
    result = upload(excel_like(cells, shared))
    assert [(p.row_no, p.code) for p in result.problems] == [(2, "cell.formula")]
    # no references, namespace prefixes, the value before the formula: the exact pass
    odd = cells.replace(' r="C2"', "").replace("<f>7*2</f><v>14</v>", "<v>14</v><f>7*2</f>")
    odd = re.sub(r"<(/?)(row|c|v|f)([ >])", r"<\1x:\2\3", odd)
    result = upload(excel_like(odd, shared).replace(b"<worksheet ", b'<worksheet xmlns:x="urn:x" '))
    assert [(p.row_no, p.code) for p in result.problems] == [(2, "cell.formula")]
    array = cells.replace("<f>7*2</f>", '<f t="array" ref="C2:D2">{14,46359}</f>')
    result = upload(excel_like(array, shared))
    assert [(p.row_no, p.column, p.code) for p in result.problems] == [
        (2, "数量", "cell.formula"),
        (2, "交货日期", "cell.formula"),
    ]


def test_a_formula_without_a_cached_value_at_the_end_of_the_sheet_still_rejects_its_row():
    data = xlsx(HEADER, row(), [None, None, "=C2"])
    result = upload(data)
    assert [(p.row_no, p.code) for p in result.problems] == [
        (3, "customer_name.required"),
        (3, "product_model.required"),
        (3, "cell.formula"),
        (3, "due_date.required"),
    ]


def test_the_first_visible_sheet_is_read():
    data = xlsx(HEADER, row(数量=5), hidden_first=[HEADER, row(数量=99)])
    assert read_rows(data).sheet_name == "订单"
    assert [r.quantity for r in upload(data).rows] == [5]


def test_a_zip_bomb_is_refused_without_inflating_it():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            zeros = b"\0" * (1 << 20)
            for _ in range(300):
                member.write(zeros)
    data = out.getvalue()
    assert len(data) < 1_000_000
    started = time.perf_counter()
    with pytest.raises(SheetRefused) as e:
        check_file(data)
    assert e.value.code == "file.zip_bomb" and time.perf_counter() - started < 0.1


def _declare_size(data: bytes, name: str, size: int) -> bytes:
    """The zip with `name`'s declared uncompressed size changed in its local and central headers."""
    buf = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    struct.pack_into("<I", buf, info.header_offset + 22, size)
    at = buf.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", buf, at + 28)[0]
        if bytes(buf[at + 46 : at + 46 + name_len]) == name.encode():
            struct.pack_into("<I", buf, at + 24, size)
        at = buf.find(b"PK\x01\x02", at + 4)
    return bytes(buf)


def test_a_member_inflating_past_its_declared_size_is_refused():
    data = xlsx(HEADER, *[row(数量=i + 1, 备注=f"备注 {i * 7919 % 10007}") for i in range(300)])
    actual = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml").file_size
    lying = _declare_size(data, "xl/worksheets/sheet1.xml", actual // 3)
    assert zipfile.ZipFile(io.BytesIO(lying)).getinfo("xl/worksheets/sheet1.xml").file_size == actual // 3
    with pytest.raises(SheetRefused) as e:
        check_file(lying)
    assert e.value.code == "file.zip_bomb"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("客户名称,产品型号,数量\n华顺,HB-2040,100\n".encode(), "file.not_spreadsheet"),
        (b"<html><table><tr><td>1</td></tr></table></html>", "file.not_spreadsheet"),
        (b"", "file.not_spreadsheet"),
        (bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 600, "file.xls"),
        (bytes.fromhex("d0cf11e0a1b11ae1") + "EncryptedPackage".encode("utf-16-le"), "file.encrypted"),
        (b"PK\x03\x04" + b"\0" * 100, "file.corrupt"),
        (b"PK\x03\x04" + b"\0" * (10 * 1024 * 1024), "file.too_large"),
    ],
)
def test_files_that_are_no_workbook_are_refused_whatever_their_name(data, code):
    with pytest.raises(SheetRefused) as e:
        check_file(data)
    assert e.value.code == code


def test_other_zip_documents_and_damaged_workbooks_are_refused():
    ods = io.BytesIO()
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    good = xlsx(HEADER, row())
    central = good.rfind(b"PK\x01\x02")  # the last member's entry in the central directory
    wrong_crc = good[: central + 16] + bytes([good[central + 16] ^ 0xFF]) + good[central + 17 :]
    for data, code in (
        (ods.getvalue(), "file.unsupported_format"),
        (docx.getvalue(), "file.not_spreadsheet"),
        (good[: len(good) // 2], "file.corrupt"),
        (wrong_crc, "file.corrupt"),
    ):
        with pytest.raises(SheetRefused) as e:
            check_file(data)
        assert e.value.code == code


def test_sheets_that_would_take_calamine_gigabytes_are_refused_at_once():
    far = '<row r="1"><c r="XFD1"><v>1</v></c></row><row r="2000"><c r="A2000"><v>1</v></c></row>'
    amplified = "".join(f'<row r="{i}"><c r="A{i}" t="s"><v>0</v></c></row>' for i in range(1, 20_001))
    for data in (excel_like(far), excel_like(amplified, ("x" * 30_000,))):
        started = time.perf_counter()
        assert refusal(data) == "file.sheet_too_large"
        assert time.perf_counter() - started < 0.5
    # one 2 MB shared string (longer than a read chunk) used 60 times: 120 MB of copies
    long = "".join(random.Random(1).choices(string.ascii_letters, k=2_000_000))
    uses = "".join(f'<row r="{i}"><c r="A{i}" t="s"><v>10000</v></c></row>' for i in range(1, 61))
    assert refusal(excel_like(uses, ("a" * 100,) * 10_000 + (long,))) == "file.sheet_too_large"
    styled = '<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="900000"><c r="XFD900000" s="1"/></row>'
    assert refusal(excel_like(styled, ("客户名称",))) == "header.not_found"  # empty cells cost nothing


def test_more_than_10000_data_rows_are_refused():
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("订单")
    sheet.append(HEADER)
    for i in range(MAX_DATA_ROWS + 1):
        sheet.append(row(数量=i + 1))
    out = io.BytesIO()
    book.save(out)
    assert refusal(out.getvalue()) == "file.too_many_rows"


def test_the_template_uploads_as_no_rows_and_has_its_dropdowns():
    many = tenant(options={"product_models": [f"M-{i}, 型号 {i}" for i in range(100)]})
    for config in (HARDWARE, AUTOPARTS, many):
        data = template_xlsx(config)
        result = upload(data, config)
        assert (result.rows, result.problems, result.notices) == ([], [], [])
        book = openpyxl.load_workbook(io.BytesIO(data))
        assert book.sheetnames == ["订单", "填写说明", "选项"]
        assert [s.sheet_state for s in book] == ["visible", "visible", "hidden"]
        orders = book["订单"]
        labels = [c.value for c in orders[1]]
        assert labels[:10] == HEADER and labels[10:] == [f.label for f in config.custom_fields.values()]
        lists = {str(v.sqref): v.formula1 for v in orders.data_validations.dataValidation if v.type == "list"}
        assert all(f.startswith("'选项'!$") for f in lists.values())
        assert all(len(f) < 255 for f in lists.values())
    assert lists["B2:B10001"] == "'选项'!$A$2:$A$101"  # the 100 models, commas and all
    assert book["选项"]["A101"].value == "M-99, 型号 99"
    autoparts = openpyxl.load_workbook(io.BytesIO(template_xlsx(AUTOPARTS)))
    kinds = {str(v.sqref): v.type for v in autoparts["订单"].data_validations.dataValidation}
    assert kinds["C2:C10001"] == "whole" and kinds["E2:E10001"] == "list" and kinds["L2:L10001"] == "list"
    instructions = [c.value for r in autoparts["填写说明"].iter_rows() for c in r if c.value]
    assert any("示例" in str(v) for v in instructions) and "车型 vehicle model" in instructions


def test_the_error_report_is_text_only_and_uploads_again():
    data = xlsx(
        HEADER,
        row(客户名称='=HYPERLINK("http://evil.example","点此")', 数量="abc"),
        row(备注="-1+2"),
        text=("A2",),
    )
    result = upload(data)
    report = error_report_xlsx(result.problems, result.labels)
    book = openpyxl.load_workbook(io.BytesIO(report))
    cells = [c for r in book.active.iter_rows() for c in r]
    assert {c.data_type for c in cells if c.value is not None} == {"s"}  # no "f": not one formula
    assert [c.value for c in book.active[1]] == [*HEADER, "行号", "列", "错误代码", "说明", "Description"]
    first = [c.value for c in book.active[2]]
    assert first[0] == '=HYPERLINK("http://evil.example","点此")' and book.active["A2"].quotePrefix
    assert first[10:13] == ["2", "客户名称", "customer_name.formula_text"]
    assert b"<f>" not in sheet_xml(report)
    _, _, formulas = read_rows(report)
    assert len(formulas) == 0
    again = upload(report)
    assert [(p.row_no, p.code) for p in again.problems] == [
        (2, "customer_name.formula_text"),
        (2, "quantity.not_a_number"),
        (3, "customer_name.formula_text"),
        (3, "quantity.not_a_number"),
        (4, "note.formula_text"),
    ]
    assert [n.column for n in again.notices] == ["行号", "列", "错误代码", "说明", "Description"]


def test_illegal_characters_and_huge_values_do_not_break_the_report():
    problem = upload(xlsx(HEADER, row(数量="x" * 40_000))).problems[0]
    report = error_report_xlsx([problem], [*HEADER, "\x01"])
    book = openpyxl.load_workbook(io.BytesIO(report))
    assert book.active["C2"].value == "x" * 199 + "…"
