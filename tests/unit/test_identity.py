"""Who is calling: tokens verified with the issuer's public keys (JWKS, several keys, chosen by
kid), tenants served, roles; every claim of a signed token is checked for type and size (a
malformed one is UNAUTHENTICATED, never an internal error); services cannot mint tokens."""

from __future__ import annotations

import ast
import base64
import dataclasses
import json
import os
import pathlib

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.chassis import identity
from services.chassis.errors import PermissionDenied, Unauthenticated
from services.chassis.identity import (
    ISSUER,
    Identity,
    JwksError,
    KeySet,
    TokenVerifier,
    acting_as,
    current,
    current_token,
    parse_jwks,
)
from services.chassis.settings import Settings
from tests.unit.keys import TestIssuer, write_jwks

SERVED = ("hardware", "autoparts")
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer("k-2026-01")


@pytest.fixture(scope="module")
def successor() -> TestIssuer:
    return TestIssuer("k-2026-07")


@pytest.fixture
def jwks(tmp_path, issuer) -> pathlib.Path:
    return write_jwks(tmp_path / "jwks.json", issuer)


@pytest.fixture
def verifier(jwks) -> TokenVerifier:
    return TokenVerifier(KeySet(str(jwks), min_interval_s=0))


def verify(verifier: TokenVerifier, token: str) -> Identity:
    return verifier.verify(token, SERVED)


def test_a_token_round_trips_to_the_same_identity(issuer, verifier):
    token = issuer.mint("hardware", "wu.xiaoyan", ["sales", "approver"])

    assert verify(verifier, token) == Identity(
        tenant_id="hardware", user="wu.xiaoyan", roles=frozenset({"sales", "approver"}), customer_id=""
    )


def test_a_portal_token_carries_its_customer(issuer, verifier):
    token = issuer.mint("autoparts", "geely.buyer", ["customer"], customer_id="c-42")

    assert verify(verifier, token).customer_id == "c-42"


def test_an_expired_token_is_unauthenticated(issuer, verifier):
    token = issuer.mint("hardware", "wu.xiaoyan", ["sales"], ttl_s=-10)

    with pytest.raises(Unauthenticated, match="expired"):
        verify(verifier, token)


def test_a_token_signed_by_a_key_not_in_the_jwks_is_unauthenticated(verifier):
    token = TestIssuer("mallorys-key").mint("hardware", "mallory", ["admin"])

    with pytest.raises(Unauthenticated, match="does not trust"):
        verify(verifier, token)


def test_a_token_signed_by_another_key_under_a_trusted_kid_is_unauthenticated(issuer, verifier):
    impostor = TestIssuer(issuer.kid)  # claims the trusted kid, signs with its own key

    with pytest.raises(Unauthenticated, match="invalid token"):
        verify(verifier, impostor.mint("hardware", "mallory", ["admin"]))


def test_a_token_naming_no_key_is_unauthenticated(issuer, verifier):
    token = issuer.sign_raw(
        json.dumps({"iss": ISSUER, "sub": "wu", "tenant": "hardware", "exp": 2**35}),
        header={"alg": "EdDSA", "typ": "JWT"},
    )

    with pytest.raises(Unauthenticated, match="kid"):
        verify(verifier, token)


def test_hs256_keyed_with_the_public_key_is_unauthenticated(issuer, verifier):
    """Algorithm confusion: the public key is no secret, so an HMAC "signed" with it proves nothing."""
    claims = {"iss": ISSUER, "sub": "mallory", "tenant": "hardware", "roles": ["admin"], "exp": 2**35}
    x = issuer.public_jwk()["x"]
    for secret in (x, base64.urlsafe_b64decode(x + "=")):
        token = jwt.encode(claims, secret, algorithm="HS256", headers={"kid": issuer.kid})
        with pytest.raises(Unauthenticated):
            verify(verifier, token)


def test_an_unsigned_token_is_unauthenticated(issuer, verifier):
    token = jwt.encode(
        {"iss": ISSUER, "sub": "mallory", "tenant": "hardware", "roles": ["admin"], "exp": 2**40},
        None,
        algorithm="none",
        headers={"kid": issuer.kid},
    )

    with pytest.raises(Unauthenticated):
        verify(verifier, token)


