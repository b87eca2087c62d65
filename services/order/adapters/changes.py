"""Change requests in and out of the database. A request is read through its order: the caller
first reads the order (tenant and portal scoping, services/chassis/scoping.py), then its changes
by order id within the tenant."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from services.chassis import identity
from services.chassis.errors import NotFound, VersionConflict
from services.order.adapters.repository import content_as_dict, content_from_dict
from services.order.adapters.tables import order_changes
from services.order.domain.changes import ChangeRequest, ChangeState, FieldChange, Impact


class ChangeRepository:
    def __init__(self, db: Connection):
        self._db = db

    def add(self, change: ChangeRequest) -> None:
        self._db.execute(
            insert(order_changes),
            dict(
                change_id=change.change_id,
                order_id=change.order_id,
                tenant_id=identity.current().tenant_id,
                base_revision=change.base_revision,
                state=change.state.value,
                reason=change.reason,
                proposed=content_as_dict(change.proposed) if change.proposed else None,
                diff=[c.as_dict() for c in change.diff],
                impact=change.impact.as_dict(),
                requested_by=change.requested_by,
                requested_at=change.requested_at,
                decided_by=change.decided_by,
                decided_at=change.decided_at,
                decision_note=change.decision_note,
            ),
        )

    def get(self, order_id: str, change_id: str) -> ChangeRequest:
        """A change of an order the caller has already read (NotFound for another order's)."""
        row = self._db.execute(
            select(order_changes).where(
                order_changes.c.change_id == change_id,
                order_changes.c.order_id == order_id,
                order_changes.c.tenant_id == identity.current().tenant_id,
            )
        ).first()
        if row is None:
            raise NotFound(f"change {change_id} of order {order_id} not found")
        return _change(row)

    def for_order(self, order_id: str) -> list[ChangeRequest]:
        rows = self._db.execute(
            select(order_changes)
            .where(
                order_changes.c.order_id == order_id,
                order_changes.c.tenant_id == identity.current().tenant_id,
            )
            .order_by(order_changes.c.requested_at.desc(), order_changes.c.change_id)
        ).all()
        return [_change(r) for r in rows]

    def save_decision(self, change: ChangeRequest) -> None:
        """Record the decision; only a pending change can be decided (a second decision loses)."""
        result = self._db.execute(
            update(order_changes)
            .where(
                order_changes.c.change_id == change.change_id,
                order_changes.c.tenant_id == identity.current().tenant_id,
                order_changes.c.state == ChangeState.PENDING.value,
            )
            .values(
                state=change.state.value,
                decided_by=change.decided_by,
                decided_at=change.decided_at,
                decision_note=change.decision_note,
            )
        )
        if result.rowcount != 1:
            raise VersionConflict(f"change {change.change_id} was decided by someone else; reload it")


def _change(r) -> ChangeRequest:
    return ChangeRequest(
        change_id=r.change_id,
        order_id=r.order_id,
        base_revision=r.base_revision,
        proposed=content_from_dict(r.proposed) if r.proposed else None,
        reason=r.reason,
        requested_by=r.requested_by,
        requested_at=r.requested_at,
        diff=[FieldChange.from_dict(c) for c in r.diff],
        impact=Impact.from_dict(r.impact),
        state=ChangeState(r.state),
        decided_by=r.decided_by,
        decided_at=r.decided_at,
        decision_note=r.decision_note,
    )
