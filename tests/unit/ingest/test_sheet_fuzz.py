"""Random input through the sheet reader: whatever the cells, bytes or XML, the only exception is
SheetRefused, every row that comes out keeps the rules, and the formula cells found are exactly
where calamine puts those cells."""

from __future__ import annotations

import contextlib
import io
import zipfile
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.adapters.spreadsheets import check_file, read_rows
from services.ingest.adapters.xlsx_scan import column_index
from services.ingest.domain.sheet_cells import MAX_PRICE_FEN, MAX_QUANTITY
from services.ingest.domain.sheet_rows import AgentRow, SheetRefused, read_sheet
from tests.unit.ingest.test_sheet_rows import AUTOPARTS, HARDWARE, HEADER, TODAY, row
from tests.unit.ingest.test_spreadsheets import excel_like, xlsx

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRICKY = [
    "1,200", "１２３", "1，200", "12.30元", "￥0.07", "=A1", "@SUM(1)", "+1", "-", "- x", "12月3日",
    "2月29日", "2026/2/30", "2026-12-03", "\u3000", "\u200b", "银色", "silver", "是", "否", "1e400",
    "9" * 5000, "长" * 600, *HEADER,
]  # fmt: skip
CELLS = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(TRICKY),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.timedeltas(),
)


@FUZZ
@given(
    rows=st.lists(st.lists(CELLS, max_size=16), max_size=8),
    at=st.integers(min_value=0, max_value=8),
    header=st.permutations([*HEADER, "车型", "PPAP等级 PPAP level", "首件检验", "批量", "检验日期", "金额"]),
    formulas=st.sets(st.tuples(st.integers(0, 9), st.integers(0, 16)), max_size=6),
)
def test_random_cells_only_ever_refuse_the_sheet(rows, at, header, formulas):
    rows.insert(min(at, len(rows)), header)
    for config in (HARDWARE, AUTOPARTS):
        try:
            result = read_sheet(iter(rows), formulas, config, TODAY)
        except SheetRefused as e:
            assert e.code.startswith(("header.", "file."))
            continue
        for good in result.rows:
            _keeps_the_rules(good)
        for p in result.problems + result.notices:
            assert p.code and len(p.message_zh) < 300 and len(p.message_en) < 400
            assert all(len(v) <= 200 for v in p.values)


def _keeps_the_rules(good: AgentRow) -> None:
    assert 0 < good.quantity <= MAX_QUANTITY
    assert good.unit_price_fen is None or 0 < good.unit_price_fen <= MAX_PRICE_FEN
    assert TODAY <= good.due_date <= TODAY + timedelta(days=366 * 5)
    for text in (good.customer_name, good.product_model, good.delivery_address, good.note):
        assert text == text.strip() and not text.startswith(("=", "@"))
    assert good.customer_name and good.product_model


@FUZZ
@given(st.one_of(st.binary(max_size=600), st.binary(max_size=600).map(lambda b: b"PK\x03\x04" + b)))
def test_random_bytes_are_refused(data):
    for read in (check_file, read_rows):
        with contextlib.suppress(SheetRefused):
            read(data)


GOOD_FILE = xlsx(["订单"], HEADER, row(), row(数量="=C3*2"), row(数量=5, 备注="x" * 300))


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(GOOD_FILE) - 1), st.integers(0, 255)), min_size=1, max_size=4
    ),
    cut=st.integers(min_value=1, max_value=len(GOOD_FILE)),
)
def test_damaged_workbooks_are_refused_or_read(edits, cut):
    data = bytearray(GOOD_FILE[:cut])
    for at, value in edits:
        if at < len(data):
            data[at] = value
    try:
        _, rows, formulas = read_rows(bytes(data))
        read_sheet(rows, formulas, HARDWARE, TODAY)
    except SheetRefused:
        pass


# Sheet XML as any writer might lay it out: with or without references on rows and cells, with
# namespace prefixes, formulas with and without cached values. Each cell's place follows
# calamine's rules; values are unique numbers so calamine's own placement can be checked.
CELL = st.tuples(
    st.booleans(), st.sampled_from(["num", "text", "inline", "f+v", "v+f", "f", "empty"]), st.integers(0, 2)
)
ROW = st.tuples(st.booleans(), st.integers(0, 2), st.lists(CELL, max_size=6))


@FUZZ
@given(rows=st.lists(ROW, min_size=1, max_size=12), prefix=st.sampled_from(["", "x:"]), wide=st.booleans())
def test_formula_cells_are_found_where_calamine_places_cells(rows, prefix, wide):
    xml, values, formulas = _sheet(rows, prefix, wide)
    data = excel_like(xml, ("客户名称", "产品型号"))
    if prefix:
        data = _declare_prefix(data)
    _, read, found = read_rows(data)
    grid = list(read)
    assert found.cells == formulas
    for (r, c), value in values.items():
        assert grid[r][c] == value
    with contextlib.suppress(SheetRefused):
        read_sheet(iter(grid), found, HARDWARE, TODAY)


def _sheet(rows, prefix: str, wide: bool) -> tuple[str, dict[tuple[int, int], float], set[tuple[int, int]]]:
    out, values, formulas = [], {}, set()
    r, serial = -1, 1000
    for explicit, gap, cells in rows:
        r = r + 1 + gap if explicit else r + 1
        out.append(f'<{prefix}row r="{r + 1}">' if explicit else f"<{prefix}row>")
        c = -1
        for with_ref, kind, skip in cells:
            c = c + 1 + skip + (26 if wide else 0) if with_ref else c + 1
            ref = f' r="{_letters(c)}{r + 1}"' if with_ref else ""
            serial += 1
            v, f = f"<{prefix}v>{serial}</{prefix}v>", f"<{prefix}f>{serial}+0</{prefix}f>"
            body = {
                "num": v,
                "text": f"<{prefix}v>{serial % 2}</{prefix}v>",
                "inline": f"<{prefix}is><{prefix}t>t{serial}</{prefix}t></{prefix}is>",
                "f+v": f + v,
                "v+f": v + f,
                "f": f,
                "empty": "",
            }[kind]
            t = ' t="s"' if kind == "text" else ' t="inlineStr"' if kind == "inline" else ""
            out.append(f"<{prefix}c{ref}{t}>{body}</{prefix}c>")
            if kind in ("num", "f+v"):  # (calamine reads <v><f> as empty: the <f> overwrites it)
                values[(r, c)] = float(serial)
            if kind.startswith("f") or kind == "v+f":
                formulas.add((r, c))
        out.append(f"</{prefix}row>")
    return "".join(out), values, formulas


def _letters(col: int) -> str:
    name = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        name = chr(65 + rest) + name
    return name


def _declare_prefix(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith("sheet1.xml"):
                body = body.replace(b"<worksheet ", b'<worksheet xmlns:x="urn:x" ')
            dst.writestr(info.filename, body)
    return out.getvalue()


def test_the_generator_agrees_with_itself():
    xml, values, formulas = _sheet(
        [(True, 1, [(True, "f+v", 1), (False, "num", 0)]), (False, 0, [])], "", False
    )
    assert xml.startswith('<row r="2"><c r="B2"><f>1001+0</f><v>1001</v></c><c><v>1002</v></c></row><row>')
    assert values == {(1, 1): 1001.0, (1, 2): 1002.0} and formulas == {(1, 1)}
    assert [column_index(_letters(c)) for c in (0, 25, 26, 701, 702)] == [0, 25, 26, 701, 702]
