"""Materials in omsctl (物料): stock as the WMS reports it beside what the ledger holds, an order's
reservation, and 领料 (`omsctl issue HW-20261125-00001`: hand its reserved materials to the shop
floor). Order numbers are taken wherever an order id is asked."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime

from oms.inventory.v1 import inventory_pb2
from omsctl import display as d
from omsctl.client import Client
from omsctl.output import as_json, emit, more

STOCK_HEADERS = [
    "物料 Material",
    "单位 Unit",
    "在库 On hand",
    "已预留 Reserved",
    "锁定 Locked",
    "可用 Available",
]
LINE_HEADERS = ["物料 Material", "单位 Unit", "需要 Needed", "已预留 Reserved", "已领 Issued", "缺 Short"]
LIST_HEADERS = ["订单 Order", "版本 Rev", "状态 State", "锁定 Locked", "缺料 Short", "WMS", "更新 Updated"]


def register(add: Callable[..., argparse.ArgumentParser], paging: Callable[..., None]) -> None:
    sp = add("stock", cmd_stock, "materials: on hand in the WMS, reserved, locked, available (库存)")
    sp.add_argument("--material", action="append", default=[], help="only this material (repeatable)")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")
    sp = add("reservations", cmd_reservations, "open reservations, or one order's (物料预留)")
    sp.add_argument("--order", help="this order's reservation, in every state: order number or id")
    sp.add_argument("--material", default="", help="only reservations holding this material")
    paging(sp, 100)
    sp = add("issue", cmd_issue, "hand an order's reserved materials to the shop floor (领料)")
    sp.add_argument("order", metavar="order", help="order number (HW-20261125-00001) or id")
    sp.add_argument("--json", action="store_true", help="the API's answer as JSON")


def cmd_stock(c: Client, a) -> int:
    reply = c.call(
        "inventory", "ListMaterialStock", inventory_pb2.ListMaterialStockRequest(materials=a.material)
    )
    if a.json:
        as_json(reply)
        return 0
    rows = [
        [
            m.material,
            m.unit,
            d.amount(m.on_hand),
            d.amount(m.reserved),
            d.amount(m.locked),
            d.amount(m.available),
        ]
        for m in reply.materials
    ]
    emit(d.table(STOCK_HEADERS, rows, right={2, 3, 4, 5}))
    return 0


def cmd_reservations(c: Client, a) -> int:
    request = inventory_pb2.ListReservationsRequest(
        order_id=c.resolve_order(a.order) if a.order else "",
        material=a.material,
        page_size=a.limit,
        page_token=a.page_token or "",
    )
    reply = c.call("inventory", "ListReservations", request)
    if a.json:
        as_json(list(reply.reservations))
    elif a.order and reply.reservations:
        emit(reservation_card(c, reply.reservations[0]))
    else:
        emit(d.table(LIST_HEADERS, [_row(c, r) for r in reply.reservations], right={1}))
    more(reply.next_page_token, a.json)
    return 0


def cmd_issue(c: Client, a) -> int:
    request = inventory_pb2.IssueMaterialsRequest(order_id=c.resolve_order(a.order))
    reservation = c.call("inventory", "IssueMaterials", request).reservation
    if a.json:
        as_json(reservation)
    else:
        emit(reservation_card(c, reservation))
    return 0


def _row(c: Client, r: inventory_pb2.OrderReservation) -> list[str]:
    return [
        r.order_no,
        str(r.revision),
        d.label(inventory_pb2.ReservationState, r.state),
        r.lock_rule if r.locked else d.NONE,
        "是 yes" if any(m.short for m in r.materials) else d.NONE,
        "已同步 synced" if r.wms_synced else "待同步 pending",
        _local(c, r.updated_at),
    ]


def _local(c: Client, rfc3339: str) -> str:
    """An RFC 3339 instant in the plant's zone, to the minute (as every time omsctl shows)."""
    try:
        return datetime.fromisoformat(rfc3339).astimezone(c.zone).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return d.NONE


def reservation_card(c: Client, r: inventory_pb2.OrderReservation) -> list[str]:
    fields: list[tuple[str, object]] = [
        ("订单 Order", f"{r.order_no}  (版本 revision {r.revision})"),
        ("状态 State", d.label(inventory_pb2.ReservationState, r.state)),
    ]
    if r.locked:
        fields.append(("原材料已锁定 Locked", f"规则 rule {r.lock_rule}"))
    if r.overridden:
        fields.append(("缺料接单 Accepted short", f"{r.overridden_by}：{r.override_reason}"))
    fields.append(("仓储同步 WMS", "已同步 synced" if r.wms_synced else "待同步 waiting to be sent"))
    lines = d.card(fields)
    lines.append("物料 Materials")
    rows = [
        [m.material, m.unit, d.amount(m.needed), d.amount(m.reserved), d.amount(m.issued), d.amount(m.short)]
        for m in r.materials
    ]
    lines += ["  " + line for line in d.table(LINE_HEADERS, rows, right={2, 3, 4, 5})]
    return lines
