"""Reservations (锁料): what one order holds of each material, in the service's own ledger. Pure
Python. The ledger is the truth; the WMS is told after each change and agrees once synced.

A reservation is one order's, at one content revision of the order: `needed` by the BOM, `reserved`
held for it now, `issued` handed to the shop floor, `short` what an override (or an approved change
meeting too little stock) accepted without material. Quantities are millionths (quantity.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from services.bom import BomEntry, MaterialLine, needs
from services.chassis.errors import FailedPrecondition
from services.chassis.events import DomainEvent
from services.inventory.domain.quantity import exact, shown, text


class ReservationState(StrEnum):
    HELD = "held"  # 已预留
    FROZEN = "frozen"  # 变更冻结: a change of the order is pending, no issue
    ISSUED = "issued"  # 已领料
    RELEASED = "released"  # 已释放

    @property
    def open(self) -> bool:
        """Holding stock: counted in the balances' `reserved`."""
        return self in (ReservationState.HELD, ReservationState.FROZEN)


class IssueInProgress(FailedPrecondition):
    """The WMS is issuing the reservation (领料 in flight): it may not change until the ledger has
    recorded what left. A caller retries once the issue is done; an event consumer's retry policy
    redelivers (it is not a MalformedEvent)."""

    def __init__(self, order_no: str):
        super().__init__(
            f"领料进行中 an issue of this order ({order_no}) is in progress: retry once it is done"
        )


@dataclass(frozen=True)
class Balance:
    """One material's row of the ledger: on hand as last read from the WMS, open reservations."""

    material: str
    unit: str
    on_hand: int
    reserved: int
    locked: int

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


@dataclass(frozen=True)
class Need:
    material: str
    unit: str
    quantity: int  # millionths


def material_needs(bom: Mapping[str, Sequence[BomEntry]], lines: Iterable[MaterialLine]) -> dict[str, Need]:
    """What the lines need by the BOM, per material (sorted by name: the order balances are taken
    in, so two reservations never wait on each other's rows). A material the BOM names in two
    units cannot be added up: the tenant file is wrong, said so."""
    out: dict[str, Need] = {}
    for (material, unit), quantity in needs(bom, lines).items():
        if material in out and out[material].unit != unit:
            raise FailedPrecondition(
                f"物料单位不一致 the BOM names {material!r} in {out[material].unit} and in {unit}: "
                "fix [bom] of the tenant file"
            )
        before = out[material].quantity if material in out else 0
        out[material] = Need(material, unit, before + exact(quantity))
    return {m: out[m] for m in sorted(out) if out[m].quantity > 0}


def models_without_bom(bom: Mapping[str, Sequence[BomEntry]], lines: Iterable[MaterialLine]) -> list[str]:
    seen: list[str] = []
    for line in lines:
        if line.product_model not in bom and line.product_model not in seen:
            seen.append(line.product_model)
    return seen


@dataclass(frozen=True)
class Shortfall:
    material: str
    unit: str
    needed: int
    available: int

    @property
    def missing(self) -> int:
        return self.needed - max(self.available, 0)


def shortfalls(wanted: Mapping[str, Need], available: Mapping[str, int]) -> list[Shortfall]:
    """Every material of which less is available than wanted, in material order."""
    return [
        Shortfall(m, n.unit, n.quantity, max(available.get(m, 0), 0))
        for m, n in sorted(wanted.items())
        if available.get(m, 0) < n.quantity
    ]


def short_message(found: Sequence[Shortfall]) -> str:
    parts = [f"{s.material} needs {text(s.needed)} {s.unit}, {text(s.available)} available" for s in found]
    return "材料不足 materials short: " + "; ".join(parts)


@dataclass
class ReservationLine:
    material: str
    unit: str
    needed: int
    reserved: int = 0
    issued: int = 0
    short: int = 0
    available: int = 0  # available to others before this order took its share (when last taken)

    def as_event(self) -> dict:
        return {
            "material": self.material,
            "unit": self.unit,
            "needed": shown(self.needed),
            "reserved": shown(self.reserved),
            "issued": shown(self.issued),
            "short": shown(self.short),
        }


def change_to(line: ReservationLine | None, need: Need | None) -> int:
    """How much more (> 0) or less (< 0) to hold of one material for a new need: the new need less
    what was already issued (issued material stays issued), against what is held now."""
    held = line.reserved if line else 0
    issued = line.issued if line else 0
    target = max((need.quantity if need else 0) - issued, 0)
    return target - held


