"""Sign-in, sessions and the user directory."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import Counter

from services.chassis.errors import (
    AlreadyExists,
    Duplicate,
    FieldViolation,
    InvalidArgument,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
    VersionConflict,
)
from services.chassis.identity import Identity
from services.chassis.text import one_line
from services.chassis.uow import UowFactory
from services.identity.adapters.passwords import Passwords
from services.identity.adapters.signing import Issuer
from services.identity.domain.model import (
    PORTAL_ROLE,
    Session,
    SessionPolicy,
    ThrottlePolicy,
    User,
    check_password,
    check_roles,
    check_user_name,
    login_key,
)
from services.identity.service_layer.unit_of_work import IdentityUnitOfWork

log = logging.getLogger(__name__)

SIGN_INS = Counter(
    "oms_sign_ins_total",
    "Sign-in attempts by outcome (ok, wrong, throttled, disabled)",
    ["tenant", "outcome"],
)
# One answer for an unknown tenant, an unknown user and a wrong password: which one it was is
# what someone guessing wants to learn.
WRONG = "用户名或密码错误 wrong user name or password"


class CustomerBook(Protocol):
    def id_of(self, code: str) -> str | None:
        """The id of the tenant's customer with this code, None if there is none."""


@dataclass
class Deps:
    uow: UowFactory[IdentityUnitOfWork]
    passwords: Passwords
    issuer: Issuer
    customers: CustomerBook
    tenants: Container[str]
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True)
class Issued:
    access_token: str
    access_expires_at: datetime
    refresh_token: str  # "" when a refresh inside the reuse grace keeps the current one
    session_expires_at: datetime
    user: User


# --- signing in ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    tenant_id: str
    user: str
    password: str
    client: str = ""


def sign_in(cmd: SignIn, deps: Deps) -> Issued:
    if cmd.tenant_id not in deps.tenants:
        deps.passwords.waste_time(cmd.password)
        SIGN_INS.labels("(unknown)", "wrong").inc()
        raise Unauthenticated(WRONG)
    key = login_key(cmd.user)
    _count_attempt(cmd.tenant_id, key, deps)
    with deps.uow(read_only=True) as uow:
        user = uow.users.find(cmd.tenant_id, cmd.user)
    right = _checked(cmd.tenant_id, key, deps, lambda: _right(user, cmd.password, deps))
    if user is None or not right:
        SIGN_INS.labels(cmd.tenant_id, "wrong").inc()
        log.info("sign-in refused: wrong password or unknown user (tenant %s)", cmd.tenant_id)
        raise Unauthenticated(WRONG)
    # a hash made with older parameters is made again now the password is known (outside the
    # transaction: ~0.1 s of CPU)
    rehashed = deps.passwords.hash(cmd.password) if deps.passwords.needs_rehash(user.password_hash) else ""
    now = deps.clock()
    with deps.uow() as uow:
        uow.attempts.clear(cmd.tenant_id, key)  # the attempt counted in advance was a right one
        if user.disabled:
            uow.commit()
            SIGN_INS.labels(cmd.tenant_id, "disabled").inc()
            raise Unauthenticated("账号已停用 this account is disabled; ask your administrator")
        if rehashed:
            user.password_hash = rehashed
            uow.users.save(user, user.version)
        secret = _new_secret()
        session = Session(
            session_id=str(uuid.uuid4()),
            tenant_id=cmd.tenant_id,
            user_id=user.user_id,
            refresh_hash=_digest(secret),
            created_at=now,
            expires_at=now + deps.sessions.session_ttl,
            client=one_line(cmd.client)[:200],
        )
        uow.sessions.add(session)
        uow.users.signed_in(user.user_id, now)
        uow.commit()
    user.last_sign_in_at = now
    SIGN_INS.labels(cmd.tenant_id, "ok").inc()
    return _issue(user, session, f"{session.session_id}.{secret}", deps, now)


def _right(user: User | None, password: str, deps: Deps) -> bool:
    if user is None:
        deps.passwords.waste_time(password)  # as long as a real check: the name's absence stays unseen
        return False
    return deps.passwords.verify(user.password_hash, password)


def _checked(tenant_id: str, key: str, deps: Deps, check: Callable[[], bool]) -> bool:
    """A password check whose attempt was counted in advance; too busy to check (UNAVAILABLE),
    the attempt was never made and is taken back."""
    try:
        return check()
    except Unavailable:
        with deps.uow() as uow:
            uow.attempts.uncount(tenant_id, key)
            uow.commit()
        raise