def test_garbage_is_unauthenticated(verifier):
    for token in ("not.a.jwt", "", "a.b", "e30.e30.e30"):
        with pytest.raises(Unauthenticated):
            verify(verifier, token)


def test_a_tenant_this_release_does_not_serve_is_permission_denied(issuer, verifier):
    token = issuer.mint("furniture", "wu.xiaoyan", ["sales"])

    with pytest.raises(PermissionDenied, match="furniture"):
        verify(verifier, token)


def test_a_token_without_a_tenant_is_unauthenticated(issuer, verifier):
    token = issuer.sign_raw(
        json.dumps({"iss": ISSUER, "sub": "wu.xiaoyan", "roles": ["sales"], "exp": 2**35})
    )

    with pytest.raises(Unauthenticated, match="tenant"):
        verify(verifier, token)


def test_a_token_from_another_issuer_is_unauthenticated(issuer, verifier):
    token = issuer.sign_raw(
        json.dumps({"iss": "someone-else", "sub": "wu", "tenant": "hardware", "exp": 2**35})
    )

    with pytest.raises(Unauthenticated):
        verify(verifier, token)


# --- key rotation -------------------------------------------------------------------------------


def test_a_token_of_a_rotated_in_second_key_is_accepted_without_a_restart(issuer, successor, jwks, verifier):
    old = issuer.mint("hardware", "wu", ["sales"])
    assert verify(verifier, old).user == "wu"
    write_jwks(jwks, issuer, successor)  # the issuer publishes its next key beside the current one

    assert verify(verifier, successor.mint("hardware", "li", ["approver"])).user == "li"
    assert verify(verifier, old).user == "wu"  # the current key still works during the overlap


def test_a_retired_key_stops_working_even_for_tokens_already_seen(issuer, successor, jwks):
    verifier = TokenVerifier(KeySet(str(jwks), max_age_s=0, min_interval_s=0))
    old = issuer.mint("hardware", "wu", ["sales"])
    assert verify(verifier, old).user == "wu"  # now cached
    write_jwks(jwks, successor)
    os.utime(jwks, (1, 1))  # a new mtime even within the file system's time resolution

    with pytest.raises(Unauthenticated, match="does not trust"):
        verify(verifier, old)


def test_keys_from_a_url_are_refetched_for_an_unknown_kid_at_most_once_per_interval(issuer, successor):
    published = {"keys": [issuer.public_jwk()]}
    fetches = []

    def fetch(url: str) -> bytes:
        fetches.append(url)
        return json.dumps(published).encode()

    keys = KeySet(url="https://login.example/jwks.json", fetch=fetch, min_interval_s=0)
    verifier = TokenVerifier(keys)
    published["keys"].append(successor.public_jwk())

    assert verify(verifier, successor.mint("hardware", "li", ["approver"])).user == "li"
    assert len(fetches) == 2
    keys.min_interval_s = 3600  # made-up kids cannot make us hammer the issuer
    for n in range(5):
        with pytest.raises(Unauthenticated):
            verify(verifier, TestIssuer(f"made-up-{n}").mint("hardware", "m", ["admin"]))
    assert len(fetches) == 2


def test_a_failed_refresh_keeps_the_keys_already_known(issuer, jwks):
    verifier = TokenVerifier(KeySet(str(jwks), max_age_s=0, min_interval_s=0))
    jwks.write_text("{ not json")

    assert verify(verifier, issuer.mint("hardware", "wu", ["sales"])).user == "wu"


def test_verification_is_cached_per_token(issuer, verifier, monkeypatch):
    token = issuer.mint("hardware", "wu", ["sales"])
    calls = []
    real_decode = jwt.decode
    monkeypatch.setattr(identity.jwt, "decode", lambda *a, **kw: calls.append(1) or real_decode(*a, **kw))

    for _ in range(100):
        verify(verifier, token)

    assert len(calls) == 1