def adjustment(lines: Mapping[str, ReservationLine], wanted: Mapping[str, Need]) -> dict[str, int]:
    """Per material (sorted), the change of holding that takes a reservation to `wanted`; materials
    whose holding does not change are left out."""
    out = {}
    for material in sorted(lines.keys() | wanted.keys()):
        delta = change_to(lines.get(material), wanted.get(material))
        if delta:
            out[material] = delta
    return out


# Events (past tense; contracts in protos/oms/inventory/v1/inventory.proto).


@dataclass(frozen=True)
class MaterialsReserved(DomainEvent):
    event_type: ClassVar[str] = "materials_reserved"
    reservation_id: str
    order_id: str
    order_no: str
    customer_id: str
    revision: int
    locked: bool
    lock_rule: str
    overridden: bool
    overridden_by: str
    override_reason: str
    materials: list[dict]


@dataclass(frozen=True)
class ReservationAdjusted(DomainEvent):
    event_type: ClassVar[str] = "reservation_adjusted"
    reservation_id: str
    order_id: str
    order_no: str
    customer_id: str
    revision: int
    previous_revision: int
    materials: list[dict]
    released: list[dict]
    added: list[dict]
    short: bool


@dataclass(frozen=True)
class MaterialsReleased(DomainEvent):
    event_type: ClassVar[str] = "materials_released"
    reservation_id: str
    order_id: str
    order_no: str
    customer_id: str
    revision: int
    reason: str
    materials: list[dict]


@dataclass(frozen=True)
class MaterialsIssued(DomainEvent):
    event_type: ClassVar[str] = "materials_issued"
    reservation_id: str
    order_id: str
    order_no: str
    customer_id: str
    revision: int
    issued_by: str
    materials: list[dict]


