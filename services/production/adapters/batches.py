"""Merge candidates and batch tasks of the caller's tenant."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite

from services.chassis import identity
from services.chassis.errors import NotFound
from services.chassis.paging import decode_token, instant_part, keyset_page, matching
from services.chassis.scoping import Scoped, scoped
from services.production.adapters.tables import batch_tasks, merge_candidates, metadata
from services.production.domain.batching import BatchOrder, BatchTask, Candidate, Configuration

HISTORY_LIMIT = 20_000  # candidates a dry-run replays at most (a month of a busy plant is far less)
_BATCH_NO = matching(r"BT-[A-Z0-9]{1,8}-\d{8}-\d{2,6}")
_c = merge_candidates.c
_CONFIG_COLUMNS = (_c.product_model, _c.surface_treatment, _c.colour, _c.packaging)


class BatchRepository:
    def __init__(self, db: Connection, track):
        self._db = db
        self._track = track

    # --- candidates ---

    def lock_configurations(self, configs: Iterable[Configuration]) -> None:
        """Serialise merging per tenant and configuration until commit: two approvals of one
        configuration handled at once would each miss the other (two of three seen, no batch) or
        both batch the same orders. Sorted, so two orders' locks never deadlock. SQLite has one
        writer at a time already."""
        if self._db.dialect.name != "postgresql":
            return
        tenant = identity.current().tenant_id
        for key in sorted({_lock_key(tenant, c) for c in configs}):
            self._db.execute(_LOCK, {"k": key})

    def record(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Add an approved order's candidates; ones already recorded (the same order and
        configuration) are kept as they are. Returns those added."""
        if not candidates:
            return []
        tenant = identity.current().tenant_id
        # One statement for all: SQLAlchemy's "insertmanyvalues" returns the rows of a multi-row
        # upsert on PostgreSQL and SQLite alike; the ones skipped as recorded return nothing.
        rows = self._db.execute(
            _record_statement(self._db.dialect.name), [_row(tenant, c) for c in candidates]
        ).all()
        added = {Configuration(*(str(v) for v in row)) for row in rows}
        return [c for c in candidates if c.configuration in added]

    def open_group(self, config: Configuration, since: datetime, until: datetime) -> list[Candidate]:
        """Open candidates of one configuration approved in [since, until], oldest first."""
        query, params = _OPEN_GROUP.bind(
            product_model=config.product_model,
            surface_treatment=config.surface_treatment,
            colour=config.colour,
            packaging=config.packaging,
            since=since,
            until=until,
        )
        return [_candidate(r) for r in self._db.execute(query, params)]

    def for_order(self, order_id: str) -> list[Candidate]:
        query = scoped(select(merge_candidates), merge_candidates).where(_c.order_id == order_id)
        return [_candidate(r) for r in self._db.execute(query.order_by(_c.id))]

    def cancel_order(self, order_id: str, at: datetime) -> int:
        """The order's candidates leave every group (and their batches' link is marked)."""
        tenant = identity.current().tenant_id
        result = self._db.execute(
            update(merge_candidates)
            .where(_c.tenant_id == tenant, _c.order_id == order_id, _c.cancelled_at.is_(None))
            .values(cancelled_at=at)
        )
        return result.rowcount

    def update_open(self, candidates: Sequence[Candidate]) -> None:
        """Write back open candidates an approved change amended (quantity, amount, due, priority)."""
        tenant = identity.current().tenant_id
        for c in candidates:
            self._db.execute(
                update(merge_candidates)
                .where(
                    _c.tenant_id == tenant, _c.order_id == c.order_id, *_same_configuration(c.configuration)
                )
                .values(
                    quantity=c.quantity, amount_fen=c.amount_fen, due_date=c.due_date, priority=c.priority
                )
            )

    def leave(self, order_id: str, configs: Iterable[Configuration], at: datetime) -> None:
        """These configurations of the order leave every group (and their batch links are marked)."""
        tenant = identity.current().tenant_id
        for config in configs:
            self._db.execute(
                update(merge_candidates)
                .where(
                    _c.tenant_id == tenant,
                    _c.order_id == order_id,
                    *_same_configuration(config),
                    _c.cancelled_at.is_(None),
                )
                .values(cancelled_at=at)
            )

    def history(self, since: datetime) -> list[Candidate]:
        """Candidates approved since `since`, in approval order (the dry-run's input)."""
        query = scoped(select(merge_candidates), merge_candidates).where(_c.approved_at >= since)
        rows = self._db.execute(query.order_by(_c.approved_at, _c.order_no).limit(HISTORY_LIMIT))
        return [_candidate(r) for r in rows]

    # --- batch tasks ---

    def next_batch_no(self, day: date) -> int:
        """The day's next batch number, taken in this transaction (the counter row stays locked
        until commit: batches are few, and a rolled-back merge gives its number back)."""
        params = dict(
            tenant_id=identity.current().tenant_id, name="batch_task", period=f"{day:%Y%m%d}", value=1
        )
        return int(self._db.execute(_next_number_statement(self._db.dialect.name), params).scalar_one())

    def add(self, task: BatchTask) -> None:
        tenant = identity.current().tenant_id
        c = task.configuration
        self._db.execute(
            _INSERT_BATCH,
            dict(
                batch_id=task.batch_id,
                tenant_id=tenant,
                batch_no=task.batch_no,
                product_model=c.product_model,
                surface_treatment=c.surface_treatment,
                colour=c.colour,
                packaging=c.packaging,
                state=task.state,
                rule=task.rule[:64],
                created_at=task.created_at,
                version=task.version,
            ),
        )
        self._db.execute(
            _LINK_BATCH,
            dict(
                zip(
                    ("key_model", "key_surface", "key_colour", "key_packaging"),
                    _config_values(c),
                    strict=True,
                ),
                key_tenant=tenant,
                key_orders=[o.order_id for o in task.orders],
                batch_id=task.batch_id,
            ),
        )
        self._track(task)

    def save(self, task: BatchTask) -> None:
        """Write back a batch whose orders changed (their links are the candidates: cancel_order
        marks them)."""
        self._db.execute(
            update(batch_tasks)
            .where(batch_tasks.c.batch_id == task.batch_id)
            .values(state=task.state, version=task.version)
        )
        self._track(task)

    def get(self, batch_id: str) -> BatchTask:
        found = self._find(batch_tasks.c.batch_id == batch_id, limit=1)
        if not found:
            raise NotFound(f"合并批次不存在 batch task {batch_id} not found")
        return found[0]

    def of_order(self, order_id: str) -> list[BatchTask]:
        """The batches an order is (or was) in."""
        ids = select(_c.batch_id).where(
            _c.tenant_id == identity.current().tenant_id, _c.order_id == order_id, _c.batch_id.is_not(None)
        )
        return self._find(batch_tasks.c.batch_id.in_(ids), limit=100)

    def made_since(self, since: datetime) -> list[BatchTask]:
        return sorted(
            self._find(batch_tasks.c.created_at >= since, limit=HISTORY_LIMIT), key=lambda t: t.created_at
        )

    def _find(self, condition, limit: int) -> list[BatchTask]:
        query = scoped(select(batch_tasks), batch_tasks).where(condition)
        rows = self._db.execute(
            query.order_by(batch_tasks.c.created_at.desc(), batch_tasks.c.batch_no).limit(limit)
        ).all()
        if not rows:
            return []
        links: dict[str, list[BatchOrder]] = {r.batch_id: [] for r in rows}
        for chunk in _chunks(list(links), 1000):
            for ln in self._db.execute(
                select(merge_candidates).where(_c.batch_id.in_(chunk)).order_by(_c.approved_at, _c.order_no)
            ):
                links[ln.batch_id].append(
                    BatchOrder(
                        ln.order_id,
                        ln.order_no,
                        ln.customer_id,
                        ln.quantity,
                        ln.due_date,
                        ln.approved_at,
                        ln.cancelled_at,
                    )
                )
        tasks = [
            BatchTask(
                r.batch_id,
                r.batch_no,
                Configuration(r.product_model, r.surface_treatment, r.colour, r.packaging),
                links[r.batch_id],
                r.rule,
                r.created_at,
                r.state,
                r.version,
            )
            for r in rows
        ]
        for t in tasks:
            self._track(t)
        return tasks

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(self, *, state: str = "", page_size: int, page_token: str = "") -> tuple[list[BatchTask], str]:
        """One keyset page, newest first and then by number: (created_at desc, batch_no)."""
        conditions = []
        if state:
            conditions.append(batch_tasks.c.state == state)
        if page_token:
            created, number = decode_token(page_token, instant_part, _BATCH_NO)
            conditions.append(
                or_(
                    batch_tasks.c.created_at < created,
                    and_(batch_tasks.c.created_at == created, batch_tasks.c.batch_no > number),
                )
            )
        found = self._find(and_(true(), *conditions), limit=page_size + 1)
        return keyset_page(found, page_size, lambda t: (t.created_at.isoformat(), t.batch_no))


