"""Hand-written fakes for our own interfaces (unit of work, repositories, peers).

They keep the promises the real ones make, so a handler that works with them works with the real
thing: nothing is visible to the next unit of work until `commit()`; leaving the `with` block
without committing throws the changes away; events recorded by aggregates handed out or added
are collected on commit and, when the fake is given the service's codec, encoded against the
proto contracts exactly as the real outbox does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Self

from services.chassis import identity
from services.chassis.errors import (
    DeadlineExceeded,
    Duplicate,
    FailedPrecondition,
    NotFound,
    Unavailable,
    VersionConflict,
)
from services.chassis.events import DomainEvent, EventCodec, Message
from services.order.domain.materials import ReservationResult, Shortage
from services.order.domain.model import Order, OrderState
from services.order.service_layer.ports import KnownCustomer, ShortageOverride


@dataclass
class FakeDatabase:
    """What several units of work share: the committed state."""

    rows: dict[str, dict[Any, Any]] = field(default_factory=dict)  # table -> key -> row
    outbox: list[Message] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)  # committed domain events, in order
    inbox: set[tuple[str, str]] = field(default_factory=set)
    commits: int = 0

    def table(self, name: str) -> dict[Any, Any]:
        return self.rows.setdefault(name, {})


class FakeNumbers:
    """Like services.chassis.numbering.NumberBlocks: running numbers per tenant, name and period;
    a number given back is handed out again first."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str, str], int] = {}
        self.returned: dict[tuple[str, str, str], list[int]] = {}

    def next(self, name: str, period: str) -> int:
        key = (identity.current().tenant_id, name, period)
        if self.returned.get(key):
            return self.returned[key].pop()
        self.last[key] = self.last.get(key, 0) + 1
        return self.last[key]

    def give_back(self, name: str, period: str, number: int) -> None:
        self.returned.setdefault((identity.current().tenant_id, name, period), []).append(number)


class FakeUnitOfWork:
    """In-memory stand-in for services.chassis.uow.UnitOfWork."""

    def __init__(self, db: FakeDatabase | None = None, codec: EventCodec | None = None, *, read_only=False):
        self.db = db if db is not None else FakeDatabase()
        self.codec = codec
        self.read_only = read_only
        self.committed = False
        self.rolled_back = False

    # context management: a fresh transaction per `with`
    def __enter__(self) -> Self:
        self._pending: dict[str, dict[Any, Any]] = {}
        self._pending_inbox: set[tuple[str, str]] = set()
        self._seen: list[Any] = []
        self._events: list[DomainEvent] = []
        self._open_repositories()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.rollback()

    def _open_repositories(self) -> None:
        """Hook for service-specific fakes."""

    # the UnitOfWork interface
    def track(self, aggregate: Any) -> None:
        self._seen.append(aggregate)

    def record(self, event: DomainEvent) -> None:
        self._events.append(event)

    def capture_trace(self) -> None:
        """The fake writes no trace headers (see tests of UnitOfWork for the real one)."""

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("commit in a read-only unit of work")
        events = list(self._events)
        for aggregate in self._seen:
            events.extend(aggregate.events)
            aggregate.events.clear()
        self._events.clear()
        if self.codec is not None:
            tenant = identity.current().tenant_id
            # Encoding can fail (an event drifting from its contract): then nothing is committed.
            messages = [self.codec.encode(e, tenant, {}) for e in events]
            self.db.outbox.extend(messages)
        self.db.events.extend(events)
        for name, rows in self._pending.items():
            self.db.table(name).update(rows)
        self.db.inbox |= self._pending_inbox
        self.db.commits += 1
        self.committed = True
        self._clear_pending()

    def rollback(self) -> None:
        if self._pending or self._pending_inbox:
            self.rolled_back = True
        self._clear_pending()

    def _clear_pending(self) -> None:
        self._pending = {}
        self._pending_inbox = set()

    def claim(self, consumer: str, event_id: str) -> bool:
        key = (consumer, event_id)
        if key in self.db.inbox or key in self._pending_inbox:
            return False
        self._pending_inbox.add(key)
        return True

    def apply_version(self, consumer: str, aggregate_id: str, version: int) -> bool:
        key = (consumer, identity.current().tenant_id, aggregate_id)
        applied = self._read("applied_versions").get(key)
        if applied is not None and applied >= version:
            return False
        self._write("applied_versions", key, version)
        return True

    # helpers for repositories
    def _read(self, table: str) -> dict[Any, Any]:
        return {**self.db.table(table), **self._pending.get(table, {})}

    def _write(self, table: str, key: Any, row: Any) -> None:
        self._pending.setdefault(table, {})[key] = row


