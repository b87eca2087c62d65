"""The dev keys and the tokens omsctl, the tests and the bench sign with. The issuer itself
(services/identity/adapters/signing.py) is the identity service's; every other service only
verifies, with the public half (services/chassis/identity.py).

Used by omsctl (an admin tool holding the issuer's key), scripts/dev-keys.py (`make setup`), the
tests and the bench. The dev keys live in var/keys/ of this checkout (git-ignored):

    issuer.jwk.json       the private key omsctl and the tests sign with (mode 0600)
    jwks.json             the public keys the services trust (OMS_JWKS_FILE's dev default)
    service-tokens.json   long-lived tokens with the role `service`, one per tenant
                          (OMS_SERVICE_TOKEN_FILE's dev default), for calls made outside a request
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.chassis.identity import ISSUER, parse_jwks
from services.chassis.settings import DEV_ISSUER_KEY_FILE, DEV_JWKS_FILE, DEV_KEYS_DIR, DEV_SERVICE_TOKEN_FILE
from services.identity.adapters.signing import Issuer

__all__ = ["DEV_ISSUER_KEY_FILE", "Issuer", "dev_issuer", "ensure_dev_keys", "new_private_jwk"]
SERVICE_TOKEN_TTL_S = 365 * 24 * 3600
SERVICE_USER = "svc:oms"


def new_private_jwk(kid: str = "") -> dict:
    key = Ed25519PrivateKey.generate()
    kid = kid or f"dev-{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"
    return {**json.loads(OKPAlgorithm.to_jwk(key)), "kid": kid, "alg": "EdDSA", "use": "sig"}


@cache
def dev_issuer() -> Issuer:
    """The dev issuer (var/keys/issuer.jwk.json), which the embedded stack's services trust."""
    try:
        return Issuer.from_file(DEV_ISSUER_KEY_FILE)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no dev issuer key at {DEV_ISSUER_KEY_FILE}: run `make setup` (scripts/dev-keys.py)"
        ) from None


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_dev_keys(
    directory: Path = DEV_KEYS_DIR,
    tenants: Iterable[str] = (),
    *,
    rotate: bool = False,
    min_service_token_life_s: int = 30 * 24 * 3600,
) -> list[str]:
    """Make the dev keys exist and agree, changing only what is missing or stale; returns what
    it did. `rotate`: a new issuer key, its public half added beside the old ones in the JWKS (a
    rotation: tokens signed with the old key stay valid until they expire)."""
    directory.mkdir(parents=True, exist_ok=True)
    issuer_file, jwks_file = directory / DEV_ISSUER_KEY_FILE.name, directory / DEV_JWKS_FILE.name
    tokens_file = directory / DEV_SERVICE_TOKEN_FILE.name
    done = []
    private = _read_json(issuer_file)
    if rotate or not isinstance(private, dict) or "d" not in private:
        private = new_private_jwk()
        _write(issuer_file, json.dumps(private, indent=2) + "\n", 0o600)
        done.append(f"new issuer key {private['kid']} in {issuer_file}")
    issuer = Issuer(private)
    jwks = _read_json(jwks_file)
    try:
        parse_jwks(json.dumps(jwks), str(jwks_file))
        keys = jwks["keys"]
    except Exception:
        keys = []
    if issuer.public_jwk() not in keys:
        keys = [k for k in keys if k.get("kid") != issuer.kid] + [issuer.public_jwk()]
        _write(jwks_file, json.dumps({"keys": keys}, indent=2) + "\n")
        done.append(f"public key {issuer.kid} in {jwks_file} ({len(keys)} key(s))")
    tokens = _read_json(tokens_file)
    tokens = tokens if isinstance(tokens, dict) else {}
    renewed = []
    for tenant in tenants:
        if rotate or not _fresh(tokens.get(tenant), issuer, min_service_token_life_s):
            tokens[tenant] = issuer.mint(tenant, SERVICE_USER, ["service"], ttl_s=SERVICE_TOKEN_TTL_S)
            renewed.append(tenant)
    if renewed:
        _write(tokens_file, json.dumps(tokens, indent=2) + "\n", 0o600)
        done.append(f"service tokens for {', '.join(renewed)} in {tokens_file}")
    return done


def _fresh(token, issuer: Issuer, min_life_s: int) -> bool:
    """A service token this issuer key signed that is valid for at least min_life_s more."""
    if not isinstance(token, str):
        return False
    try:
        claims = jwt.decode(
            token, issuer.public_key(), algorithms=["EdDSA"], issuer=ISSUER, options={"verify_exp": False}
        )
    except jwt.InvalidTokenError:
        return False
    return isinstance(claims.get("exp"), int) and claims["exp"] - time.time() >= min_life_s
