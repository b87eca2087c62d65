"""Who is calling: signed tokens, tenants served, roles."""

from __future__ import annotations

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
