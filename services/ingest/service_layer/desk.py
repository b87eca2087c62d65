"""What every channel shares on its way to the order service: the tenant's screening, its
priority rule, customers looked up once per run, and the one place an order is created."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from services.chassis.errors import FailedPrecondition, InvalidArgument, NotFound
from services.chassis.rules import CompiledRule, RuleFailed, active_rule
from services.chassis.tenants import Tenant
from services.ingest.domain.market_rules import CatalogueEntry, Reason, Screening
from services.ingest.service_layer.ports import CustomerBook, CustomerRef, OrderDesk, OrderDraft

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def request_id(*parts: str) -> str:
    """A create's idempotency key from the identity of its source record (≤ 64 characters)."""
    return "in-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


@dataclass
class TenantDesk:
    """One tenant's view for a run: built per run (the tenant file is read once per process)."""

    tenant: Tenant
    customers: CustomerBook
    _by_code: dict[str, CustomerRef | None] = field(default_factory=dict)
    _by_name: dict[str, list[CustomerRef]] = field(default_factory=dict)
    _by_phone: dict[str, list[CustomerRef]] = field(default_factory=dict)

    @cached_property
    def screening(self) -> Screening:
        catalogue = {
            sku: CatalogueEntry(
                x.product_model, x.finish, x.colour, x.packaging, x.pack_size, x.list_price_fen
            )
            for sku, x in self.tenant.catalogue.items()
        }
        return Screening(catalogue, self.tenant.ingest.change_words)

    @cached_property
    def priority_rule(self) -> CompiledRule | None:
        return active_rule(self.tenant, "ingest_priority")

    def priority(self, facts: dict[str, Any]) -> str:
        """PRIORITY_HIGH when the tenant's rule says so; a rule that fails on this order leaves
        it in the normal queue (logged), never stops the intake."""
        rule = self.priority_rule
        if rule is None:
            return "PRIORITY_NORMAL"
        try:
            return "PRIORITY_HIGH" if rule.matches({"order": facts}) else "PRIORITY_NORMAL"
        except RuleFailed as exc:
            log.warning("ingest priority rule: %s; normal priority", exc)
            return "PRIORITY_NORMAL"

    def customer_by_code(self, code: str) -> CustomerRef | None:
        if code not in self._by_code:
            self._by_code[code] = self.customers.by_code(code)
        return self._by_code[code]

    def customers_with_phone(self, phone: str) -> list[CustomerRef]:
        if phone not in self._by_phone:
            self._by_phone[phone] = self.customers.by_phone(phone)
        return self._by_phone[phone]

    def customers_named(self, name: str) -> list[CustomerRef]:
        if name not in self._by_name:
            self._by_name[name] = self.customers.by_name(name)
        return self._by_name[name]


def priority_facts(
    channel: str,
    lines: list[tuple[int, int]],
    *,
    platform: str = "",
    shop: str = "",
    flagship: bool = False,
    customer_code: str = "",
) -> dict[str, Any]:
    """What the tenant's ingest_priority rule sees of an incoming order (services/chassis/rules.py);
    `lines` are (quantity, unit price in fen)."""
    return {
        "channel": channel,
        "platform": platform,
        "shop": shop,
        "shop_flagship": flagship,
        "customer_code": customer_code,
        "amount_cny": sum(q * p for q, p in lines) / 100,
        "quantity": sum(q for q, _ in lines),
        "lines": len(lines),
    }


# What the order service says when the order itself is wrong (not when it is unreachable).
REFUSALS = (InvalidArgument, FailedPrecondition, NotFound)


def create_or_refusal(orders: OrderDesk, draft: OrderDraft) -> tuple[str, str, list[Reason]]:
    """Create the order; a refusal the caller must fix (a field the order service rejects, a
    deactivated customer) comes back as review reasons instead of an exception. Anything else
    (the order service unreachable) raises: the caller retries the whole record later."""
    try:
        order_id, order_no = orders.create(draft)
        return order_id, order_no, []
    except InvalidArgument as exc:
        reasons = [
            Reason(f"order.{v.field}"[:64], f"订单服务拒绝 order service refused: {v.description}")
            for v in exc.violations
        ]
        return "", "", reasons or [Reason("order.refused", f"订单服务拒绝 order service refused: {exc}")]
    except REFUSALS as exc:  # the rest of them
        return "", "", [Reason("order.refused", f"订单服务拒绝 order service refused: {exc}")]
