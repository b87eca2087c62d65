"""An agent's sheet row by row (services/ingest/domain/sheet_rows.py): header found by content,
every cell rule with its exact outcome, duplicates, formulas, caps, whole-sheet refusals. Pure:
rows go in as python-calamine yields them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from services.chassis.tenant_config import TenantConfig
from services.ingest.domain.sheet_rows import (
    MAX_DATA_ROWS,
    AgentRow,
    RowProblem,
    SheetRefused,
    open_sheet,
    problem,
    read_sheet,
)

TODAY = date(2026, 11, 26)
HEADER = [
    "客户名称",
    "产品型号",
    "数量",
    "单价",
    "表面处理",
    "颜色",
    "包装方式",
    "交货地址",
    "交货日期",
    "备注",
]
HINGE = "HB-2040 铰链 hinge"


def tenant(**extra: object) -> TenantConfig:
    doc: dict[str, object] = {
        "tenant": {
            "name_zh": "五金",
            "name_en": "Hardware",
            "number_prefix": "HW",
            "timezone": "Asia/Shanghai",
        },
        "options": {
            "colours": ["本色 natural", "银色 silver"],
            "surface_treatments": ["电镀 plating", "无 none"],
            "packaging": [],
        },
        "customer_tiers": {"a_min_years": 5, "a_min_yearly_cny": 1, "b_min_years": 2, "b_min_yearly_cny": 1},
        "workshops": {"w1": {"name": "一车间", "lead": "王"}},
    }
    doc.update(extra)
    return TenantConfig.model_validate(doc)


HARDWARE = tenant()
AUTOPARTS = tenant(
    entry={"required": ["colour", "delivery_address"]},
    custom_fields={
        "vehicle_model": {"label": "车型 vehicle model", "type": "text", "required": True},
        "ppap_level": {"label": "PPAP等级 PPAP level", "type": "choice", "choices": ["1", "2", "3"]},
        "first_article": {"label": "首件检验", "type": "boolean"},
        "batch_size": {"label": "批量", "type": "integer"},
        "inspection_day": {"label": "检验日期", "type": "date"},
    },
)


def row(**cells: object) -> list[object]:
    """A data row in HEADER order, good unless a cell is overridden."""
    good: dict[str, object] = {
        "客户名称": "华顺五金",
        "产品型号": HINGE,
        "数量": 1200,
        "单价": 12.3,
        "表面处理": "电镀 plating",
        "颜色": "银色 silver",
        "包装方式": "纸箱",
        "交货地址": "佛山",
        "交货日期": date(2026, 12, 3),
        "备注": "",
    }
    good.update(cells)
    return [good[h] for h in HEADER]


def read(rows, formulas=frozenset(), config=HARDWARE):
    return read_sheet(iter(rows), set(formulas), config, TODAY)


def problems(*cells_rows: list[object], config: TenantConfig = HARDWARE) -> list[tuple[int, str, str]]:
    result = read([HEADER, *cells_rows], config=config)
    return [(p.row_no, p.column, p.code) for p in result.problems]


def one(cell: str, value: object) -> AgentRow | RowProblem:
    result = read([HEADER, row(**{cell: value})])
    return (result.rows or result.problems)[0]


GOOD = AgentRow(
    row_no=2,
    customer_name="华顺五金",
    product_model=HINGE,
    quantity=1200,
    unit_price_fen=1230,
    surface_treatment="电镀 plating",
    colour="银色 silver",
    packaging="纸箱",
    delivery_address="佛山",
    due_date=date(2026, 12, 3),
    note="",
)


def test_a_good_row_comes_out_exactly():
    result = read([HEADER, row()])
    assert result.rows == [GOOD] and result.problems == [] and result.notices == []
    assert result.header_row == 1 and result.labels == tuple(HEADER)


def test_the_header_is_found_below_title_rows_in_any_column_order_and_spelling():
    header = ["*Customer", "型号", "数量（件）", "单价(元)", "交期", "备注", "颜色", "金额"]
    data = ["华顺五金", HINGE, "1,200", "12.30元", "2026/12/3", "", "银色", 999]
    result = read([["华顺五金 12 月订单"], [], [None, "制表：张三"], header, data])
    assert result.header_row == 4
    assert result.rows == [
        AgentRow(5, "华顺五金", HINGE, 1200, 1230, "", "银色 silver", "", "", date(2026, 12, 3), "")
    ]
    assert [(n.row_no, n.column, n.code, n.warning) for n in result.notices] == [
        (4, "金额", "header.unknown_column", True)
    ]


def test_a_form_like_title_is_not_taken_for_the_header():
    result = read([["客户名称", "华顺"], ["数量", 3], HEADER, row()])
    assert result.header_row == 3 and len(result.rows) == 1


def test_whole_sheet_refusals():
    with pytest.raises(SheetRefused) as e:
        read([["订单"], *[[f"备注 {i}"] for i in range(30)], HEADER])
    assert e.value.code == "header.not_found"
    with pytest.raises(SheetRefused) as e:
        read([["客户名称", "产品型号", "数量", "颜色"]])
    assert e.value.code == "header.missing_column" and "交货日期" in e.value.message_zh
    assert "Due date" in e.value.message_en
    with pytest.raises(SheetRefused) as e:
        read([["客户名称", "产品型号", "数量", "交货日期", "Quantity"]])
    assert e.value.code == "header.duplicate_column"
    with pytest.raises(SheetRefused) as e:
        read([HEADER], config=AUTOPARTS)
    assert e.value.code == "header.missing_column" and "车型 vehicle model" in e.value.message_zh
    with pytest.raises(SheetRefused) as e:
        read([])
    assert e.value.code == "header.not_found"


def test_blank_rows_are_skipped_and_row_numbers_are_excel_rows():
    blank = ["", None, "　", " \t", "\u200b", None, None, None, None, None]
    result = read([HEADER, blank, row(), [], [*blank, "ignored column"], row(数量=5)])
    assert [r.row_no for r in result.rows] == [3, 6] and result.problems == []


def test_white_space_ascii_and_ideographic_is_trimmed():
    got = one("客户名称", "\u3000 华顺五金\t\u200b")
    assert isinstance(got, AgentRow) and got.customer_name == "华顺五金"


@pytest.mark.parametrize(
    ("typed", "quantity"),
    [
        (1200, 1200),
        (1200.0, 1200),
        ("1200", 1200),
        ("1,200", 1200),
        ("1，200", 1200),
        ("１２３", 123),
        ("12.0", 12),
    ],
)
def test_quantities(typed, quantity):
    got = one("数量", typed)
    assert isinstance(got, AgentRow) and got.quantity == quantity


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        (12.5, "quantity.not_whole"),
        ("12.5", "quantity.not_whole"),
        (0, "quantity.not_positive"),
        (-3, "quantity.not_positive"),
        ("abc", "quantity.not_a_number"),
        ("100个", "quantity.not_a_number"),
        ("1,20", "quantity.not_a_number"),
        (True, "quantity.not_a_number"),
        (date(2026, 1, 1), "quantity.not_a_number"),
        (float("nan"), "quantity.not_a_number"),
        (10_000_001, "quantity.too_large"),
        ("", "quantity.required"),
    ],
)
def test_bad_quantities(typed, code):
    got = one("数量", typed)
    assert isinstance(got, RowProblem) and (got.row_no, got.column, got.code) == (2, "数量", code)


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        (12.3, 1230),
        (19.99, 1999),  # 19.99 * 100 is 1998.9999999999998 in binary floating point
        (0.07, 7),
        (12, 1200),
        ("12.30", 1230),
        ("￥12.30", 1230),
        ("¥ 1,234.5", 123450),
        ("12.30元", 1230),
        ("１２．５", 1250),
        ("", None),
        (None, None),
    ],
)
def test_prices_are_exact_to_the_fen(typed, fen):
    got = one("单价", typed)
    assert isinstance(got, AgentRow) and got.unit_price_fen == fen


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        (0.1 + 0.2, "unit_price.too_precise"),  # a formula's binary residue, typed nowhere
        ("12.345", "unit_price.too_precise"),
        (0, "unit_price.not_positive"),
        (-1.5, "unit_price.not_positive"),
        ("十二元", "unit_price.not_a_number"),
        ("1e3", "unit_price.not_a_number"),
        (1e12, "unit_price.too_large"),
        (False, "unit_price.not_a_number"),
    ],
)
def test_bad_prices(typed, code):
    got = one("单价", typed)
    assert isinstance(got, RowProblem) and got.code == code


@pytest.mark.parametrize(
    ("typed", "due"),
    [
        (date(2026, 12, 3), date(2026, 12, 3)),
        (datetime(2026, 12, 3, 15, 30), date(2026, 12, 3)),
        (46359, date(2026, 12, 3)),  # a date typed into a cell formatted as a number
        (46359.75, date(2026, 12, 3)),
        ("2026/12/3", date(2026, 12, 3)),
        ("2026-12-03", date(2026, 12, 3)),
        ("2026.12.3", date(2026, 12, 3)),
        ("2027年1月5日", date(2027, 1, 5)),
        ("２０２６／１２／３", date(2026, 12, 3)),
        ("2026-12-03 00:00:00", date(2026, 12, 3)),
        (TODAY, TODAY),
    ],
)
def test_dates(typed, due):
    got = one("交货日期", typed)
    assert isinstance(got, AgentRow) and got.due_date == due and got.warnings == []


@pytest.mark.parametrize(
    ("typed", "due", "year"),
    [
        ("12月3日", date(2026, 12, 3), "2026"),
        ("3月1日", date(2027, 3, 1), "2027"),
        ("１月５号", date(2027, 1, 5), "2027"),
    ],
)
def test_a_date_without_a_year_is_read_with_a_warning(typed, due, year):
    got = one("交货日期", typed)
    assert isinstance(got, AgentRow) and got.due_date == due
    (warning,) = got.warnings
    assert (warning.row_no, warning.column, warning.code, warning.warning) == (
        2,
        "交货日期",
        "due_date.year_inferred",
        True,
    )
    assert f"按 {year} 年推断" in warning.message_zh and f"read as {year}" in warning.message_en


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("11月1日", "due_date.in_past"),  # 25 days ago: this year's, not next year's
        (date(2026, 11, 25), "due_date.in_past"),
        (59, "due_date.in_past"),  # 28 Feb 1900
        (60, "due_date.not_a_date"),  # 29 Feb 1900, which Excel invented
        ("2026/2/30", "due_date.not_a_date"),
        ("2月29日", "due_date.not_a_date"),  # 2027 has none
        ("3/15", "due_date.not_a_date"),
        ("下周一", "due_date.not_a_date"),
        (time(12, 0), "due_date.not_a_date"),
        (timedelta(days=3), "due_date.not_a_date"),
        (date(2040, 1, 1), "due_date.too_far"),
        ("", "due_date.required"),
    ],
)
def test_bad_dates(typed, code):
    got = one("交货日期", typed)
    assert isinstance(got, RowProblem) and got.code == code


@pytest.mark.parametrize(("serial", "day"), [(1, "1900-01-01"), (59, "1900-02-28"), (61, "1900-03-01")])
def test_serials_around_the_1900_leap_year_bug(serial, day):
    got = one("交货日期", serial)
    assert isinstance(got, RowProblem) and got.code == "due_date.in_past" and day in got.message_zh


def test_formula_cells_are_rejected_and_their_cached_value_never_used():
    sheet = [HEADER, row(数量=1200), row(数量=5), row(数量=6)]
    result = read(sheet, formulas={(1, 2), (3, 9)})
    assert [(p.row_no, p.column, p.code) for p in result.problems] == [
        (2, "数量", "cell.formula"),
        (4, "备注", "cell.formula"),
    ]
    assert result.problems[0].values[2] == ""  # the report never shows the cached 1200
    assert result.problems[0].message_zh.startswith("数量：是公式")
    assert [r.row_no for r in result.rows] == [3]


def test_a_header_cell_holding_a_formula_is_no_header_cell():
    with pytest.raises(SheetRefused) as e:
        read([HEADER, row()], formulas={(0, 2)})
    assert e.value.code == "header.missing_column"


def test_a_formula_in_an_ignored_column_is_ignored():
    sheet = [[*HEADER, "金额"], [*row(), 14760]]
    result = read(sheet, formulas={(1, 10)})
    assert len(result.rows) == 1 and result.problems == []


def test_a_row_with_only_a_formula_is_not_blank():
    result = read([HEADER, [None] * 10], formulas={(1, 2)})
    assert [(p.row_no, p.code) for p in result.problems] == [
        (2, "customer_name.required"),
        (2, "product_model.required"),
        (2, "cell.formula"),
        (2, "due_date.required"),
    ]


@pytest.mark.parametrize(
    ("cell", "typed", "code"),
    [
        ("客户名称", '=HYPERLINK("http://evil","点我")', "customer_name.formula_text"),
        ("备注", "@SUM(1+1)*cmd|' /C calc'!A0", "note.formula_text"),
        ("交货地址", "+86 138", "delivery_address.formula_text"),
        ("备注", "- 加急", "note.formula_text"),
        ("产品型号", "=A1", "product_model.formula_text"),
        ("颜色", "=A1", "colour.formula_text"),
        ("备注", "ok\x07bell", "note.control_character"),
    ],
)
def test_text_that_becomes_a_formula_when_exported_is_refused(cell, typed, code):
    got = one(cell, typed)
    assert isinstance(got, RowProblem) and got.code == code


def test_a_bare_dash_is_text():
    got = one("备注", "-")
    assert isinstance(got, AgentRow) and got.note == "-"


@pytest.mark.parametrize(
    ("cell", "cap", "code"),
    [
        ("客户名称", 200, "customer_name.too_long"),
        ("产品型号", 128, "product_model.too_long"),
        ("交货地址", 200, "delivery_address.too_long"),
        ("备注", 500, "note.too_long"),
        ("包装方式", 64, "packaging.too_long"),
    ],
)
def test_length_caps_never_echo_the_value(cell, cap, code):
    assert isinstance(one(cell, "长" * cap), AgentRow)
    got = one(cell, "长" * 10_000)
    assert isinstance(got, RowProblem) and got.code == code
    assert "10000" in got.message_zh and str(cap) in got.message_zh and "长长" not in got.message_zh
    assert "10000" in got.message_en and len(got.message_en) < 80
    assert max(len(v) for v in got.values) == 200  # the report's copy of the row is cut too


def test_option_libraries():
    assert one("颜色", "银色") == GOOD  # the Chinese half of "银色 silver"
    assert one("颜色", "Silver") == GOOD
    got = one("颜色", "紫色")
    assert isinstance(got, RowProblem) and got.code == "colour.not_in_list"
    assert got.message_zh == "颜色：“紫色”不在可选项中（本色 natural、银色 silver）"
    assert got.message_en == "Colour: “紫色” is not one of: 本色 natural, 银色 silver"
    free = one("包装方式", "任意包装")  # an empty library is free text
    assert isinstance(free, AgentRow) and free.packaging == "任意包装"


def test_a_row_with_several_problems_reports_each_with_the_original_row():
    bad = row(客户名称="", 数量="abc", 颜色="紫", 交货日期="明天")
    result = read([HEADER, bad])
    assert [(p.column, p.code) for p in result.problems] == [
        ("客户名称", "customer_name.required"),
        ("数量", "quantity.not_a_number"),
        ("颜色", "colour.not_in_list"),
        ("交货日期", "due_date.not_a_date"),
    ]
    assert {p.values for p in result.problems} == {
        ("", HINGE, "abc", "12.3", "电镀 plating", "紫", "纸箱", "佛山", "明天", "")
    }
    assert result.problems[1].message_zh == "数量：“abc”不是数字，例如 1200"


def test_duplicates_cite_the_earlier_row_after_normalising():
    result = read([HEADER, row(数量=1200), row(数量="1,200", 客户名称=" 华顺五金 "), row(数量=7)])
    assert [r.row_no for r in result.rows] == [2, 4]
    (dup,) = result.problems
    assert (dup.row_no, dup.column, dup.code) == (3, "", "row.duplicate")
    assert dup.message_zh == "与第 2 行完全相同（重复行）" and dup.message_en == "same as row 2 (duplicate)"


def test_custom_fields_and_required_entry_fields():
    header = [*HEADER, "车型", "PPAP等级 PPAP level", "首件检验", "批量", "检验日期"]
    good = [*row(), "博越L", 2, "是", 12.0, "2026/12/1"]
    result = read([header, good], config=AUTOPARTS)
    assert result.rows[0].custom_fields == {
        "vehicle_model": "博越L",
        "ppap_level": "2",
        "first_article": "true",
        "batch_size": "12",
        "inspection_day": "2026-12-01",
    }
    bad = [*row(颜色="", 交货地址=""), "", 4, "也许", 1.5, "明天"]
    result = read([header, bad], config=AUTOPARTS)
    assert [(p.column, p.code) for p in result.problems] == [
        ("颜色", "colour.required"),
        ("交货地址", "delivery_address.required"),
        ("车型", "custom_field.required"),
        ("PPAP等级 PPAP level", "custom_field.not_in_list"),
        ("首件检验", "custom_field.invalid"),
        ("批量", "custom_field.invalid"),
        ("检验日期", "custom_field.not_a_date"),
    ]


def test_more_than_10000_data_rows_refuse_the_whole_sheet():
    rows = [HEADER] + [row(数量=i + 1) for i in range(MAX_DATA_ROWS)]
    assert len(read(rows).rows) == MAX_DATA_ROWS
    with pytest.raises(SheetRefused) as e:
        read([*rows, row(数量=999_999)])
    assert e.value.code == "file.too_many_rows"


def test_the_stream_stops_at_the_first_row_over_the_limit():
    def rows():
        yield HEADER
        for i in range(MAX_DATA_ROWS + 1):
            yield row(数量=i + 1)
        raise AssertionError("read past the limit")

    sheet = open_sheet(rows(), set(), HARDWARE, TODAY)
    with pytest.raises(SheetRefused):
        for _ in sheet.items:
            pass


def test_a_problem_found_later_carries_the_row_as_typed():
    sheet = [[*HEADER, "金额"], [*row(数量="1,200"), 14760.0]]
    (good,) = read(sheet, formulas={(1, 10)}).rows
    later = problem(good, "客户名称", "customer.unknown", "客户不存在", "no such customer")
    assert later == RowProblem(
        2,
        "客户名称",
        "customer.unknown",
        "客户不存在",
        "no such customer",
        (
            "华顺五金",
            HINGE,
            "1,200",
            "12.3",
            "电镀 plating",
            "银色 silver",
            "纸箱",
            "佛山",
            "2026-12-03",
            "",
            "",
        ),
    )  # the formula's cached 14760 is not shown
