"""Realistic raw records in each platform's own shape, for the tests and the demo seed: the plant's
stamped metal parts, receivers whose names need more than the Basic Multilingual Plane, masked
receivers, a refunded Tmall sub-order, a buyer message in two languages.

Amounts are built from decimal strings; JD and Taobao send them as strings, PDD as JSON numbers
(yuan). Tmall tids and oids are above 2^53 and go out as JSON numbers, as TOP sends them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.marketplace_simulator.gateways import beijing
from services.marketplace_simulator.store import Shop


@dataclass(frozen=True)
class Product:
    sku: str  # the seller's SKU code (outerSkuId / outer_id / outer_sku_id)
    title: str
    price: str  # yuan


# The hardware line's catalogue SKUs (tenants/hardware.toml [catalogue]): a pack price that divides
# into whole fen per piece. PLATE is a SKU the catalogue does not know (the order goes to review).
HINGE = Product("HB-2040-SV-100", "HB-2040 铰链 hinge 银色 100只装", "45.00")
BRACKET = Product("BK-310-BK-50", "BK-310 支架 bracket 发黑 50只装", "60.00")
PLATE = Product("PL-0805-SS-200", "PL-0805 安装板 mounting plate 不锈钢 200mm", "28.00")
CLIP = Product("SP-08-NA-500", "SP-08 弹片 spring clip 500只装", "40.00")


@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    province: str
    city: str
    district: str
    town: str
    address: str


YOSHINOYA = Person(
    "𠮷野家", "13812345678", "浙江省", "宁波市", "鄞州区", "首南街道", "天童南路５８８号 🏭 三号楼"
)
ABDU = Person(
    "阿卜杜·热合曼", "13999012345", "新疆维吾尔自治区", "乌鲁木齐市", "天山区", "", "解放南路１２３号"
)
MASKED = Person("张**", "138****5678", "广东省", "佛山市", "顺德区", "", "北滘镇****号")
MESSAGE = "请改成金色 please change to gold"


def yuan(value: Decimal) -> str:
    return f"{value:.2f}"


def _lines(items: Sequence[tuple[Product, int]]) -> tuple[Decimal, list[tuple[Product, int, Decimal]]]:
    rows = [(p, n, Decimal(p.price) * n) for p, n in items]
    return sum((r[2] for r in rows), Decimal(0)), rows


def jd_order(
    order_id: str,
    modified: str,
    items: Sequence[tuple[Product, int]] = ((HINGE, 2),),
    *,
    state: str = "WAIT_SELLER_STOCK_OUT",
    person: Person = YOSHINOYA,
    freight: str = "10.00",
    discount: str = "0.00",
    remark: str = "",
) -> dict[str, Any]:
    goods, rows = _lines(items)
    return {
        "orderId": order_id,
        "venderId": "10086",
        "orderType": "22",
        "payType": "4-在线支付",
        "orderTotalPrice": yuan(goods),
        "orderSellerPrice": yuan(goods - Decimal(discount)),
        "orderPayment": yuan(goods - Decimal(discount) + Decimal(freight)),
        "freightPrice": freight,
        "sellerDiscount": discount,
        "orderState": state,
        "orderStateRemark": {"WAIT_SELLER_STOCK_OUT": "等待出库", "TRADE_CANCELED": "取消"}.get(state, ""),
        "orderRemark": remark,
        "venderRemark": "",
        "orderStartTime": modified,
        "paymentConfirmTime": modified,
        "modified": modified,
        "pin": "jd_buyer***",
        "open_id_buyer": "o-jd-7f3a",
        "consigneeInfo": {
            "fullname": person.name,
            "mobile": person.phone,
            "telephone": "",
            "province": person.province,
            "city": person.city,
            "county": person.district,
            "town": person.town,
            "fullAddress": person.province + person.city + person.district + person.town + person.address,
        },
        "itemInfoList": [
            {
                "skuId": f"1000{index}{order_id[-4:]}",
                "outerSkuId": p.sku,
                "productNo": p.sku.split("-")[0] + "-" + p.sku.split("-")[1],
                "skuName": p.title,
                "jdPrice": p.price,
                "itemTotal": str(n),
                "wareId": f"5000{index}",
            }
            for index, (p, n, _) in enumerate(rows, 1)
        ],
    }


def pdd_order(
    order_sn: str,
    updated_at: str,
    items: Sequence[tuple[Product, int]] = ((BRACKET, 10),),
    *,
    order_status: int = 1,
    refund_status: int = 1,
    confirm_status: int = 1,
    person: Person = ABDU,
    masked: bool = False,
    postage: str = "0.00",
    memo: str = "",
) -> dict[str, Any]:
    goods, rows = _lines(items)
    record: dict[str, Any] = {
        "order_sn": order_sn,
        "order_status": order_status,
        "refund_status": refund_status,
        "confirm_status": confirm_status,
        "risk_control_status": 0,
        "created_time": updated_at,
        "pay_time": updated_at,
        "confirm_time": updated_at,
        "updated_at": updated_at,
        "goods_amount": float(goods),
        "discount_amount": 0.0,
        "postage": float(Decimal(postage)),
        "pay_amount": float(goods + Decimal(postage)),
        "buyer_memo": memo,
        "remark": "",
        "receiver_name": person.name,
        "receiver_phone": person.phone,
        "province": person.province,
        "city": person.city,
        "town": person.district,
        "receiver_address": person.address,
        "address": person.province + person.city + person.district + person.address,
        "item_list": [
            {
                "goods_id": 300000 + index,
                "sku_id": 700000 + index,
                "outer_id": p.sku,
                "outer_goods_id": "-".join(p.sku.split("-")[:2]),
                "goods_name": p.title,
                "goods_price": float(Decimal(p.price)),
                "goods_spec": p.sku.split("-", 2)[2],
                "goods_count": n,
            }
            for index, (p, n, _) in enumerate(rows, 1)
        ],
    }
    if masked:  # an encrypted shop: ciphertext in the plain fields, masked text beside it
        record.update(
            receiver_name="~AgAAAAGHxZg1~", receiver_phone="$13812345678$", receiver_address="~AgAAAA5bd==~"
        )
        record.update(
            receiver_name_mask=MASKED.name,
            receiver_phone_mask=MASKED.phone,
            receiver_address_mask=MASKED.address,
        )
    return record


def tmall_sub_order(
    oid: int, product: Product, num: int, *, refund_status: str = "NO_REFUND", status: str = ""
) -> dict[str, Any]:
    total = Decimal(product.price) * num
    return {
        "oid": oid,
        "oid_str": str(oid),
        "num_iid": 600000000001,
        "outer_iid": "-".join(product.sku.split("-")[:2]),
        "outer_sku_id": product.sku,
        "title": product.title,
        "price": product.price,
        "num": num,
        "total_fee": yuan(total),
        "payment": yuan(total),
        "discount_fee": "0.00",
        "refund_status": refund_status,
        "status": status,
    }


def tmall_trade(
    tid: int,
    modified: str,
    orders: Sequence[dict[str, Any]],
    *,
    status: str = "WAIT_SELLER_SEND_GOODS",
    person: Person = YOSHINOYA,
    oaid: str = "",
    message: str = MESSAGE,
    post_fee: str = "8.00",
) -> dict[str, Any]:
    goods = sum((Decimal(o["total_fee"]) for o in orders), Decimal(0))
    for order in orders:
        order["status"] = order["status"] or status
    return {
        "tid": tid,
        "tid_str": str(tid),
        "status": status,
        "type": "fixed",
        "created": modified,
        "pay_time": modified,
        "modified": modified,
        "buyer_nick": "t**3",
        "buyer_open_uid": "AAHk5d-EAAeGwJedwSHpg8bT",
        "buyer_message": message,
        "seller_memo": "",
        "total_fee": yuan(goods),
        "discount_fee": "0.00",
        "post_fee": post_fee,
        "payment": yuan(goods + Decimal(post_fee)),
        "receiver_name": MASKED.name if oaid else person.name,
        "receiver_state": person.province,
        "receiver_city": person.city,
        "receiver_district": person.district,
        "receiver_town": person.town,
        "receiver_address": MASKED.address if oaid else person.address,
        "receiver_zip": "315100",
        "receiver_mobile": MASKED.phone if oaid else person.phone,
        "oaid": oaid,
        "orders": {"order": list(orders)},
    }


def demo_shops() -> list[Shop]:
    """Credentials the demo and the embedded stack register, one shop per platform."""
    return [
        Shop("jd", "jd-flagship", "sim-jd-app", "sim-jd-secret", "sim-jd-token"),
        Shop("pdd", "pdd-store", "sim-pdd-client", "sim-pdd-secret", "sim-pdd-token"),
        Shop("tmall", "tmall-flagship", "sim-tmall-app", "sim-tmall-secret", "sim-tmall-session"),
    ]


def demo_orders(shop_keys: Mapping[str, str], now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """A few orders per platform modified in the minutes before `now` (shop_keys: platform ->
    the shop's key in the simulator), each kind the ingest rules must handle: for the hardware
    line's catalogue, one clean paid order per platform (made), a buyer asking for gold, a masked
    receiver, an unknown SKU with a refunded sub-order (review), a cancelled and a refunded one
    (skipped)."""
    at = [beijing(now - timedelta(minutes=m)) for m in (20, 12, 5)]
    seeded: list[tuple[str, str, dict[str, Any]]] = []
    if "jd" in shop_keys:
        shop = shop_keys["jd"]
        seeded += [
            ("jd", shop, jd_order("300012345601", at[0], ((HINGE, 4), (BRACKET, 20)), remark=MESSAGE)),
            ("jd", shop, jd_order("300012345602", at[1], ((BRACKET, 2),), person=ABDU, freight="0.00")),
            ("jd", shop, jd_order("300012345603", at[2], ((CLIP, 100),), state="TRADE_CANCELED")),
        ]
    if "pdd" in shop_keys:
        shop = shop_keys["pdd"]
        seeded += [
            ("pdd", shop, pdd_order("231125-087654321098765", at[0])),
            ("pdd", shop, pdd_order("231125-087654321098766", at[1], ((HINGE, 6),), masked=True)),
            ("pdd", shop, pdd_order("231125-087654321098767", at[2], ((CLIP, 50),), refund_status=4)),
        ]
    if "tmall" in shop_keys:
        shop = shop_keys["tmall"]
        tid = 4123456789012345678
        seeded += [
            ("tmall", shop, tmall_trade(tid, at[0], [tmall_sub_order(tid + 1, HINGE, 2)], message="")),
            (
                "tmall",
                shop,
                tmall_trade(
                    tid + 100,
                    at[1],
                    [
                        tmall_sub_order(tid + 101, PLATE, 1),
                        tmall_sub_order(tid + 102, CLIP, 20, refund_status="SUCCESS", status="TRADE_CLOSED"),
                    ],
                    oaid="1qoEL2p3ZVXhCQ5t0rB4nXbvxA1zGmOyc9cShzC7gpbE1uL5icCPibqyEd7GyDVsfsMU",
                ),
            ),
        ]
    return seeded
