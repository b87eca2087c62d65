"""Who is calling: tenant, user, roles (and, for portal users, the one customer they belong to).

Every call carries a signed token (a JWT, `authorization: Bearer ...`) that each service verifies
itself with the issuer's *public* keys: a JWKS document (`OMS_JWKS_FILE` and/or `OMS_JWKS_URL`),
several keys at once so the issuer can rotate, each token naming its key by `kid`. Services hold
no private key and cannot mint tokens; only the issuer can: the identity service at sign-in
(services/identity, the one holder of OMS_ISSUER_KEY_FILE), and omsctl or the tests with the dev
keys `make setup` generates (omsctl/tokens.py).

A call from one service to another forwards the token its own request came with (the interceptor
keeps it beside the Identity, `current_token()`; see client.py), so the callee sees the original
user and checks that user's roles itself. An event consumer acts as its service (role `service`)
without a token. A bare tenant header is never trusted.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import jwt

from services.chassis.errors import PermissionDenied, Unauthenticated

log = logging.getLogger(__name__)

ISSUER = "zhongshu-oms"
# Asymmetric signatures only: a symmetric algorithm (HS256) would let anyone holding the key the
# services verify with mint tokens, and "none" is no signature at all.
ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})


@dataclass(frozen=True)
class Identity:
    tenant_id: str
    user: str
    roles: frozenset[str] = field(default_factory=frozenset)
    customer_id: str = ""  # set for customer-portal accounts: they see only this customer's data

    def require(self, *any_of: str) -> None:
        if not self.roles.intersection(any_of) and "admin" not in self.roles:
            raise PermissionDenied(f"{self.user} needs one of the roles {sorted(any_of)}")


# --- the issuer's public keys ------------------------------------------------------------------


class JwksError(ValueError):
    """A JWKS document the services cannot use (the message says why)."""


def parse_jwks(document: bytes | str, source: str) -> dict[str, tuple[str, jwt.PyJWK]]:
    """Public signing keys by kid (with each key's JWK as canonical JSON, to tell a changed key).
    Refuses what a verifier must never hold or cannot match: a private or symmetric key, a key
    without kid, two keys with one kid, an algorithm not in ALGORITHMS."""
    try:
        keys = json.loads(document)["keys"]
        if not isinstance(keys, list):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        raise JwksError(f'{source} is not a JWKS document ({{"keys": [...]}})') from None
    out: dict[str, tuple[str, jwt.PyJWK]] = {}
    for n, jwk in enumerate(keys):
        where = f"{source}: key {n}"
        if not isinstance(jwk, dict):
            raise JwksError(f"{where} is not a JSON object")
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise JwksError(f"{where} has no kid (tokens name their key by kid)")
        where = f"{source}: key {kid!r}"
        if "d" in jwk or jwk.get("kty") == "oct":
            raise JwksError(f"{where} is a private or symmetric key; services take public keys only")
        if jwk.get("use", "sig") != "sig":
            raise JwksError(f"{where} is not a signing key (use={jwk.get('use')!r})")
        if kid in out:
            raise JwksError(f"{where} appears twice")
        try:
            key = jwt.PyJWK(jwk)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise JwksError(f"{where} cannot be read: {exc}") from None
        if key.algorithm_name not in ALGORITHMS:
            raise JwksError(f"{where} uses {key.algorithm_name}; accepted: {', '.join(sorted(ALGORITHMS))}")
        out[kid] = json.dumps(jwk, sort_keys=True), key
    if not out:
        raise JwksError(f"{source} holds no keys")
    return out


def read_jwks_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def fetch_jwks_url(url: str, timeout_s: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as reply:
        return reply.read(1 << 20)


class KeySet:
    """The public keys tokens are checked against, by kid, read from a JWKS file and/or URL.

    Rotation: a token naming a kid not yet known makes the set re-read its sources (a key
    rotated in), and the sources are re-read every `max_age_s` anyway (a key retired); both at
    most once per `min_interval_s`, so tokens with made-up kids cannot hammer the issuer. A
    failed re-read keeps the keys already known. `generation` changes whenever the keys do."""

    def __init__(
        self,
        file: str = "",
        url: str = "",
        *,
        max_age_s: float | None = None,
        min_interval_s: float | None = None,
        fetch: Callable[[str], bytes] = fetch_jwks_url,
    ):
        if not file and not url:
            raise JwksError("no JWKS file or URL given")
        self.file, self.url = file, url
        self._fetch = fetch
        self.max_age_s = max_age_s if max_age_s is not None else (300.0 if url else 30.0)
        self.min_interval_s = min_interval_s if min_interval_s is not None else (30.0 if url else 1.0)
        self._lock = threading.Lock()
        self._file_stamp: tuple[float, int] | None = None
        self._file_keys: dict[str, tuple[str, jwt.PyJWK]] = {}
        self._url_keys: dict[str, tuple[str, jwt.PyJWK]] = {}
        self._loaded: dict[str, tuple[str, jwt.PyJWK]] = {}
        self.keys: dict[str, jwt.PyJWK] = {}
        self.generation = 0
        self._load()  # at start, a source that cannot be read stops start-up
        self._checked_at = self._tried_at = time.monotonic()

    def _load(self) -> None:
        if self.file:
            stat = os.stat(self.file)
            stamp = (stat.st_mtime, stat.st_size)
            if stamp != self._file_stamp:
                self._file_keys = parse_jwks(read_jwks_file(self.file), self.file)
                self._file_stamp = stamp
        if self.url:
            self._url_keys = parse_jwks(self._fetch(self.url), self.url)
        keys = dict(self._file_keys)
        for kid, key in self._url_keys.items():
            if kid in keys and keys[kid][0] != key[0]:
                raise JwksError(f"key {kid!r} differs between {self.file} and {self.url}")
            keys[kid] = key
        if {k: v[0] for k, v in keys.items()} != {k: v[0] for k, v in self._loaded.items()}:
            self._loaded = keys
            self.keys = {kid: key for kid, (_, key) in keys.items()}
            self.generation += 1

    def refresh(self, *, force: bool = False, wait: bool = True) -> None:
        """Re-read the sources (unless tried less than min_interval_s ago). With wait=False a
        refresh another thread is already doing is not waited for: the keys known serve meanwhile."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            now = time.monotonic()
            if not force and now - self._tried_at < self.min_interval_s:
                return
            self._tried_at = self._checked_at = now
            try:
                self._load()
            except (OSError, JwksError) as exc:
                log.warning(
                    "could not re-read the JWKS (%s); keeping the %d key(s) known", exc, len(self.keys)
                )
        finally:
            self._lock.release()

    def refresh_if_stale(self) -> None:
        if time.monotonic() - self._checked_at >= self.max_age_s:
            self.refresh(wait=False)

    def get(self, kid: str) -> jwt.PyJWK | None:
        key = self.keys.get(kid)
        if key is None:
            self.refresh()
            key = self.keys.get(kid)
        return key


# --- verifying tokens --------------------------------------------------------------------------

# Claim shapes. A token is untrusted input even when its signature is good (a leaked key, a
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


class TokenVerifier:
    """Checks tokens against a KeySet. Signature and claims are checked once per token string
    (clients reuse a token for minutes; the read path must not pay a signature check per call),
    expiry and tenant on every call. The cache is dropped whenever the keys change, so a retired
    key stops working for tokens already seen too. Failures are not cached (they raise)."""

    def __init__(self, keys: KeySet, cache_size: int = 4096):
        self.keys = keys
        self._generation = keys.generation
        self._verified = lru_cache(maxsize=cache_size)(self._check)

    def verify(self, token: str, tenants: Container[str]) -> Identity:
        self.keys.refresh_if_stale()
        if self.keys.generation != self._generation:
            self._generation = self.keys.generation
            self._verified.cache_clear()
        identity, expires_at = self._verified(token)
        if expires_at <= time.time():
            raise Unauthenticated("token expired")
        if identity.tenant_id not in tenants:
            raise PermissionDenied(f"tenant {identity.tenant_id!r} is not served by this release")
        return identity

    def _check(self, token: str) -> tuple[Identity, float]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str) or not kid:
                raise Unauthenticated("invalid token: its header names no key (kid)")
            key = self.keys.get(kid)
            if key is None:
                raise Unauthenticated(
                    f"invalid token: signed by a key this service does not trust ({kid[:40]!r})"
                )
            claims = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        except (ValueError, TypeError, OverflowError, RecursionError, AttributeError):
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


