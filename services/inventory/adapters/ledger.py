"""The reservation ledger of the caller's tenant: material balances and reservations."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, true, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from services.bom import MaterialLine
from services.chassis import identity
from services.chassis.paging import decode_token, instant_part, keyset_page, uuid_part
from services.chassis.scoping import Scoped, scoped
from services.inventory.adapters.tables import material_balances, reservation_lines, reservations
from services.inventory.domain.reservation import Balance, Reservation, ReservationLine, ReservationState

B = material_balances


class BalanceRepository:
    """Every change of a material's reserved quantity is one statement on its row, in material
    order within a transaction (callers sort), so two transactions never wait on each other."""

    def __init__(self, db: Connection):
        self._db = db

    def ensure(self, units: Mapping[str, str]) -> None:
        """A balance row for each material (race-safe: an existing row is left alone)."""
        if not units:
            return
        now, tenant = datetime.now(UTC), identity.current().tenant_id
        self._db.execute(
            _ensure_statement(self._db.dialect.name),
            [
                dict(
                    tenant_id=tenant,
                    material=material,
                    unit=units[material],
                    on_hand=0,
                    reserved=0,
                    locked=0,
                    updated_at=now,
                )
                for material in sorted(units)  # in material order, as every taker goes
            ],
        )

    def take(
        self, material: str, quantity: int, on_hand: int, locked: bool, *, line_of: str = ""
    ) -> int | None:
        """Hold `quantity` if on hand (as the WMS just said) less what is reserved covers it: the
        guarded UPDATE. Returns what was available before, or None (short: nothing changed).
        PostgreSQL re-checks the guard on the newest row after waiting for a concurrent holder,
        SQLite runs one writer at a time: either way no two takers can both pass on the same
        stock. `line_of` a reservation id: that figure is also written on its line of the
        material (already inserted), on PostgreSQL in the same statement, so that nothing but
        the commit need follow the hot row's lock."""
        params = dict(
            tenant=identity.current().tenant_id,
            b_material=material,
            q=quantity,
            q_locked=quantity if locked else 0,
            b_on_hand=on_hand,
            now=datetime.now(UTC),
        )
        if line_of and self._db.dialect.name == "postgresql":
            row = self._db.execute(_TAKE_FOR_LINE, dict(params, rid=line_of)).first()
            return None if row is None else row.available
        row = self._db.execute(_TAKE, params).first()
        if row is None:
            return None
        available = on_hand - (row.reserved - quantity)
        if line_of:
            self._db.execute(
                update(L)
                .where(L.c.reservation_id == line_of, L.c.material == material)
                .values(available=available)
            )
        return available

    def take_available(
        self, material: str, quantity: int, on_hand: int | None, locked: bool
    ) -> tuple[int, int]:
        """Hold as much of `quantity` as is available (an accepted shortage): (held, available
        before). The row is locked first, so the figure it computes stays true until commit.
        `on_hand` None keeps the last figure read from the WMS (a consumer does not call it)."""
        row = self._db.execute(
            select(B.c.on_hand, B.c.reserved)
            .where(B.c.tenant_id == identity.current().tenant_id, B.c.material == material)
            .with_for_update()
        ).one()
        stock = row.on_hand if on_hand is None else on_hand
        available = max(stock - row.reserved, 0)
        held = min(quantity, available)
        self._db.execute(
            update(B)
            .where(B.c.tenant_id == identity.current().tenant_id, B.c.material == material)
            .values(
                reserved=B.c.reserved + held,
                locked=B.c.locked + (held if locked else 0),
                on_hand=stock,
                updated_at=datetime.now(UTC),
            )
        )
        return held, available

    def give_back(self, material: str, quantity: int, locked: bool, issued: bool = False) -> None:
        """Release `quantity` (or, `issued`, hand it to the shop floor: it leaves on hand too)."""
        self._db.execute(
            update(B)
            .where(B.c.tenant_id == identity.current().tenant_id, B.c.material == material)
            .values(
                reserved=B.c.reserved - quantity,
                locked=B.c.locked - (quantity if locked else 0),
                on_hand=B.c.on_hand - (quantity if issued else 0),
                updated_at=datetime.now(UTC),
            )
        )

    def set_on_hand(self, on_hand: Mapping[str, int]) -> None:
        """Record what the WMS says is on hand (the stock refresh job)."""
        now, tenant = datetime.now(UTC), identity.current().tenant_id
        for material in sorted(on_hand):
            self._db.execute(
                update(B)
                .where(B.c.tenant_id == tenant, B.c.material == material)
                .values(on_hand=on_hand[material], updated_at=now)
            )

    def get(self, materials: Iterable[str] | None = None) -> dict[str, Balance]:
        query = scoped(select(B), B)
        if materials is not None:
            query = query.where(B.c.material.in_(list(materials)))
        return {
            r.material: Balance(r.material, r.unit, r.on_hand, r.reserved, r.locked)
            for r in self._db.execute(query.order_by(B.c.material))
        }