@functools.cache
def _record_statement(dialect: str):
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(merge_candidates)
    return ins.on_conflict_do_nothing(
        index_elements=["tenant_id", "order_id", "product_model", "surface_treatment", "colour", "packaging"]
    ).returning(*_CONFIG_COLUMNS)


@functools.cache
def _next_number_statement(dialect: str):
    sequences = metadata.tables["number_sequences"]
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(sequences)
    return ins.on_conflict_do_update(
        index_elements=["tenant_id", "name", "period"], set_={"value": sequences.c.value + 1}
    ).returning(sequences.c.value)


# Built once (SQLAlchemy's statement cache then serves them): they run on every approval.
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_INSERT_BATCH = insert(batch_tasks)
_OPEN_GROUP = Scoped(
    select(merge_candidates)
    .where(
        *[col == bindparam(col.name) for col in _CONFIG_COLUMNS],
        _c.approved_at >= bindparam("since"),
        _c.approved_at <= bindparam("until"),
        text("batch_id IS NULL AND cancelled_at IS NULL"),  # the partial index's own predicate
    )
    .order_by(_c.approved_at, _c.order_no)
    .limit(1000),
    merge_candidates,
)
# SET batch_id takes the parameter of that name; the keys have names of their own.
_LINK_BATCH = update(merge_candidates).where(
    _c.tenant_id == bindparam("key_tenant"),
    _c.order_id.in_(bindparam("key_orders", expanding=True)),
    _c.product_model == bindparam("key_model"),
    _c.surface_treatment == bindparam("key_surface"),
    _c.colour == bindparam("key_colour"),
    _c.packaging == bindparam("key_packaging"),
    _c.batch_id.is_(None),
)


