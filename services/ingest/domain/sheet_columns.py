"""The columns of an agent's order sheet (代理商订单表): the template writes them, the upload finds
them by their header text. Pure Python.

Agents retype headers, add units ("单价(元)"), mark required columns with "*" and use English
headings, so a header is matched by a normalised spelling and a few aliases, never by position.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from services.chassis.tenant_config import CustomField, TenantConfig


@dataclass(frozen=True)
class Column:
    key: str  # customer_name … note, or "custom:<key>" for a tenant's custom field
    label: str  # the template's header (Chinese; a custom field's label from the tenant file)
    label_en: str
    aliases: tuple[str, ...] = ()  # other headers read as this column
    max_length: int = 0  # characters after trimming (0: a number or a date, no text cap)
    width: int = 14  # the template's column width
    custom: CustomField | None = None
    library: tuple[str, ...] = ()  # the tenant's option library (empty = free text)

    @property
    def custom_key(self) -> str:
        return self.key.removeprefix("custom:")


OPTION_MAX = 64
CUSTOM_TEXT_MAX = 200

# Not "说明": the error report has a 说明 column and a corrected report must upload again.
_BUILTIN = (
    Column("customer_name", "客户名称", "Customer name", ("客户", "客户名", "customer"), 200, 26),
    Column("product_model", "产品型号", "Product model", ("型号", "产品", "model", "product"), 128, 26),
    Column("quantity", "数量", "Quantity", ("订货数量", "订单数量", "qty"), width=10),
    Column("unit_price", "单价", "Unit price", ("价格", "price"), width=10),
    Column("surface_treatment", "表面处理", "Surface treatment", ("finish",), OPTION_MAX, 16),
    Column("colour", "颜色", "Colour", ("color",), OPTION_MAX, 14),
    Column("packaging", "包装方式", "Packaging", ("包装", "packing"), OPTION_MAX, 16),
    Column(
        "delivery_address",
        "交货地址",
        "Delivery address",
        ("送货地址", "收货地址", "地址", "address"),
        200,
        36,
    ),
    Column("due_date", "交货日期", "Due date", ("交期", "交货期", "delivery date"), width=13),
    Column("note", "备注", "Note", ("notes", "remark", "remarks"), 500, 30),
)
_LIBRARY = {
    "product_model": "product_models",
    "surface_treatment": "surface_treatments",
    "colour": "colours",
    "packaging": "packaging",
}
ALWAYS_REQUIRED = ("customer_name", "product_model", "quantity", "due_date")


def columns_for(config: TenantConfig) -> tuple[Column, ...]:
    """The sheet's columns for one business line: the ten standard ones, then its custom fields."""
    out = [
        Column(
            c.key,
            c.label,
            c.label_en,
            c.aliases,
            c.max_length,
            c.width,
            library=getattr(config.options, _LIBRARY[c.key]) if c.key in _LIBRARY else (),
        )
        for c in _BUILTIN
    ]
    for key, spec in config.custom_fields.items():
        short = spec.label.split()[0]  # "车型 vehicle model" is also found as 车型
        out.append(
            Column(
                f"custom:{key}",
                spec.label,
                spec.label,
                (key, short),
                CUSTOM_TEXT_MAX if spec.type in ("text", "choice") else 0,
                max(12, min(30, len(spec.label) * 2)),
                custom=spec,
                library=spec.choices or (("是", "否") if spec.type == "boolean" else ()),
            )
        )
    return tuple(out)


def required_keys(config: TenantConfig) -> tuple[str, ...]:
    """The columns a sheet of this business line must have (every row would fail without them)."""
    extra = tuple(config.entry.required)
    custom = tuple(f"custom:{k}" for k, spec in config.custom_fields.items() if spec.required)
    return ALWAYS_REQUIRED + extra + custom


_UNIT = re.compile(r"\s*\([^()]*\)$")  # "单价(元)", "数量（件）" after NFKC
_REQUIRED_MARK = re.compile(r"^\*+|\*+$|\s*\(必填\)$|\s*\(required\)$")


def normalise_header(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().casefold()
    text = _REQUIRED_MARK.sub("", text).strip()
    return re.sub(r"\s+", " ", text)


def header_index(columns: tuple[Column, ...]) -> dict[str, str]:
    """Normalised header text → column key. A standard column wins over a custom field's alias."""
    index: dict[str, str] = {}
    for column in reversed(columns):  # reversed: the standard columns, first, overwrite
        for name in (column.label, column.label_en, *column.aliases):
            index[normalise_header(name)] = column.key
    return index


def match_header(text: str, index: dict[str, str]) -> str | None:
    name = normalise_header(text)
    if name in index:
        return index[name]
    return index.get(_UNIT.sub("", name)) if name else None
