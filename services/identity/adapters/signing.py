"""The token issuer: signs access tokens with the private key (an Ed25519 JWK). Only the identity
service (and omsctl, an administrator's tool holding the dev key) imports this; every other
service verifies with the public half (services/chassis/identity.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

import jwt
from jwt.algorithms import OKPAlgorithm

from services.chassis.identity import ISSUER


class Issuer:
    def __init__(self, private_jwk: dict):
        if not isinstance(private_jwk, dict) or "d" not in private_jwk or not private_jwk.get("kid"):
            raise ValueError("an issuer key is a private JWK with a kid")
        self.kid: str = private_jwk["kid"]
        try:
            self._key = jwt.PyJWK(private_jwk)
        except jwt.PyJWTError as exc:
            raise ValueError(f"not a usable private key: {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> Issuer:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError:
            raise ValueError(f"{path} is not a JSON private key (JWK)") from None
        return cls(document)

    def mint(
        self,
        tenant_id: str,
        user: str,
        roles: Iterable[str],
        *,
        customer_id: str = "",
        ttl_s: int = 3600,
        now: float | None = None,
        session_id: str = "",
    ) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": ISSUER,
            "sub": user,
            "tenant": tenant_id,
            "roles": sorted(roles),
            "iat": issued,
            "exp": issued + ttl_s,
        }
        if customer_id:
            claims["customer"] = customer_id
        if session_id:
            claims["sid"] = session_id
        return jwt.encode(
            claims, self._key.key, algorithm=self._key.algorithm_name, headers={"kid": self.kid}
        )

    def public_key(self):
        return self._key.key.public_key()

    def public_jwk(self) -> dict:
        return public_jwk(self._key.key, self.kid)


def public_jwk(private_key, kid: str) -> dict:
    return {
        **json.loads(OKPAlgorithm.to_jwk(private_key.public_key())),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    }
