"""What plant staff read: states and stages in Chinese with English beside them, times in the
plant's zone to the minute, and columns aligned by display width (a Chinese character takes two
terminal columns, a combining mark none), so a table of 美的 and Midea lines up.

Pure functions over proto messages and text: no calls, no printing (omsctl/__main__.py prints).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, tzinfo

import wcwidth
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date

NONE = "—"
# What a caller who may not see prices reads where a price would be.
WITHHELD = "—（价格不可见 prices withheld）"

# Enum value names (as in the protos) -> what a person reads.
LABELS: dict[str, str] = {
    "ORDER_STATE_PENDING_APPROVAL": "待审批 Pending approval",
    "ORDER_STATE_APPROVED": "已审批 Approved",
    "ORDER_STATE_DRAFT": "草稿 Draft",
    "ORDER_STATE_IN_PRODUCTION": "生产中 In production",
    "ORDER_STATE_QC_PASSED": "质检完成 QC passed",
    "ORDER_STATE_READY_TO_SHIP": "待发货 Ready to ship",
    "ORDER_STATE_SHIPPED": "已发货 Shipped",
    "ORDER_STATE_CLOSED": "已关闭 Closed",
    "ORDER_STATE_CANCELLED": "已取消 Cancelled",
    "ORDER_STATE_PENDING_CHANGE": "变更待审 Pending change",
    "CHANGE_STATE_PENDING": "待审 Pending",
    "CHANGE_STATE_APPROVED": "已批准 Approved",
    "CHANGE_STATE_REJECTED": "已驳回 Rejected",
    "STAGE_TO_SCHEDULE": "待排产 To schedule",
    "STAGE_IN_PROCESS": "加工中 In process",
    "STAGE_QC_PASSED": "质检完成 QC passed",
    "STAGE_READY_TO_SHIP": "待发货 Ready to ship",
    "STAGE_SHIPPED": "已发货 Shipped",
    "RESERVATION_STATE_HELD": "已预留 Held",
    "RESERVATION_STATE_FROZEN": "变更冻结 Frozen",
    "RESERVATION_STATE_ISSUED": "已领料 Issued",
    "RESERVATION_STATE_RELEASED": "已释放 Released",
    "TIER_A": "A级 Tier A",
    "TIER_B": "B级 Tier B",
    "TIER_C": "C级 Tier C",
    "PRIORITY_NORMAL": "常规 Normal",
    "PRIORITY_HIGH": "加急 High",
    "CHANNEL_MARKETPLACE": "电商 Marketplace",
    "CHANNEL_AGENT": "代理 Agent",
    "CHANNEL_DIRECT": "直销 Direct",
}

# Steps of an order's history and audit trail (services/order/domain/lifecycle.py names them).
ACTION_LABELS: dict[str, str] = {
    "create": "创建 Create",
    "submit": "提交 Submit",
    "approve": "审批 Approve",
    "cancel": "取消 Cancel",
    "start_production": "开始生产 Start production",
    "pass_qc": "质检通过 Pass QC",
    "make_ready": "备货完成 Make ready",
    "replan": "重新排产 Replan",
    "ship": "发货 Ship",
    "close": "关闭 Close",
    "request_change": "申请变更 Request change",
    "approve_change": "批准变更 Approve change",
    "reject_change": "驳回变更 Reject change",
    "reroute": "改工艺路线 Reroute",
}

# Roles a notification is addressed to (services/permissions.py names them).
ROLE_LABELS: dict[str, str] = {
    "sales": "销售 Sales",
    "approver": "审批 Approver",
    "planner": "计划 Planner",
    "workshop_lead": "车间主任 Workshop lead",
    "manager": "经理 Manager",
}


def label(enum: EnumTypeWrapper, value: int) -> str:
    """An enum value as staff read it; an unset value is a dash, a value newer than this omsctl
    its proto name (or number)."""
    if value == 0:
        return NONE
    try:
        name = enum.Name(value)
    except ValueError:
        return str(value)
    return LABELS.get(name, name)


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def name_label(name: str) -> str:
    """An enum value sent as text (a change's impact names production's stage "STAGE_IN_PROCESS",
    a diff the priority "PRIORITY_HIGH") as staff read it; other text as it is."""
    return LABELS.get(name, name)


def yes_no(value: bool) -> str:
    return "是 yes" if value else "否 no"


def local_time(stamp: Timestamp | None, zone: tzinfo = UTC, seconds: bool = False) -> str:
    """An instant in the plant's zone, to the minute: "2026-11-25 17:30" (to the second where
    it is a moment to pick, as in an audit trail: "2026-11-25 17:30:05"); unset is a dash."""
    if stamp is None or (stamp.seconds == 0 and stamp.nanos == 0):
        return NONE
    return (
        stamp.ToDatetime(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))
    )


def day(value: Date | None) -> str:
    """A google.type.Date as YYYY-MM-DD; unset is a dash."""
    if value is None or value.year == 0:
        return NONE
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def quantity(value: int) -> str:
    return f"{value:,}"


def price_fen(fen: int) -> str:
    """Fen as yuan, exactly (no float): 85 -> ¥0.85, 123456 -> ¥1,234.56."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def money(fen: int, withheld: bool = False) -> str:
    """An amount in fen as yuan ("¥1,234.50"), or what the caller reads when prices are withheld
    from them (the service sends 0 then: that 0 is no price)."""
    return WITHHELD if withheld else price_fen(fen)


def amount(value: float) -> str:
    """A material quantity: 1300.0 -> "1,300", 0.5 -> "0.5", 12.3456 -> "12.346"."""
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# Characters that would move the cursor, recolour the terminal or reorder the line: shown as
# U+FFFD instead (the services refuse them in input; this is for what got in some other way).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean(text: object) -> str:
    return "".join(
        "\ufffd" if unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS else ch for ch in str(text)
    )


def width(text: str) -> int:
    """Columns `text` takes in a terminal: 2 for 美, 1 for M, 0 for a combining mark."""
    columns = wcwidth.wcswidth(text)
    return columns if columns >= 0 else len(text)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` columns, with "…" where it was cut."""
    if width(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        w = max(wcwidth.wcwidth(ch), 0)
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def pad(text: str, columns: int, right: bool = False) -> str:
    fill = " " * max(columns - width(text), 0)
    return fill + text if right else text + fill


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    right: Iterable[int] = (),
    limits: dict[int, int] | None = None,
) -> list[str]:
    """Lines of a table whose columns line up by display width. `right` holds the indexes of
    columns aligned right (numbers); `limits` caps a column's width (longer cells are clipped)."""
    limits = limits or {}
    right = set(right)
    cells = [[clean(c) for c in row] for row in rows]
    if not cells:
        return ["(无 none)"]
    cells = [[clip(c, limits[i]) if i in limits else c for i, c in enumerate(row)] for row in cells]
    widths = [max(width(h), *(width(row[i]) for row in cells)) for i, h in enumerate(headers)]
    out = []
    for row in [list(headers), *cells]:
        line = "  ".join(pad(c, widths[i], i in right) for i, c in enumerate(row))
        out.append(line.rstrip())
    return out


def card(fields: Sequence[tuple[str, object]]) -> list[str]:
    """Lines of "key  value" pairs with the values aligned by display width."""
    keys = [clean(k) for k, _ in fields]
    column = max(width(k) for k in keys)
    return [f"{pad(k, column)}  {clean(v)}".rstrip() for k, (_, v) in zip(keys, fields, strict=True)]
