"""Who is calling: tenant, user, roles (and, for portal users, the one customer they belong to).

Every call carries a signed token (HS256 JWT, `authorization: Bearer ...`); each service verifies it
itself. A bare tenant header is never trusted.
"""

from __future__ import annotations

import contextvars
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
    tenant = claims.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise Unauthenticated("token has no tenant")
    identity = Identity(
        tenant_id=tenant,
        user=claims["sub"],
        roles=frozenset(claims.get("roles", [])),
        customer_id=claims.get("customer", ""),
    )
    return identity, float(claims["exp"])


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
