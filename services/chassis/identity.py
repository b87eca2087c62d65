"""Who is calling: tenant, user, roles (and, for portal users, the one customer they belong to).

Every call carries a signed token (HS256 JWT, `authorization: Bearer ...`); each service verifies it
itself. A bare tenant header is never trusted.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import jwt

from services.chassis.errors import PermissionDenied, Unauthenticated

ISSUER = "zhongshu-oms"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Identity:
    tenant_id: str
    user: str
    roles: frozenset[str] = field(default_factory=frozenset)
    customer_id: str = ""  # set for customer-portal accounts: they see only this customer's data

    def require(self, *any_of: str) -> None:
        if not self.roles.intersection(any_of) and "admin" not in self.roles:
            raise PermissionDenied(f"{self.user} needs one of the roles {sorted(any_of)}")


def issue_token(
    secret: str, tenant_id: str, user: str, roles: Iterable[str], *, customer_id: str = "", ttl_s: int = 3600
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": user,
        "tenant": tenant_id,
        "roles": sorted(roles),
        "iat": now,
        "exp": now + ttl_s,
    }
    if customer_id:
        claims["customer"] = customer_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, tenants: Container[str]) -> Identity:
    identity, expires_at = _verified(secret, token)
    if expires_at <= time.time():
        raise Unauthenticated("token expired")
    if identity.tenant_id not in tenants:
        raise PermissionDenied(f"tenant {identity.tenant_id!r} is not served by this release")
    return identity


# Claim shapes. A token is untrusted input even when its signature is good (a leaked secret, a
# buggy issuer): every claim is checked for type and size before it becomes an Identity, so a
# malformed one answers UNAUTHENTICATED, never INTERNAL, and nothing unbounded or containing
# control characters reaches a log line or a database column (users are stored in String(64)).
MAX_NAME_LEN = 64
MAX_ROLES = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 (NUL, TAB, CR/LF, ESC...), DEL, C1
_LATEST_EXP = 2**40  # year 36812: any later "exp" is not a time an issuer meant


def _name(claims: dict, claim: str, *, required: bool) -> str:
    """A required (or, if present, optional) claim that must be a short single-line string."""
    if claim not in claims:
        if required:
            raise Unauthenticated(f"invalid token: no {claim!r} claim")
        return ""
    value = claims[claim]
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_LEN or _CONTROL.search(value):
        raise Unauthenticated(
            f"invalid token: claim {claim!r} must be a string of 1 to {MAX_NAME_LEN} characters "
            "without control characters"
        )
    return value


def _roles(claims: dict) -> frozenset[str]:
    roles = claims.get("roles", [])
    if (
        not isinstance(roles, list)
        or len(roles) > MAX_ROLES
        or not all(
            isinstance(r, str) and 0 < len(r) <= MAX_NAME_LEN and not _CONTROL.search(r) for r in roles
        )
    ):
        raise Unauthenticated(
            f"invalid token: claim 'roles' must be a list of at most {MAX_ROLES} role names "
            f"(strings of 1 to {MAX_NAME_LEN} characters without control characters)"
        )
    return frozenset(roles)


def _expiry(claims: dict) -> float:
    exp = claims["exp"]
    # JSON numbers only (no strings, no booleans); NaN and infinities fail the range check.
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not 0 < exp < _LATEST_EXP:
        raise Unauthenticated("invalid token: claim 'exp' must be a NumericDate (seconds since 1970)")
    return float(exp)


@lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Identity, float]:
    """Signature and claims checked once per token string (clients reuse a token for minutes);
    expiry is checked on every call by the caller. Failures are not cached (they raise)."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "iss"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    except (ValueError, TypeError, OverflowError, RecursionError):
        # PyJWT's own checks let a few signed payloads through to Python errors (an "exp" of 400
        # digits or Infinity overflows int/float); whatever they are, the token is not valid.
        raise Unauthenticated("invalid token: malformed claims") from None
    identity = Identity(
        tenant_id=_name(claims, "tenant", required=True),
        user=_name(claims, "sub", required=True),
        roles=_roles(claims),
        customer_id=_name(claims, "customer", required=False),
    )
    return identity, _expiry(claims)


_current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("oms_identity", default=None)


def current() -> Identity:
    identity = _current.get()
    if identity is None:
        raise Unauthenticated("no caller identity in this context")
    return identity


@contextmanager
def acting_as(identity: Identity) -> Iterator[Identity]:
    """Run a block as `identity` (the auth interceptor and event consumers use this)."""
    token = _current.set(identity)
    try:
        yield identity
    finally:
        _current.reset(token)