class FakeOrderRepository:
    """Like OrderRepository: scoped to the caller's tenant (and, for a portal caller, customer);
    hands out copies; `save` refuses to overwrite a version someone else committed meanwhile."""

    TABLE = "orders"

    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow
        self._loaded_versions: dict[str, int] = {}

    def _visible(self) -> list[Order]:
        caller = identity.current()
        out = []
        for (tenant, _), order in self._uow._read(self.TABLE).items():
            if tenant != caller.tenant_id:
                continue
            if caller.customer_id and order.customer_id != caller.customer_id:
                continue
            out.append(order)
        return out

    def _hand_out(self, stored: Order) -> Order:
        order = copy.deepcopy(stored)
        order.events, order.transitions = [], []
        self._loaded_versions[order.order_id] = order.version
        self._uow.track(order)
        return order

    def add(self, order: Order) -> None:
        tenant = identity.current().tenant_id
        for (t, _), existing in self._uow._read(self.TABLE).items():
            if t == tenant and order.request_id and existing.request_id == order.request_id:
                raise Duplicate("already stored (uq_orders_tenant_request_id)", "uq_orders_tenant_request_id")
            if t == tenant and existing.order_no == order.order_no:
                raise Duplicate("already stored (uq_orders_tenant_order_no)", "uq_orders_tenant_order_no")
        stored = copy.deepcopy(order)
        stored.events, stored.transitions = [], []
        self._uow._write(self.TABLE, (tenant, order.order_id), stored)
        self._write_transitions(order, tenant)
        self._loaded_versions[order.order_id] = order.version
        self._uow.track(order)

    def _write_transitions(self, order: Order, tenant: str) -> None:
        for t in order.transitions:
            key = (tenant, order.order_id, t.version)
            if key in self._uow._read("order_transitions"):  # as the unique (order, version) key
                raise Duplicate("already stored (uq_order_transitions_order_version)")
            self._uow._write("order_transitions", key, t)
        order.transitions.clear()

    def history(self, order_id: str) -> list:
        order = self.get(order_id)
        tenant = identity.current().tenant_id
        steps = self._uow._read("order_transitions")
        return [steps[k] for k in sorted(k for k in steps if k[:2] == (tenant, order.order_id))]

    def get(self, order_id: str) -> Order:
        for order in self._visible():
            if order.order_id == order_id:
                return self._hand_out(order)
        raise NotFound(f"order {order_id} not found")

    def find_by_request_id(self, request_id: str) -> Order | None:
        for order in self._visible():
            if order.request_id == request_id:
                return self._hand_out(order)
        return None

    def attach(self, order: Order) -> None:
        self._loaded_versions[order.order_id] = order.version
        self._uow.track(order)

    def save(self, order: Order) -> None:
        tenant = identity.current().tenant_id
        current = self._uow._read(self.TABLE).get((tenant, order.order_id))
        if current is None or current.version != self._loaded_versions[order.order_id]:
            raise VersionConflict(f"order {order.order_no} was changed by someone else; reload it")
        stored = copy.deepcopy(order)
        stored.events, stored.transitions = [], []
        self._uow._write(self.TABLE, (tenant, order.order_id), stored)
        self._write_transitions(order, tenant)
        self._loaded_versions[order.order_id] = order.version

    def list(
        self,
        *,
        state: OrderState | None,
        due_from: date | None,
        due_to: date | None,
        page_size: int,
        page_token: str,
        order_no: str = "",
        customer_id: str = "",
    ) -> tuple[list[Order], str]:
        found = [
            o
            for o in self._visible()
            if (state is None or o.state is state)
            and (due_from is None or o.due_date >= due_from)
            and (due_to is None or o.due_date <= due_to)
            and (not order_no or o.order_no == order_no)
            and (not customer_id or o.customer_id == customer_id)
        ]
        found.sort(key=lambda o: (o.due_date, o.order_id))
        return [self._hand_out(o) for o in found[:page_size]], ""


class FakeProgressRepository:
    """Like ProgressRepository: each work order's stage by id (no scoping: written by consumers)."""

    TABLE = "work_order_progress"

    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def moved(self, work_order_id: str, order_id: str, work_order_no: str, workshop: str, stage: str) -> None:
        self._uow._write(self.TABLE, work_order_id, (order_id, workshop, stage))

    def stage_of(self, work_order_id: str) -> str:
        return self._uow._read(self.TABLE)[work_order_id][2]


class FakeOrderUnitOfWork(FakeUnitOfWork):
    orders: FakeOrderRepository
    progress: FakeProgressRepository

    def _open_repositories(self) -> None:
        self.orders = FakeOrderRepository(self)
        self.progress = FakeProgressRepository(self)

    def committed_orders(self) -> list[Order]:
        return list(self.db.table(FakeOrderRepository.TABLE).values())


