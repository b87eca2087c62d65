"""Users, sessions and sign-in attempts. Every query names its tenant explicitly: sign-in and
refresh run before anyone is known (services/chassis/identity.current() has nobody yet)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from services.chassis.db import insert_for
from services.chassis.errors import NotFound, VersionConflict
from services.identity.adapters.tables import sessions, sign_in_attempts, users
from services.identity.domain.model import Attempts, Session, User, login_key


class UserRepository:
    def __init__(self, db: Connection):
        self._db = db

    def add(self, u: User) -> None:
        self._db.execute(insert(users).values(user_id=u.user_id, tenant_id=u.tenant_id, **_user_columns(u)))

    def find(self, tenant_id: str, user: str, *, for_update: bool = False) -> User | None:
        query = select(users).where(users.c.tenant_id == tenant_id, users.c.login_key == login_key(user))
        row = self._db.execute(query.with_for_update() if for_update else query).first()
        return _user(row) if row else None

    def get(self, tenant_id: str, user: str, *, for_update: bool = False) -> User:
        found = self.find(tenant_id, user, for_update=for_update)
        if found is None:
            raise NotFound(f"user {user!r} not found")
        return found

    def by_id(self, tenant_id: str, user_id: str) -> User | None:
        row = self._db.execute(
            select(users).where(users.c.tenant_id == tenant_id, users.c.user_id == user_id)
        ).first()
        return _user(row) if row else None

    def list(self, tenant_id: str, query: str = "", customer_code: str = "", limit: int = 500) -> list[User]:
        q = select(users).where(users.c.tenant_id == tenant_id)
        if query:
            like = f"%{_escape_like(query)}%"
            q = q.where(
                or_(users.c.user.ilike(like, escape="\\"), users.c.display_name.ilike(like, escape="\\"))
            )
        if customer_code:
            q = q.where(users.c.customer_code == customer_code)
        return [_user(r) for r in self._db.execute(q.order_by(users.c.login_key).limit(limit))]

    def save(self, u: User, expected_version: int) -> None:
        """Write a changed user read at `expected_version`; VersionConflict if someone else wrote it."""
        result = self._db.execute(
            update(users)
            .where(users.c.user_id == u.user_id, users.c.version == expected_version)
            .values(**_user_columns(u))
        )
        if result.rowcount != 1:
            raise VersionConflict(f"user {u.user!r} was changed meanwhile; read it again")

    def signed_in(self, user_id: str, at: datetime) -> None:
        self._db.execute(update(users).where(users.c.user_id == user_id).values(last_sign_in_at=at))


class SessionRepository:
    def __init__(self, db: Connection):
        self._db = db

    def add(self, s: Session) -> None:
        self._db.execute(insert(sessions).values(**_session_columns(s)))

    def get(self, session_id: str, *, for_update: bool = False) -> Session | None:
        query = select(sessions).where(sessions.c.session_id == session_id)
        row = self._db.execute(query.with_for_update() if for_update else query).first()
        return _session(row) if row else None

    def save(self, s: Session) -> None:
        self._db.execute(
            update(sessions).where(sessions.c.session_id == s.session_id).values(**_session_columns(s))
        )

    def end_all(self, user_id: str, reason: str, now: datetime, *, except_session: str = "") -> int:
        query = update(sessions).where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
        if except_session:
            query = query.where(sessions.c.session_id != except_session)
        return self._db.execute(query.values(ended_at=now, end_reason=reason)).rowcount

    def purge_before(self, cutoff: datetime) -> int:
        """Sessions that ended or expired before `cutoff` (kept a while for the record)."""
        return self._db.execute(
            delete(sessions).where(or_(sessions.c.expires_at < cutoff, sessions.c.ended_at < cutoff))
        ).rowcount


class AttemptRepository:
    """Counts kept in one row per (tenant, name), changed by single atomic statements, so parallel
    attempts on PostgreSQL each count (no read-modify-write between them)."""

    def __init__(self, db: Connection):
        self._db = db

    def get(self, tenant_id: str, key: str) -> Attempts:
        row = self._db.execute(
            select(sign_in_attempts).where(
                sign_in_attempts.c.tenant_id == tenant_id, sign_in_attempts.c.login_key == key
            )
        ).first()
        return Attempts(row.failures, row.last_failure_at) if row else Attempts()

    def lock(self, tenant_id: str, key: str) -> Attempts:
        """The counts for this name, its row locked until the transaction ends (created if new),
        so attempts on one name are counted one after another."""
        upsert = insert_for(self._db, sign_in_attempts).values(
            tenant_id=tenant_id, login_key=key, failures=0, last_failure_at=None
        )
        stmt = upsert.on_conflict_do_update(
            index_elements=["tenant_id", "login_key"], set_={"failures": sign_in_attempts.c.failures}
        ).returning(sign_in_attempts.c.failures, sign_in_attempts.c.last_failure_at)
        row = self._db.execute(stmt).one()
        return Attempts(row.failures, row.last_failure_at)

    def count_failure(self, tenant_id: str, key: str, at: datetime) -> Attempts:
        """One more failure (created at 1); answers the counts after it."""
        upsert = insert_for(self._db, sign_in_attempts).values(
            tenant_id=tenant_id, login_key=key, failures=1, last_failure_at=at
        )
        stmt = upsert.on_conflict_do_update(
            index_elements=["tenant_id", "login_key"],
            set_={"failures": sign_in_attempts.c.failures + 1, "last_failure_at": at},
        ).returning(sign_in_attempts.c.failures, sign_in_attempts.c.last_failure_at)
        row = self._db.execute(stmt).one()
        return Attempts(row.failures, row.last_failure_at)

    def uncount(self, tenant_id: str, key: str) -> None:
        """Take back one failure counted in advance for an attempt that was never checked."""
        self._db.execute(
            update(sign_in_attempts)
            .where(
                sign_in_attempts.c.tenant_id == tenant_id,
                sign_in_attempts.c.login_key == key,
                sign_in_attempts.c.failures > 0,
            )
            .values(failures=sign_in_attempts.c.failures - 1)
        )

    def clear(self, tenant_id: str, key: str) -> None:
        self._db.execute(
            delete(sign_in_attempts).where(
                sign_in_attempts.c.tenant_id == tenant_id, sign_in_attempts.c.login_key == key
            )
        )

    def purge_before(self, cutoff: datetime) -> int:
        return self._db.execute(
            delete(sign_in_attempts).where(sign_in_attempts.c.last_failure_at < cutoff)
        ).rowcount


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _user_columns(u: User) -> dict:
    return {
        "user": u.user,
        "login_key": u.key,
        "display_name": u.display_name,
        "roles": json.dumps(sorted(u.roles), ensure_ascii=False),
        "customer_id": u.customer_id,
        "customer_code": u.customer_code,
        "password_hash": u.password_hash,
        "disabled": u.disabled,
        "version": u.version,
        "created_at": u.created_at,
        "created_by": u.created_by,
        "updated_at": u.updated_at,
        "updated_by": u.updated_by,
        "last_sign_in_at": u.last_sign_in_at,
    }


def _user(row: Row) -> User:
    return User(
        user_id=row.user_id,
        tenant_id=row.tenant_id,
        user=row.user,
        display_name=row.display_name,
        roles=frozenset(json.loads(row.roles)),
        password_hash=row.password_hash,
        created_at=row.created_at,
        created_by=row.created_by,
        customer_id=row.customer_id,
        customer_code=row.customer_code,
        disabled=row.disabled,
        version=row.version,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        last_sign_in_at=row.last_sign_in_at,
    )


def _session_columns(s: Session) -> dict:
    return {
        "session_id": s.session_id,
        "tenant_id": s.tenant_id,
        "user_id": s.user_id,
        "refresh_hash": s.refresh_hash,
        "previous_hash": s.previous_hash,
        "client": s.client,
        "created_at": s.created_at,
        "expires_at": s.expires_at,
        "refreshed_at": s.refreshed_at,
        "ended_at": s.ended_at,
        "end_reason": s.end_reason,
    }


def _session(row: Row) -> Session:
    return Session(
        session_id=row.session_id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        refresh_hash=row.refresh_hash,
        previous_hash=row.previous_hash,
        client=row.client,
        created_at=row.created_at,
        expires_at=row.expires_at,
        refreshed_at=row.refreshed_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
    )