def _same_configuration(c: Configuration) -> list:
    return [col == value for col, value in zip(_CONFIG_COLUMNS, _config_values(c), strict=True)]


def _config_values(c: Configuration) -> tuple[str, str, str, str]:
    return (c.product_model, c.surface_treatment, c.colour, c.packaging)


def _lock_key(tenant: str, config: Configuration) -> int:
    digest = hashlib.blake2b("\x1f".join((tenant, *_config_values(config))).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _row(tenant: str, c: Candidate) -> dict:
    return dict(
        tenant_id=tenant,
        order_id=c.order_id,
        order_no=c.order_no,
        customer_id=c.customer_id,
        priority=c.priority,
        product_model=c.configuration.product_model,
        surface_treatment=c.configuration.surface_treatment,
        colour=c.configuration.colour,
        packaging=c.configuration.packaging,
        quantity=c.quantity,
        amount_fen=c.amount_fen,
        approved_at=c.approved_at,
        due_date=c.due_date,
        batch_id=c.batch_id,
        cancelled_at=c.cancelled_at,
    )


def _candidate(r) -> Candidate:
    return Candidate(
        r.order_id,
        r.order_no,
        r.customer_id,
        r.priority,
        Configuration(r.product_model, r.surface_treatment, r.colour, r.packaging),
        r.quantity,
        r.amount_fen,
        r.approved_at,
        r.due_date,
        r.batch_id,
        r.cancelled_at,
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
