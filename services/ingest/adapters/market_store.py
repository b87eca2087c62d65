"""Platform orders, the raw archive and shop checkpoints of the caller's tenant."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.exc import DataError

from services.chassis import identity
from services.chassis.db import insert_for
from services.chassis.scoping import scoped
from services.ingest.adapters.tables import buyer_links, market_orders, raw_payloads, shop_checkpoints
from services.ingest.domain import marketplace
from services.ingest.domain.market_rules import Known, Outcome, content_hash
from services.ingest.domain.marketplace import MarketLine, MarketOrder

# What a database says of a value it cannot store (NUL in text, a lone surrogate, too long a value):
# the record, not the pull, is at fault.
STORE_REFUSED: tuple[type[Exception], ...] = (UnicodeError, ValueError, DataError)


def dumps(value: Any) -> str:
    """JSON as stored: characters as they are; a text no database can store as it is (a lone
    surrogate: half an emoji) is escaped instead, so it is still kept, byte for byte recoverable."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)
    return text


@dataclass(frozen=True)
class StoredMarketOrder:
    order: MarketOrder
    outcome: Outcome
    order_id: str
    order_no: str
    note: str
    left_out: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Checkpoint:
    shop: str
    platform: str
    pulled_until: datetime | None
    next_pull_at: datetime
    failures: int
    last_error: str
    last_success_at: datetime | None


