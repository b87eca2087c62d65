"""Alerts as people see them: the open due-date warnings (and past ones), and acknowledgement by
a recipient ("I have it in hand"; the warning stays until the work finishes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import Counter

from services.chassis import identity
from services.chassis.errors import NotFound, PermissionDenied
from services.notify.adapters.watch_store import AlertRecord
from services.notify.service_layer.handlers import UowFactory

ALERTS = Counter(
    "oms_alerts_total", "Alerts by tenant, kind and what happened to them", ["tenant", "kind", "event"]
)
KIND = "due_warning"


def counted(event: str, n: int = 1) -> None:
    """raised | withdrawn | acknowledged, for the caller's tenant."""
    if n:
        ALERTS.labels(identity.current().tenant_id, KIND, event).inc(n)


def list_alerts(
    uow: UowFactory,
    state: str = "raised",
    order_no: str = "",
    work_order_no: str = "",
    recipient: str = "",
    limit: int = 100,
) -> list[AlertRecord]:
    with uow(read_only=True) as tx:
        return tx.alerts.page(state, order_no, work_order_no, recipient, limit)


def acknowledge(
    alert_id: str, uow: UowFactory, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> AlertRecord:
    caller = identity.current()
    with uow() as tx:
        alert = tx.alerts.get(alert_id, lock=True)
        if alert is None:
            raise NotFound(f"alert {alert_id} not found")
        if caller.user not in {name for name, _ in alert.recipients}:
            raise PermissionDenied(f"only a recipient acknowledges an alert ({caller.user} is not one)")
        already = any(who == caller.user for who, _ in alert.acknowledgements)
        tx.alerts.acknowledge(alert_id, caller.user, clock())
        tx.commit()
        if not already:
            counted("acknowledged")
        found = tx.alerts.get(alert_id)
    assert found is not None
    return found
