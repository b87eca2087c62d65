"""Notify's projection of work orders, orders' customers and customers' owners, and the due-date
warnings raised, for the caller's tenant."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, and_, or_, select, update

from services.chassis import identity
from services.chassis.db import insert_for
from services.chassis.scoping import scoped
from services.notify.adapters.tables import (
    customer_owners,
    due_warnings,
    order_customers,
    watched_work_orders,
)
from services.notify.domain.due_risk import UNFINISHED_STAGES, RaisedWarning, WatchedWorkOrder

# Work has started: past STAGE_TO_SCHEDULE, goods not yet gone (a shipped work order has nothing
# left to stop).
STARTED_STAGES = ("STAGE_IN_PROCESS", "STAGE_QC_PASSED", "STAGE_READY_TO_SHIP")


class WatchStore:
    def __init__(self, db: Connection, track=None):
        self._db = db

    # The projection, from events.

    def watch(self, wo: WatchedWorkOrder, revision: int, now: datetime) -> None:
        """A new work order (work_order_created); a repeat or an older one changes nothing."""
        w = watched_work_orders
        values = dict(
            work_order_no=wo.work_order_no,
            order_id=wo.order_id,
            order_no=wo.order_no,
            workshop=wo.workshop,
            due_date=wo.due_date,
            stage=wo.stage,
            revision=revision,
            updated_at=now,
        )
        self._db.execute(
            insert_for(self._db, w)
            .values(tenant_id=identity.current().tenant_id, work_order_id=wo.work_order_id, **values)
            .on_conflict_do_nothing()
        )

    def move_stage(self, work_order_id: str, stage: str, sequence: int, now: datetime) -> None:
        w = watched_work_orders
        self._db.execute(
            update(w)
            .where(self._mine(work_order_id), w.c.stage_sequence < sequence)
            .values(stage=stage, stage_sequence=sequence, updated_at=now)
        )

    def revise(self, work_order_id: str, due_date: date, revision: int, now: datetime) -> None:
        w = watched_work_orders
        self._db.execute(
            update(w)
            .where(self._mine(work_order_id), w.c.revision < revision)
            .values(due_date=due_date, revision=revision, updated_at=now)
        )

    def cancel(self, work_order_id: str, now: datetime) -> None:
        w = watched_work_orders
        self._db.execute(update(w).where(self._mine(work_order_id)).values(cancelled=True, updated_at=now))

    def order_of_customer(self, order_id: str, customer_id: str, channel: str = "") -> None:
        self._db.execute(
            insert_for(self._db, order_customers)
            .values(
                tenant_id=identity.current().tenant_id,
                order_id=order_id,
                customer_id=customer_id,
                channel=channel[:32],
            )
            .on_conflict_do_nothing()
        )

    def customer(self, customer_id: str, name: str, sales_owner: str, version: int) -> None:
        c = customer_owners
        values = dict(name=name[:200], sales_owner=sales_owner[:64], version=version)
        stmt = insert_for(self._db, c).values(
            tenant_id=identity.current().tenant_id, customer_id=customer_id, **values
        )
        self._db.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "customer_id"], set_=values, where=c.c.version < version
            )
        )

    def _mine(self, work_order_id: str):
        w = watched_work_orders
        return and_(w.c.tenant_id == identity.current().tenant_id, w.c.work_order_id == work_order_id)

    # What the check reads.

    def at_risk(self, due_by: date) -> list[WatchedWorkOrder]:
        """Unfinished work due by this day, and work with an open warning (to withdraw it)."""
        w, d = watched_work_orders, due_warnings
        warned = select(d.c.work_order_id).where(
            d.c.tenant_id == identity.current().tenant_id, d.c.state == "raised"
        )
        unfinished = and_(~w.c.cancelled, w.c.stage.in_(UNFINISHED_STAGES), w.c.due_date <= due_by)
        rows = self._db.execute(scoped(select(w).where(or_(unfinished, w.c.work_order_id.in_(warned))), w))
        return [
            WatchedWorkOrder(
                r.work_order_id,
                r.work_order_no,
                r.order_id,
                r.order_no,
                r.workshop,
                r.due_date,
                r.stage,
                r.cancelled,
            )
            for r in rows
        ]

    def sales_owner_of(self, order_id: str) -> tuple[str, str]:
        """(sales owner, customer name) of the order's customer, ("", "") when not known yet."""
        o, c = order_customers, customer_owners
        r = self._db.execute(
            select(c.c.sales_owner, c.c.name)
            .join(o, and_(o.c.tenant_id == c.c.tenant_id, o.c.customer_id == c.c.customer_id))
            .where(o.c.tenant_id == identity.current().tenant_id, o.c.order_id == order_id)
        ).first()
        return (r.sales_owner, r.name) if r else ("", "")

    def sales_owner_of_customer(self, customer_id: str) -> str:
        c = customer_owners
        r = self._db.execute(scoped(select(c.c.sales_owner).where(c.c.customer_id == customer_id), c)).first()
        return r.sales_owner if r else ""

    def channel_of(self, order_id: str) -> str:
        """The order's channel as order_created named it ("CHANNEL_MARKETPLACE"); "" when not known."""
        o = order_customers
        r = self._db.execute(scoped(select(o.c.channel).where(o.c.order_id == order_id), o)).first()
        return r.channel if r else ""

    def started_work_orders(self, order_id: str) -> list[tuple[str, str]]:
        """(work order number, workshop) of the order's work orders on which work has started
        and is not cancelled, by number."""
        w = watched_work_orders
        query = select(w.c.work_order_no, w.c.workshop).where(
            w.c.order_id == order_id, ~w.c.cancelled, w.c.stage.in_(STARTED_STAGES)
        )
        rows = self._db.execute(scoped(query, w).order_by(w.c.work_order_no))
        return [(r.work_order_no, r.workshop) for r in rows]

    # Warnings.

    def raised(self) -> list[RaisedWarning]:
        d = due_warnings
        rows = self._db.execute(scoped(select(d).where(d.c.state == "raised"), d))
        return [RaisedWarning(r.work_order_id, r.threshold_hours, r.due_date) for r in rows]

    def raise_warning(
        self, wo: WatchedWorkOrder, threshold: float, recipients: list[tuple[str, str]], now: datetime
    ) -> str:
        """The warning's id, or "" when it was raised already (by another worker, before a
        restart): the unique key makes it once."""
        warning_id = str(uuid.uuid4())
        inserted = self._db.execute(
            insert_for(self._db, due_warnings)
            .values(
                warning_id=warning_id,
                tenant_id=identity.current().tenant_id,
                work_order_id=wo.work_order_id,
                work_order_no=wo.work_order_no,
                order_no=wo.order_no,
                threshold_hours=threshold,
                due_date=wo.due_date,
                state="raised",
                recipients=json.dumps(recipients, ensure_ascii=False),
                raised_at=now,
            )
            .on_conflict_do_nothing()
            .returning(due_warnings.c.warning_id)
        ).first()
        return warning_id if inserted else ""

    def withdraw(self, warning: RaisedWarning, reason: str, now: datetime) -> Withdrawn | None:
        """The warning as this call withdrew it; None when it was withdrawn already."""
        d = due_warnings
        row = self._db.execute(
            update(d)
            .where(
                d.c.tenant_id == identity.current().tenant_id,
                d.c.work_order_id == warning.work_order_id,
                d.c.threshold_hours == warning.threshold_hours,
                d.c.due_date == warning.due_date,
                d.c.state == "raised",
            )
            .values(state="withdrawn", withdrawn_at=now, withdraw_reason=reason)
            .returning(d.c.warning_id, d.c.recipients, d.c.work_order_no, d.c.order_no)
        ).first()
        if row is None:
            return None
        people = [(name, role) for name, role in json.loads(row.recipients)]
        return Withdrawn(row.warning_id, row.work_order_no, row.order_no, people)


