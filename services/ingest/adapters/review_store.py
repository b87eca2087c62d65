"""The review queue and the ingest runs (the report) of the caller's tenant."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from services.chassis import identity
from services.chassis.db import insert_for
from services.chassis.errors import NotFound
from services.chassis.events import DomainEvent
from services.chassis.paging import decode_token, instant_part, keyset_page, uuid_part
from services.chassis.scoping import scoped
from services.ingest.adapters.market_store import dumps
from services.ingest.adapters.tables import ingest_runs, review_items
from services.ingest.domain.market_rules import Reason
from services.ingest.domain.report import COUNTERS, ReviewItemOpened, ReviewItemResolved, RunCounts


@dataclass(frozen=True)
class ReviewItem:
    item_id: str
    source: str
    platform: str
    shop: str
    external_id: str
    state: str
    reasons: tuple[Reason, ...]
    raw: dict[str, Any]
    opened_at: datetime
    updated_at: datetime
    resolved_by: str = ""
    resolved_at: datetime | None = None
    note: str = ""
    order_id: str = ""
    order_no: str = ""


class ReviewStore:
    """`record` takes the events of the unit of work: an item opened or resolved is announced
    (review_item_opened / review_item_resolved) in the transaction that does it."""

    def __init__(self, db: Connection, record: Callable[[DomainEvent], None] = lambda event: None):
        self._db = db
        self._record = record

    def open(
        self,
        source: str,
        external_id: str,
        reasons: Sequence[Reason],
        raw: dict[str, Any],
        now: datetime,
        platform: str = "",
        shop: str = "",
    ) -> tuple[str, bool]:
        """Open an item, or bring the open one of the same record up to date (its latest raw
        record and reasons). Returns the item id and whether it is new."""
        t = review_items
        tenant = identity.current().tenant_id
        where = (
            t.c.tenant_id == tenant,
            t.c.source == source,
            t.c.platform == platform,
            t.c.shop == shop,
            t.c.external_id == external_id[:200],
            t.c.state == "open",
        )
        values = dict(reasons=dumps([r.as_dict() for r in reasons]), raw=dumps(raw), updated_at=now)
        found = self._db.execute(select(t.c.item_id).where(*where)).first()
        if found:
            self._db.execute(update(t).where(t.c.item_id == found.item_id).values(**values))
            return found.item_id, False
        item_id = str(uuid.uuid4())
        self._record(
            ReviewItemOpened(item_id, source, platform, shop, external_id[:200], [r.code for r in reasons])
        )
        self._db.execute(
            t.insert().values(
                item_id=item_id,
                tenant_id=tenant,
                source=source,
                platform=platform,
                shop=shop,
                external_id=external_id[:200],
                state="open",
                opened_at=now,
                **values,
            )
        )
        return item_id, True

    def open_item_of(self, source: str, platform: str, shop: str, external_id: str) -> str:
        t = review_items
        r = self._db.execute(
            scoped(
                select(t.c.item_id).where(
                    t.c.source == source,
                    t.c.platform == platform,
                    t.c.shop == shop,
                    t.c.external_id == external_id,
                    t.c.state == "open",
                ),
                t,
            )
        ).first()
        return r.item_id if r else ""

    def get(self, item_id: str, lock: bool = False) -> ReviewItem:
        t = review_items
        query = scoped(select(t).where(t.c.item_id == item_id), t)
        if lock and self._db.dialect.name == "postgresql":
            query = query.with_for_update()
        r = self._db.execute(query).first()
        if r is None:
            raise NotFound(f"review item {item_id} not found")
        return _item(r)

    def close(
        self, item_id: str, state: str, now: datetime, note: str = "", order_id: str = "", order_no: str = ""
    ) -> bool:
        """Decide an open item; False when it was no longer open (decided meanwhile)."""
        t = review_items
        closed = self._db.execute(
            update(t)
            .where(t.c.tenant_id == identity.current().tenant_id, t.c.item_id == item_id, t.c.state == "open")
            .values(
                state=state,
                resolved_by=identity.current().user[:64],
                resolved_at=now,
                note=note[:200],
                order_id=order_id,
                order_no=order_no,
                updated_at=now,
            )
        ).rowcount
        if closed:
            by = identity.current().user[:64]
            self._record(ReviewItemResolved(item_id, state, by, order_id, order_no, note[:200]))
        return closed == 1

    def page(self, state: str, source: str, page_size: int, page_token: str) -> tuple[list[ReviewItem], str]:
        t = review_items
        query = scoped(select(t), t)
        if state:
            query = query.where(t.c.state == state)
        if source:
            query = query.where(t.c.source == source)
        if page_token:
            after, item_id = decode_token(page_token, instant_part, uuid_part)
            query = query.where(
                (t.c.opened_at > after) | ((t.c.opened_at == after) & (t.c.item_id > item_id))
            )
        rows = self._db.execute(query.order_by(t.c.opened_at, t.c.item_id).limit(page_size + 1)).all()
        return keyset_page(
            [_item(r) for r in rows], page_size, lambda x: (x.opened_at.isoformat(), x.item_id)
        )

    def count_open(self) -> int:
        t = review_items
        return self._db.execute(
            scoped(select(func.count()).select_from(t).where(t.c.state == "open"), t)
        ).scalar_one()


class RunStore:
    def __init__(self, db: Connection, track=None):
        self._db = db

    def start(self, source: str, ref: str, day: date, now: datetime, **window: datetime) -> str:
        run_id = str(uuid.uuid4())
        self._db.execute(
            ingest_runs.insert().values(
                run_id=run_id,
                tenant_id=identity.current().tenant_id,
                source=source,
                ref=ref[:200],
                day=day,
                started_at=now,
                **window,
            )
        )
        return run_id

    def day_run(self, source: str, day: date, now: datetime) -> str:
        """The one run of a source that has no runs of its own (phone forms): one per day."""
        tenant = identity.current().tenant_id
        run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"oms:{tenant}/{source}/{day.isoformat()}"))
        self._db.execute(
            insert_for(self._db, ingest_runs)
            .values(
                run_id=run_id, tenant_id=tenant, source=source, ref=day.isoformat(), day=day, started_at=now
            )
            .on_conflict_do_nothing()
        )
        return run_id

    def add(self, run_id: str, counts: RunCounts, **values: Any) -> None:
        """Add counts to a run (called as each part of it commits, so a crash loses nothing)."""
        t = ingest_runs
        increments = {k: t.c[k] + getattr(counts, k) for k in COUNTERS if getattr(counts, k)}
        if not increments and not values:
            return
        self._db.execute(
            update(t)
            .where(t.c.tenant_id == identity.current().tenant_id, t.c.run_id == run_id)
            .values(**increments, **values)
        )

    def get(self, run_id: str) -> dict[str, Any]:
        t = ingest_runs
        r = self._db.execute(scoped(select(t).where(t.c.run_id == run_id), t)).first()
        if r is None:
            raise NotFound(f"ingest run {run_id} not found")
        return dict(r._mapping)

    def between(
        self, day_from: date, day_to: date, source: str = "", limit: int = 500
    ) -> list[dict[str, Any]]:
        t = ingest_runs
        query = scoped(select(t).where(t.c.day >= day_from, t.c.day <= day_to), t)
        if source:
            query = query.where(t.c.source == source)
        rows = self._db.execute(query.order_by(t.c.started_at.desc(), t.c.run_id).limit(limit))
        return [dict(r._mapping) for r in rows]

    def totals(self, day_from: date, day_to: date) -> list[dict[str, Any]]:
        """Per day and source: the sums of every counter."""
        t = ingest_runs
        sums = [func.coalesce(func.sum(t.c[k]), 0).label(k) for k in COUNTERS]
        rows = self._db.execute(
            scoped(
                select(t.c.day, t.c.source, func.count().label("runs"), *sums)
                .where(t.c.day >= day_from, t.c.day <= day_to)
                .group_by(t.c.day, t.c.source),
                t,
            ).order_by(t.c.day, t.c.source)
        )
        return [dict(r._mapping) for r in rows]


def _item(r) -> ReviewItem:
    return ReviewItem(
        r.item_id,
        r.source,
        r.platform,
        r.shop,
        r.external_id,
        r.state,
        tuple(Reason(x["code"], x["message"]) for x in json.loads(r.reasons)),
        json.loads(r.raw),
        r.opened_at,
        r.updated_at,
        r.resolved_by,
        r.resolved_at,
        r.note,
        r.order_id,
        r.order_no,
    )