_verifiers: dict[tuple[str, str], TokenVerifier] = {}
_verifiers_lock = threading.Lock()


def verifier_for(jwks_file: str, jwks_url: str = "") -> TokenVerifier:
    """One verifier (one key set, one cache) per JWKS source in a process: the embedded stack's
    seven servers check a token once, not once each."""
    with _verifiers_lock:
        verifier = _verifiers.get((jwks_file, jwks_url))
        if verifier is None:
            verifier = _verifiers[jwks_file, jwks_url] = TokenVerifier(KeySet(jwks_file, jwks_url))
        return verifier


# --- who is calling, in this context ------------------------------------------------------------

_current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("oms_identity", default=None)
_current_token: contextvars.ContextVar[str] = contextvars.ContextVar("oms_token", default="")


def current() -> Identity:
    identity = _current.get()
    if identity is None:
        raise Unauthenticated("no caller identity in this context")
    return identity


def current_token() -> str:
    """The token the current request came with ("" where there is none: an event consumer, a
    seed), to be forwarded on calls to other services."""
    return _current_token.get()


@contextmanager
def acting_as(identity: Identity, token: str = "") -> Iterator[Identity]:
    """Run a block as `identity`, presenting `token` on calls to other services (the auth
    interceptor passes the caller's; event consumers and seeds have none)."""
    reset = _current.set(identity), _current_token.set(token)
    try:
        yield identity
    finally:
        _current.reset(reset[0])
        _current_token.reset(reset[1])