# --- what a JWKS may hold ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "why"),
    [
        (lambda i: [i.private_jwk], "private"),
        (lambda i: [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}], "symmetric"),
        (lambda i: [{**i.public_jwk(), "kid": ""}], "kid"),
        (lambda i: [{k: v for k, v in i.public_jwk().items() if k != "kid"}], "kid"),
        (lambda i: [i.public_jwk(), i.public_jwk()], "twice"),
        (lambda i: [{**i.public_jwk(), "use": "enc"}], "signing"),
        (lambda i: [], "no keys"),
        (lambda i: "keys", "JWKS"),
    ],
    ids=[
        "private key",
        "symmetric key",
        "empty kid",
        "no kid",
        "duplicate kid",
        "encryption key",
        "empty",
        "not a list",
    ],
)
def test_a_jwks_with_what_a_verifier_must_not_hold_is_refused(issuer, keys, why):
    with pytest.raises(JwksError, match=why):
        parse_jwks(json.dumps({"keys": keys(issuer)}), "jwks.json")


# --- services cannot mint ---------------------------------------------------------------------


def test_services_hold_public_keys_only_and_cannot_mint(jwks, tmp_path):
    """A verifier built from service settings holds public keys alone; no service module but the
    identity service's signs (encodes) a token or imports the issuer; the settings' one place for
    a private key is the identity service's key file."""
    from services.chassis.interceptors import token_verifier

    verifier = token_verifier(Settings(service="order", jwks_file=str(jwks)))
    assert verifier.keys.keys and all(
        isinstance(k.key, Ed25519PublicKey) for k in verifier.keys.keys.values()
    )
    assert not [
        name
        for name in dir(identity)
        if callable(getattr(identity, name)) and any(w in name.lower() for w in ("issue", "mint", "sign"))
    ]
    assert not [f.name for f in dataclasses.fields(Settings) if "secret" in f.name or "private" in f.name]

    signing = []
    identity_service = ROOT / "services" / "identity"
    for path in (ROOT / "services").rglob("*.py"):
        if path.is_relative_to(identity_service):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                ("omsctl", "services.identity")
            ):
                signing.append(f"{path.relative_to(ROOT)}: imports {node.module}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "encode"
                and getattr(node.value, "id", "") == "jwt"
            ):
                signing.append(f"{path.relative_to(ROOT)}:{node.lineno}: jwt.encode")
    assert signing == []


def test_a_jwks_file_with_a_private_key_stops_start_up(issuer, tmp_path):
    from services.chassis.interceptors import token_verifier
    from services.chassis.settings import InvalidSetting

    leaked = tmp_path / "jwks.json"
    leaked.write_text(json.dumps({"keys": [issuer.private_jwk]}))

    with pytest.raises(InvalidSetting, match=r"OMS_JWKS_FILE.*private"):
        token_verifier(Settings(service="order", jwks_file=str(leaked)))


def test_missing_keys_stop_start_up_naming_the_setting(tmp_path):
    from services.chassis.interceptors import token_verifier
    from services.chassis.settings import SettingError

    with pytest.raises(SettingError, match="OMS_JWKS_FILE"):
        token_verifier(Settings(service="order", jwks_file=str(tmp_path / "nowhere.json")))


# --- roles and the caller in context --------------------------------------------------------------


class TestRequire:
    def test_one_matching_role_is_enough(self):
        Identity("hardware", "li", frozenset({"sales", "approver"})).require("approver", "service")

    def test_admin_passes_any_requirement(self):
        Identity("hardware", "root", frozenset({"admin"})).require("approver")

    def test_a_missing_role_is_permission_denied(self):
        with pytest.raises(PermissionDenied, match="approver"):
            Identity("hardware", "wu", frozenset({"sales"})).require("approver")

    def test_no_roles_at_all_is_permission_denied(self):
        with pytest.raises(PermissionDenied):
            Identity("hardware", "anon").require("sales")


def test_acting_as_sets_the_caller_and_its_token_for_the_block_only():
    outer = Identity("hardware", "outer")
    inner = Identity("autoparts", "inner")

    with pytest.raises(Unauthenticated):
        current()
    with acting_as(outer, "outer-token"):
        assert current_token() == "outer-token"
        with acting_as(inner):  # e.g. a consumer: no token of its own, and never the outer one
            assert current() is inner and current_token() == ""
        assert current() is outer and current_token() == "outer-token"
    with pytest.raises(Unauthenticated):
        current()
    assert current_token() == ""


# --- claim shapes -------------------------------------------------------------------------------

GOOD_CLAIMS = {"iss": ISSUER, "sub": "wu.xiaoyan", "tenant": "hardware", "roles": ["sales"], "exp": 2**35}