def _count_attempt(tenant_id: str, key: str, deps: Deps) -> None:
    """Refuse if the name must wait; otherwise count this attempt as failed until its password
    proves right (so parallel guesses each count before any of them is checked)."""
    now = deps.clock()
    with deps.uow() as uow:
        wait = uow.attempts.lock(tenant_id, key).retry_after_s(deps.throttle, now)
        if wait:
            SIGN_INS.labels(tenant_id, "throttled").inc()
            raise TooManyAttempts(
                f"登录失败次数过多 too many failed sign-ins for this user name: try again in {wait} s",
                wait,
            )
        uow.attempts.count_failure(tenant_id, key, now)
        uow.commit()


# --- sessions ------------------------------------------------------------------------------------


def refresh(refresh_token: str, deps: Deps) -> Issued:
    session_id, secret = _split(refresh_token)
    now = deps.clock()
    with deps.uow() as uow:
        session = uow.sessions.get(session_id, for_update=True)
        if session is None or not session.live(now):
            raise Unauthenticated("会话已结束 the session has ended or expired: sign in again")
        digest = _digest(secret)
        new_secret = ""
        if hmac.compare_digest(digest, session.refresh_hash):
            new_secret = _new_secret()
            session.rotate(_digest(new_secret), now)
        elif not (
            session.previous_hash
            and hmac.compare_digest(digest, session.previous_hash)
            and session.within_reuse_grace(deps.sessions, now)
        ):
            session.end("refresh token reused", now)
            uow.sessions.save(session)
            uow.commit()
            log.warning("session %s ended: a refresh token was presented twice", session_id)
            raise Unauthenticated(
                "会话已结束 this refresh token was already used; the session has ended: sign in again"
            )
        user = uow.users.by_id(session.tenant_id, session.user_id)
        if user is None or user.disabled:
            session.end("user disabled", now)
        uow.sessions.save(session)
        uow.commit()
    if session.ended_at is not None or user is None:
        raise Unauthenticated("账号已停用 this account is disabled; ask your administrator")
    return _issue(user, session, f"{session_id}.{new_secret}" if new_secret else "", deps, now)


def sign_out(refresh_token: str, deps: Deps) -> None:
    """Ends the session the token belongs to. Answers the same whether or not there was one."""
    session_id, secret = _split(refresh_token)
    now = deps.clock()
    with deps.uow() as uow:
        session = uow.sessions.get(session_id, for_update=True)
        if session is None or session.ended_at is not None:
            return
        digest = _digest(secret)
        if hmac.compare_digest(digest, session.refresh_hash) or (
            session.previous_hash and hmac.compare_digest(digest, session.previous_hash)
        ):
            session.end("signed out", now)
            uow.sessions.save(session)
            uow.commit()


def _issue(user: User, session: Session, refresh_token: str, deps: Deps, now: datetime) -> Issued:
    access_expires = min(now + deps.sessions.access_ttl, session.expires_at)
    token = deps.issuer.mint(
        user.tenant_id,
        user.user,
        user.roles,
        customer_id=user.customer_id,
        ttl_s=max(1, int((access_expires - now).total_seconds())),
        now=now.timestamp(),
        session_id=session.session_id,
    )
    return Issued(token, access_expires, refresh_token, session.expires_at, user)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(refresh_token: str) -> tuple[str, str]:
    session_id, dot, secret = refresh_token.partition(".")
    try:
        uuid.UUID(session_id)
    except ValueError:
        session_id = ""
    if not dot or not session_id or not secret:
        raise Unauthenticated("not a refresh token this service issued")
    return session_id, secret


# --- the signed-in user --------------------------------------------------------------------------


def who_am_i(caller: Identity, deps: Deps) -> User:
    with deps.uow(read_only=True) as uow:
        return uow.users.get(caller.tenant_id, caller.user)


