"""Inventory reads: what lines would need, what stock there is, the ledger, a lock rule's replay."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.bom import MaterialLine, compare
from services.chassis.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unavailable
from services.chassis.paging import page_size
from services.chassis.rules import CompiledRule, RuleFailed, rule_to_try
from services.inventory.domain.lock_rule import DryRun, PastOrder, replay
from services.inventory.domain.quantity import exact
from services.inventory.domain.reservation import Balance, Reservation, material_needs, models_without_bom
from services.inventory.service_layer.handlers import UowFactory
from services.inventory.service_layer.plant import Plant, on_hand
from services.inventory.service_layer.wms_sync import remember_on_hand

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaterialCheck:
    material: str
    unit: str
    needed: int
    available: int

    @property
    def short(self) -> int:
        return max(self.needed - self.available, 0)


def check_materials(
    lines: Sequence[MaterialLine], uow: UowFactory, plant: Plant
) -> tuple[list[MaterialCheck], list[str]]:
    """What the lines need against what is available (on hand - open reservations); nothing is
    reserved. Also the lines' models without a BOM."""
    wanted = material_needs(plant.config.bom, lines)
    stock = on_hand(plant, list(wanted))
    with uow(read_only=True) as tx:
        balances = tx.balances.get(wanted)
    checks = [
        MaterialCheck(m, n.unit, n.quantity, _available(stock[m], balances.get(m))) for m, n in wanted.items()
    ]
    return checks, models_without_bom(plant.config.bom, lines)


def _available(stock: int, balance: Balance | None) -> int:
    return max(stock - (balance.reserved if balance else 0), 0)


@dataclass(frozen=True)
class NeedPreview:
    material: str
    unit: str
    needed_before: int
    needed_after: int
    reserved: int
    issued: int
    available: int

    @property
    def at_risk(self) -> bool:
        return self.needed_after > self.reserved + self.issued + self.available


def preview_material_needs(
    order_id: str,
    before: Sequence[MaterialLine],
    after: Sequence[MaterialLine],
    uow: UowFactory,
    plant: Plant,
) -> list[NeedPreview]:
    """A change's material impact: needs before and after, what the order holds and has been
    issued, what else is available. With the WMS unreachable, on hand as last read from it: the
    figure the approved change's adjustment will hold against (its consumer calls no WMS)."""
    found = compare(plant.config.bom, before, after)
    materials = [m.material for m in found]
    stock: dict[str, int] | None = None
    try:
        read = on_hand(plant, materials)
    except Unavailable as exc:
        log.warning("impact preview on the last on-hand figures: %s", exc)
    else:
        stock = read
        # Remembered for the change's approval: its consumer holds the new materials against the
        # last figure read (no remote call in its transaction), and a material this tenant never
        # reserved before (gold for a silver → gold change) has no figure until now.
        remember_on_hand(uow, {m.material: m.unit for m in found}, read)
    with uow(read_only=True) as tx:
        res = tx.reservations.for_order(order_id) if order_id else None
        balances = tx.balances.get(materials)
    if stock is None:
        stock = {m: balances[m].on_hand if m in balances else 0 for m in materials}
    lines = res.lines if res is not None else {}
    out = []
    for m in found:
        line = lines.get(m.material)
        out.append(
            NeedPreview(
                m.material,
                m.unit,
                exact(m.needed_before),
                exact(m.needed_after),
                line.reserved if line else 0,
                line.issued if line else 0,
                _available(stock[m.material], balances.get(m.material)),
            )
        )
    return out


def material_stock(materials: Sequence[str], uow: UowFactory, plant: Plant) -> list[tuple[Balance, int]]:
    """(ledger balance, on hand as the WMS says now) per material: the ones asked for, or every
    material the tenant's BOM names or the ledger holds."""
    with uow(read_only=True) as tx:
        balances = tx.balances.get(materials or None)
    units = {m: b.unit for m, b in balances.items()}
    for lines in plant.config.bom.values():
        for entry in lines:
            if not materials or entry.material in materials:
                units.setdefault(entry.material, entry.unit)
    for m in materials:
        units.setdefault(m, "")
    stock = on_hand(plant, sorted(units))
    return [(balances.get(m) or Balance(m, units[m], 0, 0, 0), stock[m]) for m in sorted(units)]


def list_reservations(
    order_id: str, material: str, size: int, token: str, uow: UowFactory
) -> tuple[list[Reservation], str]:
    with uow(read_only=True) as tx:
        return tx.reservations.list(
            order_id=order_id, material=material, page_size=page_size(size, default=100), page_token=token
        )


@dataclass(frozen=True)
class DryRunRule:
    name: str = ""
    expression: str = ""
    params_json: str = ""
    days: int = 0  # 0 = 30


def dry_run_rule(query: DryRunRule, uow: UowFactory, plant: Plant) -> DryRun:
    """A material_lock rule (the tenant's by name, its active one, or a candidate) on the
    tenant's reservations of the last `days` days, beside what was locked then."""
    rule = _rule_to_replay(query, plant)
    since = datetime.now(UTC) - timedelta(days=query.days or 30)
    with uow(read_only=True) as tx:
        history = tx.reservations.since(since)
    past = [
        PastOrder(
            r.order_id, r.order_no, r.customer_id, r.priority, r.amount_fen, tuple(r.order_lines), r.locked
        )
        for r in history
    ]
    try:
        return replay(rule, past)
    except RuleFailed as exc:
        if query.expression:
            raise InvalidArgument(str(exc), [FieldViolation("expression", str(exc))]) from None
        raise FailedPrecondition(f"锁料规则出错 {exc}: fix the rule in the tenant file") from None


def _rule_to_replay(query: DryRunRule, plant: Plant) -> CompiledRule:
    """The lock rule to replay (services/chassis/rules.py `rule_to_try`: one rule for both
    services' dry-runs)."""
    return rule_to_try(plant.config, "material_lock", query.name, query.expression, query.params_json)