MALFORMED_CLAIMS = {
    "roles is a number": {"roles": 5},
    "roles is one string": {"roles": "admin"},
    "roles holds objects": {"roles": [{"name": "admin"}]},
    "roles holds lists": {"roles": [["admin"]]},
    "roles holds a number": {"roles": ["sales", 7]},
    "roles holds null": {"roles": [None]},
    "roles is an object": {"roles": {"admin": True}},
    "a role is empty": {"roles": [""]},
    "a role is huge": {"roles": ["r" * 5000]},
    "a role has a control character": {"roles": ["sales\x1b[31m"]},
    "too many roles": {"roles": [f"role-{i}" for i in range(1000)]},
    "sub is a number": {"sub": 5},
    "sub is an object": {"sub": {"name": "wu"}},
    "sub is empty": {"sub": ""},
    "sub is huge": {"sub": "x" * 5000},
    "sub has a NUL": {"sub": "wu\x00xiaoyan"},
    "sub has a C1 control": {"sub": "wu\x85xiaoyan"},
    "sub has a line break": {"sub": "wu\nxiaoyan"},
    "tenant is a list": {"tenant": ["hardware"]},
    "tenant is a number": {"tenant": 1},
    "tenant is empty": {"tenant": ""},
    "tenant has a control character": {"tenant": "hardware\x07"},
    "customer is an object": {"customer": {"id": "c-42"}},
    "customer is a list": {"customer": ["c-42"]},
    "customer is a number": {"customer": 42},
    "customer is null": {"customer": None},
    "customer is empty": {"customer": ""},
    "customer is huge": {"customer": "c" * 5000},
    "customer has a control character": {"customer": "c-42\x7f"},
    "exp is a string": {"exp": "9999999999"},
}


@pytest.mark.parametrize("claims", MALFORMED_CLAIMS.values(), ids=MALFORMED_CLAIMS.keys())
def test_a_signed_token_with_a_malformed_claim_is_unauthenticated(issuer, verifier, claims):
    token = issuer.sign_raw(json.dumps({**GOOD_CLAIMS, **claims}))

    with pytest.raises(Unauthenticated, match="invalid token"):
        verify(verifier, token)


@pytest.mark.parametrize(
    "payload",
    [
        f'{{"iss":"{ISSUER}","sub":"wu","tenant":"hardware","exp":1{"0" * 400}}}',
        f'{{"iss":"{ISSUER}","sub":"wu","tenant":"hardware","exp":Infinity}}',
        f'{{"iss":"{ISSUER}","sub":"wu","tenant":"hardware","exp":NaN}}',
        f'{{"iss":"{ISSUER}","sub":"wu","tenant":"hardware","exp":1e300}}',
        f'{{"iss":"{ISSUER}","sub":"wu","tenant":"hardware","exp":4102444800,"iat":-Infinity}}',
        f'{{"iss":"{ISSUER}","sub":"wu","tenant":"hardware","exp":4102444800,"nbf":1{"0" * 400}}}',
        "[1, 2, 3]",
        '"just a string"',
        "null",
        "{",
    ],
    ids=[
        *("huge exp", "infinite exp", "NaN exp", "exp beyond any date", "infinite iat", "huge nbf"),
        *("array payload", "string payload", "null payload", "broken json"),
    ],
)
def test_a_signed_token_whose_payload_python_json_accepts_but_no_issuer_writes_is_unauthenticated(
    issuer, verifier, payload
):
    with pytest.raises(Unauthenticated, match="invalid token"):
        verify(verifier, issuer.sign_raw(payload))


def test_the_claims_a_real_token_carries_still_pass(issuer, verifier):
    token = issuer.mint("autoparts", "陈丽 (sales)", ["sales", "approver"], customer_id="c-42")

    assert verify(verifier, token) == Identity(
        tenant_id="autoparts", user="陈丽 (sales)", roles=frozenset({"sales", "approver"}), customer_id="c-42"
    )


def test_a_token_without_roles_has_none(issuer, verifier):
    token = issuer.sign_raw(
        json.dumps({"iss": ISSUER, "sub": "wu.xiaoyan", "tenant": "hardware", "exp": 2**35})
    )

    assert verify(verifier, token).roles == frozenset()