@functools.cache
def _ensure_statement(dialect: str):
    # Built once: a statement made with .values(...) per call is compiled per call.
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(B)
    return ins.on_conflict_do_nothing(index_elements=["tenant_id", "material"])


_TAKE = (
    update(B)
    .where(
        B.c.tenant_id == bindparam("tenant"),
        B.c.material == bindparam("b_material"),
        bindparam("b_on_hand") - B.c.reserved >= bindparam("q"),
    )
    .values(
        reserved=B.c.reserved + bindparam("q"),
        locked=B.c.locked + bindparam("q_locked"),
        on_hand=bindparam("b_on_hand"),
        updated_at=bindparam("now"),
    )
    .returning(B.c.reserved)
)

R, L = reservations, reservation_lines


class ReservationRepository:
    def __init__(self, db: Connection, track):
        self._db = db
        self._track = track

    def add(self, res: Reservation) -> None:
        """Raises Duplicate (uq_reservations_tenant_order) when the order has one already."""
        self._db.execute(insert(R), dict(tenant_id=identity.current().tenant_id, **_row(res)))
        self._insert_lines(res)
        self._track(res)

    def save(self, res: Reservation) -> None:
        self._db.execute(update(R).where(R.c.reservation_id == res.reservation_id).values(**_row(res)))
        self._db.execute(delete(L).where(L.c.reservation_id == res.reservation_id))
        self._insert_lines(res)
        self._track(res)

    def _insert_lines(self, res: Reservation) -> None:
        if res.lines:
            self._db.execute(
                insert(L),
                [
                    dict(
                        reservation_id=res.reservation_id,
                        material=x.material,
                        unit=x.unit,
                        needed=x.needed,
                        reserved=x.reserved,
                        issued=x.issued,
                        short=x.short,
                        available=x.available,
                    )
                    for x in res.lines.values()
                ],
            )

    def for_order(self, order_id: str, *, for_update: bool = False) -> Reservation | None:
        query, params = (
            _FOR_ORDER_LOCKED.bind(order_id=order_id) if for_update else _FOR_ORDER.bind(order_id=order_id)
        )
        found = self._hydrate(self._db.execute(query, params).all())
        if found:
            self._track(found[0])
        return found[0] if found else None

    def mark_synced(self, reservation_id: str, ledger_version: int) -> bool:
        """The WMS has the state of `ledger_version`: synced, unless a change came since."""
        params = dict(tenant=identity.current().tenant_id, rid=reservation_id, version=ledger_version)
        return self._db.execute(_MARK_SYNCED, params).rowcount == 1

    def mark_all_synced(self, versions: Mapping[str, int]) -> int:
        """`mark_synced` for many (reservation id -> ledger version) in one statement: how many
        are synced (a reservation changed since stays unsynced)."""
        if not versions:
            return 0
        return self._db.execute(
            update(R)
            .where(
                R.c.tenant_id == identity.current().tenant_id,
                tuple_(R.c.reservation_id, R.c.ledger_version).in_(list(versions.items())),
            )
            .values(wms_synced=True)
        ).rowcount

    def unsynced_of(self, reservation_ids: Iterable[str]) -> list[Reservation]:
        """Those of `reservation_ids` whose last change the WMS has not had yet, as they are now
        (not one being issued: the WMS keeps what it is issuing)."""
        query = scoped(select(R), R).where(
            R.c.reservation_id.in_(list(reservation_ids)),
            R.c.wms_synced.is_(False),
            R.c.issuing_since.is_(None),
        )
        return self._hydrate(self._db.execute(query).all())

    def unsynced(self, limit: int) -> list[Reservation]:
        """Reservations whose last change the WMS has not had yet, oldest change first (not one
        being issued)."""
        query = (
            scoped(select(R), R)
            .where(R.c.wms_synced.is_(False), R.c.issuing_since.is_(None))
            .order_by(R.c.updated_at)
            .limit(limit)
        )
        return self._hydrate(self._db.execute(query).all())

    def issuing_since_before(self, before: datetime, limit: int) -> list[Reservation]:
        """Reservations marked issuing before `before` (a process that crashed mid-issue), oldest first."""
        query = (
            scoped(select(R), R).where(R.c.issuing_since < before).order_by(R.c.issuing_since).limit(limit)
        )
        return self._hydrate(self._db.execute(query).all())

    def since(self, created_after: datetime, limit: int = 20_000) -> list[Reservation]:
        """The tenant's reservations made since then, oldest first, at most `limit` (a dry-run's
        history: a month of a busy plant is far less)."""
        query = scoped(select(R), R).where(R.c.created_at >= created_after).order_by(R.c.created_at)
        return self._hydrate(self._db.execute(query.limit(limit)).all())

    def _hydrate(self, rows) -> list[Reservation]:
        if not rows:
            return []
        lines: dict[str, dict[str, ReservationLine]] = {r.reservation_id: {} for r in rows}
        # In Python's order of material names (the order balances are taken in), not the
        # database collation's.
        for x in sorted(
            self._db.execute(select(L).where(L.c.reservation_id.in_(list(lines)))), key=lambda x: x.material
        ):
            lines[x.reservation_id][x.material] = ReservationLine(
                x.material, x.unit, x.needed, x.reserved, x.issued, x.short, x.available
            )
        return [
            Reservation(
                reservation_id=r.reservation_id,
                order_id=r.order_id,
                order_no=r.order_no,
                customer_id=r.customer_id,
                revision=r.revision,
                amount_fen=r.amount_fen,
                priority=r.priority,
                order_lines=[MaterialLine(**x) for x in json.loads(r.order_lines)],
                created_at=r.created_at,
                updated_at=r.updated_at,
                lines=lines[r.reservation_id],
                state=ReservationState(r.state),
                locked=r.locked,
                lock_rule=r.lock_rule,
                overridden=r.overridden,
                overridden_by=r.overridden_by,
                override_reason=r.override_reason,
                wms_synced=r.wms_synced,
                ledger_version=r.ledger_version,
                wms_round=r.wms_round,
                issuing_since=r.issuing_since,
                issuing_version=r.issuing_version,
                issuing_by=r.issuing_by,
            )
            for r in rows
        ]

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(
        self, *, order_id: str, material: str, page_size: int, page_token: str
    ) -> tuple[list[Reservation], str]:
        """One order's reservation, or the open ones; newest first: (created_at desc, id)."""
        conditions = []
        if order_id:
            conditions.append(R.c.order_id == order_id)
        else:
            conditions.append(R.c.state.in_([ReservationState.HELD.value, ReservationState.FROZEN.value]))
        if material:
            conditions.append(
                R.c.reservation_id.in_(
                    select(L.c.reservation_id).where(L.c.material == material, L.c.reserved > 0)
                )
            )
        if page_token:
            created, rid = decode_token(page_token, instant_part, uuid_part)
            conditions.append(
                or_(R.c.created_at < created, and_(R.c.created_at == created, R.c.reservation_id > rid))
            )
        query = (
            scoped(select(R), R)
            .where(and_(true(), *conditions))
            .order_by(R.c.created_at.desc(), R.c.reservation_id)
            .limit(page_size + 1)
        )
        found = self._hydrate(self._db.execute(query).all())
        return keyset_page(found, page_size, lambda r: (r.created_at.isoformat(), r.reservation_id))


