from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.identity.adapters.repository import AttemptRepository, SessionRepository, UserRepository


class IdentityUnitOfWork(UnitOfWork):
    users: UserRepository
    sessions: SessionRepository
    attempts: AttemptRepository

    def _open_repositories(self) -> None:
        self.users = UserRepository(self.connection)
        self.sessions = SessionRepository(self.connection)
        self.attempts = AttemptRepository(self.connection)
