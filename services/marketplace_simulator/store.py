"""The simulator's memory: registered shops (their credentials), orders per platform and shop as
raw records in the platform's own shape, and the faults waiting to be served. One lock guards it
all; every method takes it.

Orders are found by the platform's own id and modification-time fields (SPECS). Times are
compared as Beijing wall-clock text ("2026-11-25 14:03:07"), which sorts as time does.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

PLATFORMS = ("jd", "pdd", "tmall")


@dataclass(frozen=True)
class Spec:
    id_key: str
    modified_key: str


SPECS = {
    "jd": Spec("orderId", "modified"),
    "pdd": Spec("order_sn", "updated_at"),
    "tmall": Spec("tid", "modified"),
}
FAULT_KINDS = ("rate_limit", "error", "http_500", "slow", "garbage", "shift")


class SimError(Exception):
    """A bad admin request: answered 400 (or 404) with the message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Shop:
    platform: str
    shop: str
    app_key: str
    app_secret: str
    access_token: str


@dataclass
class Fault:
    """The next `count` gateway calls of a platform (of one method, if given) after `after`
    unaffected ones answer this way."""

    kind: str
    count: int = 1
    after: int = 0
    method: str = ""
    delay_ms: float = 0.0


@dataclass
class _Platform:
    orders: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # shop -> id -> record
    faults: list[Fault] = field(default_factory=list)
    calls: int = 0


class Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shops: list[Shop] = []
        self._platforms = {name: _Platform() for name in PLATFORMS}

    # --- shops ---

    def add_shop(self, shop: Shop) -> None:
        platform_of(shop.platform)
        with self._lock:
            self._shops = [s for s in self._shops if (s.platform, s.shop) != (shop.platform, shop.shop)]
            self._shops.append(shop)
            self._platforms[shop.platform].orders.setdefault(shop.shop, {})

    def shops_with_key(self, platform: str, app_key: str) -> list[Shop]:
        with self._lock:
            return [s for s in self._shops if s.platform == platform and s.app_key == app_key]

    # --- orders ---

    def put_order(self, platform: str, shop: str, record: dict[str, Any]) -> str:
        spec = SPECS[platform_of(platform)]
        order_id = record.get(spec.id_key)
        if isinstance(order_id, bool) or not isinstance(order_id, (int, str)) or order_id == "":
            raise SimError(f"a {platform} record needs its id in {spec.id_key!r}")
        if not isinstance(record.get(spec.modified_key), str):
            raise SimError(f"a {platform} record needs its modification time in {spec.modified_key!r}")
        with self._lock:
            orders = self._platforms[platform].orders.get(shop)
            if orders is None:
                raise SimError(f"no {platform} shop {shop!r}: POST /_sim/shops first", 404)
            key = str(order_id)
            outcome = "updated" if key in orders else "inserted"
            orders[key] = copy.deepcopy(record)
            return outcome

    def window(
        self, platform: str, shop: str, start: str, end: str, newest_first: bool
    ) -> list[dict[str, Any]]:
        """Copies of the orders modified in [start, end] (Beijing text), in modification order."""
        spec = SPECS[platform]
        with self._lock:
            found = [
                r
                for r in self._platforms[platform].orders.get(shop, {}).values()
                if start <= r[spec.modified_key] <= end
            ]
            found.sort(key=lambda r: (r[spec.modified_key], str(r[spec.id_key])), reverse=newest_first)
            return copy.deepcopy(found)

    def order(self, platform: str, shop: str, order_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._platforms[platform].orders.get(shop, {}).get(order_id)
            return copy.deepcopy(found)

    def touch(self, platform: str, shop: str, order_id: str, modified: str) -> None:
        """The order changes now (the page-shift fault): a later modification time moves it."""
        with self._lock:
            found = self._platforms[platform].orders.get(shop, {}).get(order_id)
            if found is not None:
                found[SPECS[platform].modified_key] = modified

    # --- faults ---

    def add_fault(self, platform: str, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise SimError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if fault.count < 1 or fault.after < 0 or fault.delay_ms < 0:
            raise SimError("count must be at least 1, after and delay_ms not negative")
        with self._lock:
            self._platforms[platform_of(platform)].faults.append(fault)

    def next_fault(self, platform: str, method: str) -> Fault | None:
        """Count a gateway call and say which fault (if any) it suffers."""
        with self._lock:
            state = self._platforms[platform]
            state.calls += 1
            if not state.faults or state.faults[0].method not in ("", method):
                return None
            head = state.faults[0]
            if head.after > 0:
                head.after -= 1
                return None
            head.count -= 1
            if head.count == 0:
                state.faults.pop(0)
            return head

    def calls(self, platform: str) -> int:
        with self._lock:
            return self._platforms[platform_of(platform)].calls

    def reset(self, keep_shops: bool = True) -> None:
        with self._lock:
            shops = self._shops if keep_shops else []
            self._shops = shops
            self._platforms = {name: _Platform() for name in PLATFORMS}
            for shop in shops:
                self._platforms[shop.platform].orders[shop.shop] = {}

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                name: {
                    "orders": {shop: len(orders) for shop, orders in p.orders.items()},
                    "faults": [f.__dict__.copy() for f in p.faults],
                    "calls": p.calls,
                }
                for name, p in self._platforms.items()
            }


def platform_of(value: Any) -> str:
    if value not in PLATFORMS:
        raise SimError(f"platform must be one of {', '.join(PLATFORMS)}")
    return str(value)