class MarketStore:
    def __init__(self, db: Connection, track=None):
        self._db = db

    # The archive: every record as received, before anything reads it.

    def archive(self, source: str, ref: str, raw: Mapping[str, Any], now: datetime) -> bool:
        """Keep the record as received; False when this very record was archived before."""
        return (
            self._db.execute(
                insert_for(self._db, raw_payloads)
                .values(
                    tenant_id=identity.current().tenant_id,
                    source=source,
                    source_ref=ref[:200],
                    content_hash=content_hash(raw),
                    received_at=now,
                    payload=dumps(raw),
                )
                .on_conflict_do_nothing()
                # RETURNING says whether a row went in (psycopg reports no rowcount for this insert)
                .returning(raw_payloads.c.content_hash)
            ).first()
            is not None
        )

    # Platform orders.

    def known(self, platform: str, shop: str, order_id: str, lock: bool = True) -> Known | None:
        stored = self.get(platform, shop, order_id, lock)
        if stored is None:
            return None
        o = stored.order
        return Known(
            o.modified_at, content_hash(o.raw), stored.outcome, stored.order_id, o.receiver, stored.left_out
        )

    def get(self, platform: str, shop: str, order_id: str, lock: bool = False) -> StoredMarketOrder | None:
        t = market_orders
        query = scoped(
            select(t).where(t.c.platform == platform, t.c.shop == shop, t.c.platform_order_id == order_id), t
        )
        if lock and self._db.dialect.name == "postgresql":
            query = query.with_for_update()
        r = self._db.execute(query).first()
        if r is None:
            return None
        left_out = frozenset(x["sub_order_id"] for x in json.loads(r.left_out))
        return StoredMarketOrder(
            marketplace.from_json(json.loads(r.record)),
            Outcome(r.outcome),
            r.order_id,
            r.order_no,
            r.note,
            left_out,
        )

    def save(
        self,
        order: MarketOrder,
        outcome: Outcome,
        now: datetime,
        *,
        order_id: str = "",
        order_no: str = "",
        left_out: tuple[MarketLine, ...] = (),
        note: str = "",
    ) -> None:
        values = dict(
            modified_at=order.modified_at,
            content_hash=content_hash(order.raw),
            platform_status="".join(c if c.isprintable() else "?" for c in order.platform_status)[:64],
            outcome=outcome.value,
            record=dumps(marketplace.to_json(order)),
            left_out=dumps([vars(x) for x in left_out]),
            note=note[:200],
            updated_at=now,
        )
        if order_id:
            values |= dict(order_id=order_id, order_no=order_no)
        stmt = insert_for(self._db, market_orders).values(
            tenant_id=identity.current().tenant_id,
            platform=order.platform,
            shop=order.shop,
            platform_order_id=order.platform_order_id,
            first_seen_at=now,
            **values,
        )
        self._db.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "platform", "shop", "platform_order_id"], set_=values
            )
        )

    def set_outcome(
        self, platform: str, shop: str, platform_order_id: str, outcome: Outcome, **values: Any
    ) -> None:
        t = market_orders
        self._db.execute(
            update(t)
            .where(
                t.c.tenant_id == identity.current().tenant_id,
                t.c.platform == platform,
                t.c.shop == shop,
                t.c.platform_order_id == platform_order_id,
            )
            .values(outcome=outcome.value, **values)
        )

    # Buyers a person tied to a customer.

    def linked_customer(self, platform: str, shop: str, buyer_id: str) -> str:
        if not buyer_id:
            return ""
        t = buyer_links
        r = self._db.execute(
            scoped(
                select(t.c.customer_id).where(
                    t.c.platform == platform, t.c.shop == shop, t.c.buyer_id == buyer_id
                ),
                t,
            )
        ).first()
        return r.customer_id if r else ""

    def link_buyer(self, platform: str, shop: str, buyer_id: str, customer_id: str, now: datetime) -> None:
        caller = identity.current()
        values = dict(customer_id=customer_id, linked_by=caller.user[:64], linked_at=now)
        self._db.execute(
            insert_for(self._db, buyer_links)
            .values(
                tenant_id=caller.tenant_id, platform=platform, shop=shop, buyer_id=buyer_id[:128], **values
            )
            .on_conflict_do_update(index_elements=["tenant_id", "platform", "shop", "buyer_id"], set_=values)
        )

    # Shop checkpoints.

    def claim_shop(
        self, shop: str, platform: str, now: datetime, lease: timedelta, force: bool = False
    ) -> datetime | None:
        """Take the shop for one pull if it is due (or `force`) and nobody else is pulling it:
        one guarded UPDATE, so two replicas never pull one shop at once. Returns the lease's end,
        which is also its token (renew_lease, finish_pull act only while it is still ours), or
        None."""
        tenant = identity.current().tenant_id
        t = shop_checkpoints
        self._db.execute(
            insert_for(self._db, t)
            .values(tenant_id=tenant, shop=shop, platform=platform, next_pull_at=now)
            .on_conflict_do_nothing()
        )
        free = or_(t.c.lease_until.is_(None), t.c.lease_until < now)
        due = free if force else and_(free, t.c.next_pull_at <= now)
        until = now + lease
        taken = self._db.execute(
            update(t).where(t.c.tenant_id == tenant, t.c.shop == shop, due).values(lease_until=until)
        ).rowcount
        return until if taken == 1 else None

    def checkpoint(self, shop: str) -> Checkpoint | None:
        t = shop_checkpoints
        r = self._db.execute(scoped(select(t).where(t.c.shop == shop), t)).first()
        return _checkpoint(r) if r else None

    def checkpoints(self) -> list[Checkpoint]:
        t = shop_checkpoints
        return [_checkpoint(r) for r in self._db.execute(scoped(select(t).order_by(t.c.shop), t))]

    def advance(self, shop: str, pulled_until: datetime, lease: datetime, renewed: datetime) -> bool:
        """Move the checkpoint and renew the lease, if the lease is still ours (a pull that ran
        past its lease may have been taken over: then it stops, and moves nothing)."""
        return self._update_checkpoint(shop, lease, pulled_until=pulled_until, lease_until=renewed)

    def finish_pull(
        self, shop: str, lease: datetime, now: datetime, next_pull_at: datetime, error: str = ""
    ) -> None:
        t = shop_checkpoints
        if error:
            values = dict(failures=t.c.failures + 1, last_error=error[:300])
        else:
            values = dict(failures=0, last_error="", last_success_at=now)
        self._update_checkpoint(shop, lease, next_pull_at=next_pull_at, lease_until=None, **values)

    def _update_checkpoint(self, shop: str, lease: datetime, **values: Any) -> bool:
        t = shop_checkpoints
        return (
            self._db.execute(
                update(t)
                .where(
                    t.c.tenant_id == identity.current().tenant_id, t.c.shop == shop, t.c.lease_until == lease
                )
                .values(**values)
            ).rowcount
            == 1
        )


def _checkpoint(r) -> Checkpoint:
    return Checkpoint(
        r.shop, r.platform, r.pulled_until, r.next_pull_at, r.failures, r.last_error, r.last_success_at
    )
