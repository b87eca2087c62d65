"""Signing keys for tests: an issuer of our own (never the dev keys) and the JWKS a service would
be given for it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jwt

from omsctl.tokens import Issuer, new_private_jwk


class TestIssuer(Issuer):
    __test__ = False  # not a pytest class

    def __init__(self, kid: str):
        self.private_jwk = new_private_jwk(kid)
        super().__init__(self.private_jwk)

    def sign_raw(self, payload: str, header: dict | None = None) -> str:
        """Any payload, correctly signed (even JSON no JWT library would write)."""

        def b64(data: bytes) -> bytes:
            return base64.urlsafe_b64encode(data).rstrip(b"=")

        header = {"alg": "EdDSA", "typ": "JWT", "kid": self.kid} if header is None else header
        signing_input = b64(json.dumps(header).encode()) + b"." + b64(payload.encode())
        signature = jwt.PyJWK(self.private_jwk).key.sign(signing_input)
        return (signing_input + b"." + b64(signature)).decode()


def write_jwks(path: Path, *issuers: Issuer) -> Path:
    path.write_text(json.dumps({"keys": [i.public_jwk() for i in issuers]}))
    return path
