from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.notify.adapters.repository import NotificationRepository


class NotifyUnitOfWork(UnitOfWork):
    notifications: NotificationRepository

    def _open_repositories(self) -> None:
        self.notifications = NotificationRepository(self.connection, self.track)