@dataclass
class Reservation:
    reservation_id: str
    order_id: str
    order_no: str
    customer_id: str
    revision: int
    amount_fen: int
    priority: str
    order_lines: list[MaterialLine]  # the revision's order lines (a lock rule's dry-run reads them)
    created_at: datetime
    updated_at: datetime
    lines: dict[str, ReservationLine] = field(default_factory=dict)
    state: ReservationState = ReservationState.HELD
    locked: bool = False
    lock_rule: str = ""
    overridden: bool = False
    overridden_by: str = ""
    override_reason: str = ""
    wms_synced: bool = False
    # +1 on every change: the WMS sync marks the reservation synced only if no change came since
    # the state it sent.
    ledger_version: int = 1
    # The WMS ends a reservation when it issues it and refuses to hold more under its id: what the
    # order holds after an issue (a change needing more) is a new WMS reservation, `wms_id`.
    wms_round: int = 0
    # The issuing mark: set (with the ledger version the WMS holds, and who issues) in a commit of
    # its own before the WMS is asked to issue, cleared when the ledger records the issue or the
    # WMS refused it. While set, nothing may change what the WMS is issuing. The state stays HELD:
    # the stock is held until the issue is recorded.
    issuing_since: datetime | None = None
    issuing_version: int = 0
    issuing_by: str = ""
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    @property
    def wms_id(self) -> str:
        """The reservation's id in the WMS: ours, then ours:2, ours:3… after each issue."""
        return self.reservation_id if self.wms_round == 0 else f"{self.reservation_id}:{self.wms_round + 1}"

    @property
    def issuing(self) -> bool:
        return self.issuing_since is not None

    def require_not_issuing(self) -> None:
        if self.issuing:
            raise IssueInProgress(self.order_no)

    @property
    def short(self) -> bool:
        return any(x.short > 0 for x in self.lines.values())

    def _touch(self, now: datetime) -> None:
        self.updated_at = now
        self.wms_synced = False
        self.ledger_version += 1

    def announce(self) -> None:
        self.events.append(
            MaterialsReserved(
                self.reservation_id,
                self.order_id,
                self.order_no,
                self.customer_id,
                self.revision,
                self.locked,
                self.lock_rule,
                self.overridden,
                self.overridden_by,
                self.override_reason,
                [x.as_event() for x in self.lines.values()],
            )
        )

    def require_open(self, doing: str) -> None:
        if self.state is ReservationState.RELEASED:
            raise FailedPrecondition(
                f"预留已释放 the reservation of {self.order_no} was released: cannot {doing}"
            )

    def adjusted(
        self,
        revision: int,
        wanted: Mapping[str, Need],
        taken: Mapping[str, tuple[int, int]],
        order_lines: list[MaterialLine],
        now: datetime,
    ) -> None:
        """Apply a change of holding already made on the balances: `taken[material]` = (change of
        holding actually made, available before it). A material held less than its target is
        short by the difference. Records reservation_adjusted."""
        self.require_not_issuing()
        previous = self.revision
        released, added = [], []
        for material in sorted(self.lines.keys() | wanted.keys()):
            line = self.lines.get(material)
            need = wanted.get(material)
            if line is None:
                assert need is not None
                line = self.lines[material] = ReservationLine(material, need.unit, 0)
            delta, available = taken.get(material, (0, line.available))
            line.reserved += delta
            line.needed = need.quantity if need else 0
            line.short = max(line.needed - line.issued - line.reserved, 0)
            if material in taken:
                line.available = available
            moved = ReservationLine(material, line.unit, line.needed, abs(delta), 0, 0)
            if delta < 0:
                released.append(moved.as_event())
            elif delta > 0:
                added.append(moved.as_event())
        self.lines = {m: self.lines[m] for m in sorted(self.lines)}
        self.revision = revision
        self.order_lines = list(order_lines)
        if self.state is ReservationState.ISSUED and any(x.reserved > 0 for x in self.lines.values()):
            self.state = ReservationState.HELD  # more to issue for the new revision
        self._touch(now)
        self.events.append(
            ReservationAdjusted(
                self.reservation_id,
                self.order_id,
                self.order_no,
                self.customer_id,
                self.revision,
                previous,
                [x.as_event() for x in self.lines.values()],
                released,
                added,
                self.short,
            )
        )

    def freeze(self, now: datetime) -> bool:
        """A change of the order is pending: no issue until it is decided."""
        if self.state is not ReservationState.HELD:
            return False
        self.require_not_issuing()  # what the WMS issues now is issued: the change follows it
        self.state = ReservationState.FROZEN
        self._touch(now)
        return True

    def unfreeze(self, now: datetime) -> bool:
        if self.state is not ReservationState.FROZEN:
            return False
        self.state = ReservationState.HELD
        self._touch(now)
        return True

    def to_issue(self) -> dict[str, int]:
        """What IssueMaterials hands out: every material held. Refused while frozen, released,
        or when nothing is held, or while an issue is in progress."""
        self.require_not_issuing()
        if self.state is ReservationState.FROZEN:
            raise FailedPrecondition("变更待审批，暂停领料 a change is pending: no issue")
        self.require_open("issue")
        held = {m: x.reserved for m, x in self.lines.items() if x.reserved > 0}
        if not held:
            raise FailedPrecondition(f"无可领物料 nothing is reserved for {self.order_no}: nothing to issue")
        return held

    def start_issue(self, by: str, now: datetime) -> dict[str, int]:
        """Mark the reservation issuing (the caller commits it before asking the WMS): what the
        WMS holds now, at `ledger_version`, is what will be recorded as issued."""
        held = self.to_issue()
        self.issuing_since, self.issuing_version, self.issuing_by = now, self.ledger_version, by
        return held

    def issue_refused(self) -> None:
        """The WMS issued nothing: the reservation holds what it held, free to change again."""
        self.issuing_since, self.issuing_version, self.issuing_by = None, 0, ""

    def issued_now(self, by: str, now: datetime) -> None:
        self.issue_refused()  # the mark ends with the issue recorded
        issued = []
        for line in self.lines.values():
            if line.reserved > 0:
                issued.append(
                    ReservationLine(line.material, line.unit, line.needed, 0, line.reserved).as_event()
                )
                line.issued += line.reserved
                line.reserved = 0
        self.state = ReservationState.ISSUED
        self.wms_round += 1
        self._touch(now)
        self.events.append(
            MaterialsIssued(
                self.reservation_id,
                self.order_id,
                self.order_no,
                self.customer_id,
                self.revision,
                by,
                issued,
            )
        )

    def to_release(self) -> dict[str, int]:
        return {m: x.reserved for m, x in self.lines.items() if x.reserved > 0}

    def released(self, reason: str, now: datetime) -> bool:
        """The order is cancelled: everything held goes back. False if it already was."""
        if self.state is ReservationState.RELEASED:
            return False
        self.require_not_issuing()  # the WMS is issuing it: nothing to give back until it is done
        given_back = []
        for line in self.lines.values():
            if line.reserved > 0:
                given_back.append(
                    ReservationLine(line.material, line.unit, line.needed, line.reserved).as_event()
                )
            line.reserved = 0
            line.short = 0
        self.state = ReservationState.RELEASED
        self._touch(now)
        self.events.append(
            MaterialsReleased(
                self.reservation_id,
                self.order_id,
                self.order_no,
                self.customer_id,
                self.revision,
                reason,
                given_back,
            )
        )
        return True