class UowFactory:
    """Callable handed to handlers; remembers every unit of work it opened."""

    def __init__(self, uow_cls: type[FakeUnitOfWork] = FakeUnitOfWork, codec: EventCodec | None = None):
        self.db = FakeDatabase()
        self.codec = codec
        self.uow_cls = uow_cls
        self.opened: list[FakeUnitOfWork] = []
        self.numbers = FakeNumbers()  # the service's number source, beside its database

    def __call__(self, read_only: bool = False) -> Any:
        uow = self.uow_cls(self.db, self.codec, read_only=read_only)
        self.opened.append(uow)
        return uow


class FakeCustomers:
    def __init__(
        self,
        *known: str,
        tiers: Mapping[str, str] | None = None,
        inactive: tuple[str, ...] = (),
        names: Mapping[str, str] | None = None,
    ):
        self.known = set(known)
        self.names = dict(names or {})
        self.tiers = dict(tiers or {})
        self.inactive = set(inactive)
        self.asked: list[str] = []

    def look_up(self, customer_id: str) -> KnownCustomer | None:
        self.asked.append(customer_id)
        if customer_id not in self.known:
            return None
        return KnownCustomer(self.tiers.get(customer_id, "TIER_C"), customer_id not in self.inactive)

    def matching(self, text: str) -> list[str]:
        return sorted(c for c, name in self.names.items() if text.lower() in name.lower())

    def exists(self, customer_id: str) -> bool:
        return self.look_up(customer_id) is not None

    def tier(self, customer_id: str) -> str:
        known = self.look_up(customer_id)
        return known.tier if known else ""


class FakeContractPrices:
    """Contract prices per (customer, model); `asked` records each look-up."""

    def __init__(self, prices: Mapping[tuple[str, str], int] | None = None):
        self.prices = dict(prices or {})
        self.asked: list[tuple[str, tuple[str, ...], date]] = []

    def resolve(self, customer_id: str, product_models: list[str], on: date) -> dict[str, int]:
        self.asked.append((customer_id, tuple(product_models), on))
        return {m: p for (c, m), p in self.prices.items() if c == customer_id and m in product_models}


class FakeShopFloor:
    """Production and inventory as a change's impact sees them; `down` names who fails."""

    def __init__(self, work_orders=(), materials=(), down: tuple[str, ...] = ()):
        self._work_orders = list(work_orders)
        self._materials = list(materials)
        self.down = down
        self.asked: list[tuple] = []

    def work_orders(self, order_id: str):
        self.asked.append(("work_orders", order_id))
        if "production" in self.down:
            raise Unavailable("production is down")
        return list(self._work_orders)

    def materials(self, order_id: str, before, after):
        self.asked.append(("materials", order_id, before, after))
        if "inventory" in self.down:
            raise DeadlineExceeded("inventory took too long")
        return list(self._materials)


class FakeReservations:
    """Inventory's ReserveMaterials as the order service sees it: all or nothing, refused with
    the short materials unless overridden, the same answer again per (order, revision); `down`:
    the WMS cannot be read (nothing reserved). `asked` records each call."""

    def __init__(self, short: tuple[Shortage, ...] = (), *, lock_rule: str = "", down: bool = False):
        self.short = short
        self.lock_rule = lock_rule
        self.down = down
        self.held: dict[tuple[str, str, int], ReservationResult] = {}
        self.asked: list[tuple[str, int, ShortageOverride | None]] = []

    def reserve(self, order: Order, override: ShortageOverride | None) -> ReservationResult:
        self.asked.append((order.order_id, order.revision, override))
        if self.down:
            raise Unavailable(
                "inventory service (ReserveMaterials): WMS 不可用 the WMS did not answer; nothing "
                "reserved, retry the approval"
            )
        key = (identity.current().tenant_id, order.order_id, order.revision)
        if key in self.held:
            return self.held[key]
        if self.short and override is None:
            raise FailedPrecondition(
                "inventory service (ReserveMaterials): 材料不足 materials short: "
                + "; ".join(
                    f"{s.material} needs {s.needed:g} {s.unit}, short {s.short:g}" for s in self.short
                )
            )
        overridden = bool(self.short) and override is not None
        self.held[key] = ReservationResult(
            order.revision,
            locked=bool(self.lock_rule),
            lock_rule=self.lock_rule,
            shortages=self.short,
            override_reason=override.reason if overridden and override else "",
            overridden_by=identity.current().user if overridden else "",
        )
        return self.held[key]