def _row(res: Reservation) -> dict:
    return dict(
        reservation_id=res.reservation_id,
        order_id=res.order_id,
        order_no=res.order_no,
        customer_id=res.customer_id,
        revision=res.revision,
        amount_fen=res.amount_fen,
        priority=res.priority,
        order_lines=json.dumps(
            [
                dict(
                    product_model=x.product_model,
                    quantity=x.quantity,
                    colour=x.colour,
                    surface_treatment=x.surface_treatment,
                )
                for x in res.order_lines
            ],
            ensure_ascii=False,
        ),
        state=res.state.value,
        locked=res.locked,
        lock_rule=res.lock_rule,
        overridden=res.overridden,
        overridden_by=res.overridden_by,
        override_reason=res.override_reason,
        wms_synced=res.wms_synced,
        ledger_version=res.ledger_version,
        wms_round=res.wms_round,
        issuing_since=res.issuing_since,
        issuing_version=res.issuing_version,
        issuing_by=res.issuing_by,
        created_at=res.created_at,
        updated_at=res.updated_at,
    )


_FOR_ORDER = Scoped(select(R).where(R.c.order_id == bindparam("order_id")), R)
_FOR_ORDER_LOCKED = Scoped(select(R).where(R.c.order_id == bindparam("order_id")).with_for_update(), R)
_MARK_SYNCED = (
    update(R)
    .where(
        R.c.tenant_id == bindparam("tenant"),
        R.c.reservation_id == bindparam("rid"),
        R.c.ledger_version == bindparam("version"),
    )
    .values(wms_synced=True)
)

# The guarded UPDATE and the line's figure in one statement (PostgreSQL: a data-modifying WITH):
# no line row is written when the guard refuses.
_TAKEN = _TAKE.returning(B.c.material).cte("taken")
_TAKE_FOR_LINE = (
    update(L)
    .where(L.c.reservation_id == bindparam("rid"), L.c.material == _TAKEN.c.material)
    .values(available=bindparam("b_on_hand") - (_TAKEN.c.reserved - bindparam("q")))
    .returning(L.c.available)
)