@dataclass(frozen=True)
class Withdrawn:
    warning_id: str
    work_order_no: str
    order_no: str
    recipients: list[tuple[str, str]]  # (name, role) as the warning went out


@dataclass(frozen=True)
class AlertRecord:
    alert_id: str
    work_order_no: str
    order_no: str
    threshold_hours: float
    due_date: date
    state: str
    recipients: list[tuple[str, str]]
    raised_at: datetime
    withdrawn_at: datetime | None
    withdraw_reason: str
    acknowledgements: list[tuple[str, datetime]]


class AlertStore:
    """The due-date warnings as alerts people list and acknowledge."""

    def __init__(self, db: Connection, track=None):
        self._db = db

    def page(
        self, state: str, order_no: str, work_order_no: str, recipient: str, limit: int
    ) -> list[AlertRecord]:
        d = due_warnings
        query = scoped(select(d).where(d.c.state == state), d)
        if order_no:
            query = query.where(d.c.order_no == order_no)
        if work_order_no:
            query = query.where(d.c.work_order_no == work_order_no)
        if recipient:  # the recipients are a JSON list of [name, role]: the name as JSON text
            quoted = json.dumps(recipient, ensure_ascii=False)
            escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(d.c.recipients.like(f"%[{escaped},%", escape="\\"))
        rows = self._db.execute(query.order_by(d.c.raised_at.desc(), d.c.warning_id).limit(limit))
        return [_alert(r) for r in rows]

    def get(self, alert_id: str, lock: bool = False) -> AlertRecord | None:
        d = due_warnings
        query = scoped(select(d).where(d.c.warning_id == alert_id), d)
        if lock and self._db.dialect.name == "postgresql":
            query = query.with_for_update()
        r = self._db.execute(query).first()
        return _alert(r) if r else None

    def acknowledge(self, alert_id: str, name: str, now: datetime) -> None:
        d = due_warnings
        current = self.get(alert_id, lock=True)
        if current is None or any(who == name for who, _ in current.acknowledgements):
            return
        acks = [[who, at.isoformat()] for who, at in current.acknowledgements] + [[name, now.isoformat()]]
        self._db.execute(
            update(d)
            .where(d.c.tenant_id == identity.current().tenant_id, d.c.warning_id == alert_id)
            .values(acknowledgements=json.dumps(acks, ensure_ascii=False))
        )


def _alert(r) -> AlertRecord:
    return AlertRecord(
        r.warning_id,
        r.work_order_no,
        r.order_no,
        r.threshold_hours,
        r.due_date,
        r.state,
        [(name, role) for name, role in json.loads(r.recipients)],
        r.raised_at,
        r.withdrawn_at,
        r.withdraw_reason,
        [(who, datetime.fromisoformat(at)) for who, at in json.loads(r.acknowledgements)],
    )
