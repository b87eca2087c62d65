from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.notify.adapters.delivery_store import DeliveryStore
from services.notify.adapters.repository import NotificationRepository
from services.notify.adapters.watch_store import AlertStore, WatchStore


class NotifyUnitOfWork(UnitOfWork):
    notifications: NotificationRepository
    watch: WatchStore
    alerts: AlertStore
    deliveries: DeliveryStore

    def _open_repositories(self) -> None:
        self.notifications = NotificationRepository(self.connection, self.track)
        self.watch = WatchStore(self.connection)
        self.alerts = AlertStore(self.connection)
        self.deliveries = DeliveryStore(self.connection)
