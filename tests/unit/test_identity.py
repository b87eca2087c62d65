"""Who is calling: signed tokens, tenants served, roles; every claim of a signed token is checked
for type and size (a malformed one is UNAUTHENTICATED, never an internal error)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt
import pytest

from services.chassis.errors import PermissionDenied, Unauthenticated
from services.chassis.identity import (
    ALGORITHM,
    ISSUER,
    Identity,
    acting_as,
    current,
    issue_token,
    verify_token,
)

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
SERVED = ("hardware", "autoparts")


def test_a_token_round_trips_to_the_same_identity():
    token = issue_token(SECRET, "hardware", "wu.xiaoyan", ["sales", "approver"])

    assert verify_token(SECRET, token, SERVED) == Identity(
        tenant_id="hardware", user="wu.xiaoyan", roles=frozenset({"sales", "approver"}), customer_id=""
    )


def test_a_portal_token_carries_its_customer():
    token = issue_token(SECRET, "autoparts", "geely.buyer", ["customer"], customer_id="c-42")

    assert verify_token(SECRET, token, SERVED).customer_id == "c-42"


def test_an_expired_token_is_unauthenticated():
    token = issue_token(SECRET, "hardware", "wu.xiaoyan", ["sales"], ttl_s=-10)

    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(SECRET, token, SERVED)


def test_a_token_signed_with_another_secret_is_unauthenticated():
    token = issue_token("another-secret-also-long-enough-for-hs256!", "hardware", "mallory", ["admin"])

    with pytest.raises(Unauthenticated):
        verify_token(SECRET, token, SERVED)


def test_garbage_is_unauthenticated():
    with pytest.raises(Unauthenticated):
        verify_token(SECRET, "not.a.jwt", SERVED)


def test_a_tenant_this_release_does_not_serve_is_permission_denied():
    token = issue_token(SECRET, "furniture", "wu.xiaoyan", ["sales"])

    with pytest.raises(PermissionDenied, match="furniture"):
        verify_token(SECRET, token, SERVED)


def _signed(claims: dict) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 60, **claims}, SECRET, algorithm=ALGORITHM)


def test_a_token_without_a_tenant_is_unauthenticated():
    token = _signed({"iss": ISSUER, "sub": "wu.xiaoyan", "roles": ["sales"]})

    with pytest.raises(Unauthenticated, match="tenant"):
        verify_token(SECRET, token, SERVED)


def test_a_token_from_another_issuer_is_unauthenticated():
    token = _signed({"iss": "someone-else", "sub": "wu.xiaoyan", "tenant": "hardware"})

    with pytest.raises(Unauthenticated):
        verify_token(SECRET, token, SERVED)


def test_an_unsigned_token_is_unauthenticated():
    token = jwt.encode(
        {"iss": ISSUER, "sub": "mallory", "tenant": "hardware", "roles": ["admin"], "exp": 2**40},
        None,
        algorithm="none",
    )

    with pytest.raises(Unauthenticated):
        verify_token(SECRET, token, SERVED)


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


def test_acting_as_sets_the_caller_for_the_block_only():
    outer = Identity("hardware", "outer")
    inner = Identity("autoparts", "inner")

    with pytest.raises(Unauthenticated):
        current()
    with acting_as(outer):
        with acting_as(inner):
            assert current() is inner
        assert current() is outer
    with pytest.raises(Unauthenticated):
        current()


def _forged(payload: str, secret: str = SECRET) -> str:
    """A correctly signed HS256 token around a raw JSON payload (any JSON, even what PyJWT's
    encoder would never write: Infinity, 400-digit numbers, duplicate keys)."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(payload.encode())
    signature = b64(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


GOOD_CLAIMS = {"iss": ISSUER, "sub": "wu.xiaoyan", "tenant": "hardware", "roles": ["sales"]}

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
def test_a_signed_token_with_a_malformed_claim_is_unauthenticated(claims):
    token = _signed({**GOOD_CLAIMS, **claims})

    with pytest.raises(Unauthenticated, match="invalid token"):
        verify_token(SECRET, token, SERVED)


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
def test_a_signed_token_whose_payload_python_json_accepts_but_no_issuer_writes_is_unauthenticated(payload):
    with pytest.raises(Unauthenticated, match="invalid token"):
        verify_token(SECRET, _forged(payload), SERVED)


def test_the_claims_a_real_token_carries_still_pass():
    token = issue_token(SECRET, "autoparts", "陈丽 (sales)", ["sales", "approver"], customer_id="c-42")

    assert verify_token(SECRET, token, SERVED) == Identity(
        tenant_id="autoparts", user="陈丽 (sales)", roles=frozenset({"sales", "approver"}), customer_id="c-42"
    )


def test_a_token_without_roles_has_none():
    token = _signed({"iss": ISSUER, "sub": "wu.xiaoyan", "tenant": "hardware"})

    assert verify_token(SECRET, token, SERVED).roles == frozenset()
