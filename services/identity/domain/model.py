"""Users, sessions and the sign-in throttle: the rules, free of I/O.

A user name is what a person signs in with and what every record they make says ("陈丽"); it
is looked up by its canonical form (NFKC, case-folded, outer spaces trimmed), so "ＷangLi" and
"wangli" are one account and two people cannot hold look-alike names in one business line.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.chassis.errors import FieldViolation, InvalidArgument
from services.permissions import PERSON_ROLES, PORTAL_ROLE

STAFF_ROLES = frozenset(PERSON_ROLES)
MIN_PASSWORD_LEN = 8
MAX_KEY_LEN = 255  # NFKC can lengthen a name (one ligature becomes several letters)


def login_key(user: str) -> str:
    """The canonical form a user name is looked up and throttled by."""
    return unicodedata.normalize("NFKC", user).strip().casefold()[:MAX_KEY_LEN]


def check_user_name(user: str, field_name: str = "user") -> str:
    """A name a new account may take: not blank, and its canonical form fits (no aliasing)."""
    canonical = unicodedata.normalize("NFKC", user).strip().casefold()
    if not canonical:
        raise _invalid(field_name, "must not be blank")
    if len(canonical) > MAX_KEY_LEN:
        raise _invalid(field_name, "is too long once normalised")
    if user != user.strip():
        raise _invalid(field_name, "must not begin or end with spaces")
    return user


def check_roles(roles: list[str], customer_code: str, field_name: str = "roles") -> frozenset[str]:
    """Staff hold staff roles and no customer; a portal account holds exactly ["customer"] and
    names its customer."""
    chosen = frozenset(roles)
    if PORTAL_ROLE in chosen:
        if len(chosen) > 1:
            raise _invalid(field_name, 'a portal account holds the one role "customer", nothing else')
        if not customer_code:
            raise _invalid("customer_code", "a portal account names the customer it belongs to")
        return chosen
    unknown = sorted(chosen - STAFF_ROLES)
    if unknown:
        raise _invalid(
            field_name, f"unknown roles {unknown}; roles are {sorted(STAFF_ROLES | {PORTAL_ROLE})}"
        )
    if customer_code:
        raise _invalid("customer_code", 'only a portal account (roles ["customer"]) names a customer')
    return chosen


def check_password(password: str, user: str, field_name: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LEN:
        raise _invalid(field_name, f"must be at least {MIN_PASSWORD_LEN} characters")
    if login_key(password) == login_key(user):
        raise _invalid(field_name, "must not be the user name")


def _invalid(field_name: str, description: str) -> InvalidArgument:
    return InvalidArgument(f"{field_name}: {description}", [FieldViolation(field_name, description)])


@dataclass
class User:
    user_id: str
    tenant_id: str
    user: str
    display_name: str
    roles: frozenset[str]
    password_hash: str
    created_at: datetime
    created_by: str
    customer_id: str = ""
    customer_code: str = ""
    disabled: bool = False
    version: int = 1
    updated_at: datetime | None = None
    updated_by: str = ""
    last_sign_in_at: datetime | None = None

    @property
    def key(self) -> str:
        return login_key(self.user)

    @property
    def is_portal(self) -> bool:
        return bool(self.customer_id)

    def change(
        self, *, roles: frozenset[str], display_name: str, disabled: bool, by: str, at: datetime
    ) -> None:
        if self.is_portal and roles != {PORTAL_ROLE}:
            raise _invalid("roles", 'a portal account keeps the one role "customer"')
        if not self.is_portal and PORTAL_ROLE in roles:
            raise _invalid("roles", "a staff account cannot become a portal account; create one")
        self.roles, self.display_name, self.disabled = roles, display_name, disabled
        self._touch(by, at)

    def set_password_hash(self, password_hash: str, *, by: str, at: datetime) -> None:
        self.password_hash = password_hash
        self._touch(by, at)

    def _touch(self, by: str, at: datetime) -> None:
        self.version += 1
        self.updated_by, self.updated_at = by, at


# --- the sign-in throttle ----------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottlePolicy:
    """`free_attempts` wrong passwords in a row cost nothing; each one after that makes the next
    attempt wait `first_wait_s`, doubling, up to `max_wait_s`."""

    free_attempts: int = 5
    first_wait_s: float = 30.0
    max_wait_s: float = 900.0

    def wait_after(self, failures: int) -> timedelta:
        if failures < self.free_attempts:
            return timedelta(0)
        doublings = min(failures - self.free_attempts, 30)
        return timedelta(seconds=min(self.first_wait_s * 2**doublings, self.max_wait_s))


@dataclass
class Attempts:
    """Wrong passwords for one user name (existing or not) since its last right one.

    An attempt counts as failed *before* its password is checked and is forgiven only when the
    password was right: parallel guesses cannot slip past the limit while the first ones are
    still being checked."""

    failures: int = 0
    last_failure_at: datetime | None = None

    def blocked_until(self, policy: ThrottlePolicy) -> datetime | None:
        if self.last_failure_at is None:
            return None
        wait = policy.wait_after(self.failures)
        return self.last_failure_at + wait if wait else None

    def retry_after_s(self, policy: ThrottlePolicy, now: datetime) -> int:
        """Seconds until the next attempt may be made (0: now)."""
        until = self.blocked_until(policy)
        if until is None or until <= now:
            return 0
        return max(1, math.ceil((until - now).total_seconds()))


# --- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionPolicy:
    access_ttl: timedelta = timedelta(minutes=15)
    # A session lasts this long from sign-in, however often it is refreshed (a shift and then some).
    session_ttl: timedelta = timedelta(hours=12)
    # Two browser tabs refreshing at once send the same refresh token: the one that comes second
    # within this window gets an access token (the cookie jar already holds the new refresh
    # token); later, a used refresh token was copied, and the session ends.
    reuse_grace: timedelta = timedelta(seconds=30)


@dataclass
class Session:
    """A signed-in session: one refresh token at a time (its hash), replaced on every refresh."""

    session_id: str
    tenant_id: str
    user_id: str
    refresh_hash: str
    created_at: datetime
    expires_at: datetime
    client: str = ""
    refreshed_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str = ""
    previous_hash: str = ""  # the refresh token replaced last (see SessionPolicy.reuse_grace)

    def live(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at

    def end(self, reason: str, now: datetime) -> None:
        if self.ended_at is None:
            self.ended_at, self.end_reason = now, reason

    def rotate(self, new_hash: str, now: datetime) -> None:
        self.previous_hash, self.refresh_hash, self.refreshed_at = self.refresh_hash, new_hash, now

    def within_reuse_grace(self, policy: SessionPolicy, now: datetime) -> bool:
        return self.refreshed_at is not None and now - self.refreshed_at <= policy.reuse_grace