def change_password(caller: Identity, current: str, new: str, deps: Deps) -> None:
    key = login_key(caller.user)
    _count_attempt(caller.tenant_id, key, deps)  # a stolen session must not guess the password freely
    with deps.uow(read_only=True) as uow:
        user = uow.users.get(caller.tenant_id, caller.user)
    if not _checked(caller.tenant_id, key, deps, lambda: _right(user, current, deps)):
        raise InvalidArgument(
            "current_password: wrong password",
            [FieldViolation("current_password", "wrong password")],
        )
    check_password(new, user.user, "new_password")
    _set_password(user, new, caller.user, "password changed", deps)


# --- the user directory --------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateUser:
    user: str
    display_name: str
    roles: list[str]
    customer_code: str
    password: str


def create_user(cmd: CreateUser, caller: Identity, deps: Deps) -> User:
    check_user_name(cmd.user)
    roles = check_roles(cmd.roles, cmd.customer_code)
    check_password(cmd.password, cmd.user)
    customer_id = ""
    if PORTAL_ROLE in roles:
        customer_id = deps.customers.id_of(cmd.customer_code) or ""
        if not customer_id:
            raise InvalidArgument(
                f"customer_code: no customer {cmd.customer_code!r}",
                [FieldViolation("customer_code", f"no customer with the code {cmd.customer_code!r}")],
            )
    now = deps.clock()
    user = User(
        user_id=str(uuid.uuid4()),
        tenant_id=caller.tenant_id,
        user=cmd.user,
        display_name=cmd.display_name or cmd.user,
        roles=roles,
        password_hash=deps.passwords.hash(cmd.password),
        created_at=now,
        created_by=caller.user,
        customer_id=customer_id,
        customer_code=cmd.customer_code if customer_id else "",
        updated_at=now,
        updated_by=caller.user,
    )
    with deps.uow() as uow:
        if uow.users.find(caller.tenant_id, cmd.user) is not None:
            raise AlreadyExists(f"user {cmd.user!r} already exists")
        try:
            uow.users.add(user)
            uow.commit()
        except Duplicate:
            raise AlreadyExists(f"user {cmd.user!r} already exists") from None
    log.info("user %s created by %s (tenant %s)", user.user_id, caller.user, caller.tenant_id)
    return user


def list_users(caller: Identity, query: str, customer_code: str, deps: Deps) -> list[User]:
    with deps.uow(read_only=True) as uow:
        return uow.users.list(caller.tenant_id, query, customer_code)


@dataclass(frozen=True)
class UpdateUser:
    user: str
    display_name: str
    roles: list[str]
    disabled: bool
    expected_version: int


def update_user(cmd: UpdateUser, caller: Identity, deps: Deps) -> User:
    now = deps.clock()
    with deps.uow() as uow:
        user = uow.users.get(caller.tenant_id, cmd.user, for_update=True)
        read_at = user.version
        if cmd.expected_version and cmd.expected_version != read_at:
            raise _stale(user)
        roles = check_roles(cmd.roles, user.customer_code)
        if user.key == login_key(caller.user) and (cmd.disabled or "admin" not in roles):
            raise InvalidArgument(
                "an administrator cannot disable themselves or drop their own admin role",
                [FieldViolation("roles" if not cmd.disabled else "disabled", "not on your own account")],
            )
        user.change(
            roles=roles,
            display_name=cmd.display_name or user.display_name,
            disabled=cmd.disabled,
            by=caller.user,
            at=now,
        )
        uow.users.save(user, read_at)
        if user.disabled:
            uow.sessions.end_all(user.user_id, "user disabled", now)
        uow.commit()
    return user


def reset_password(user_name: str, password: str, caller: Identity, deps: Deps) -> User:
    with deps.uow(read_only=True) as uow:
        user = uow.users.get(caller.tenant_id, user_name)
    check_password(password, user.user)
    return _set_password(user, password, caller.user, "password reset", deps)


def _set_password(user: User, password: str, by: str, reason: str, deps: Deps) -> User:
    password_hash = deps.passwords.hash(password)  # outside the transaction: ~0.1 s of CPU
    now = deps.clock()
    with deps.uow() as uow:
        current = uow.users.get(user.tenant_id, user.user, for_update=True)
        read_at = current.version
        current.set_password_hash(password_hash, by=by, at=now)
        uow.users.save(current, read_at)
        uow.sessions.end_all(current.user_id, reason, now)
        uow.attempts.clear(current.tenant_id, current.key)
        uow.commit()
    return current


def _stale(user: User) -> VersionConflict:
    return VersionConflict(f"user {user.user!r} is at version {user.version}; read it again")
