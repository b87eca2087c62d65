"""Sign-in, sessions and the user directory (services/identity) on SQLite with a controllable
clock: the throttle, refresh-token rotation and reuse, sign-out, disabling, the directory's rules,
and the tokens it issues verified as every service verifies them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import argon2
import jwt
import pytest

from services.chassis.db import make_engine
from services.chassis.errors import (
    AlreadyExists,
    InvalidArgument,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
    VersionConflict,
)
from services.chassis.identity import Identity, KeySet, TokenVerifier
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.identity.adapters.passwords import Passwords
from services.identity.app import definition
from services.identity.domain.model import SessionPolicy, ThrottlePolicy, login_key
from services.identity.service_layer import handlers as h
from tests.unit.keys import TestIssuer, write_jwks

ADMIN = Identity("hardware", "管理员", frozenset({"admin"}))
PASSWORD = "钢板-2026-hinge"


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


class Customers:
    codes = {"MIDEA-SD": "c-midea", "SUPOR-HZ": "c-supor"}

    def id_of(self, code: str) -> str | None:
        return self.codes.get(code)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def issuer():
    return TestIssuer("identity-test")


@pytest.fixture
def deps(tmp_path, clock, issuer):
    engine = make_engine(f"sqlite:///{tmp_path / 'identity.db'}")
    upgrade(definition.migrations_dir, engine)
    yield h.Deps(
        uow=unit_of_work_factory(definition, engine),
        # cheap parameters: the tests are about the rules, not the hash's cost
        passwords=Passwords(argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)),
        issuer=issuer,
        customers=Customers(),
        tenants=frozenset({"hardware", "autoparts"}),
        throttle=ThrottlePolicy(free_attempts=3, first_wait_s=30, max_wait_s=300),
        sessions=SessionPolicy(access_ttl=timedelta(minutes=15), session_ttl=timedelta(hours=12)),
        clock=clock,
    )
    engine.dispose()


def create(deps, user="陈丽", roles=("sales",), customer="", password=PASSWORD, by=ADMIN):
    return h.create_user(h.CreateUser(user, "", list(roles), customer, password), by, deps)


def sign_in(deps, user="陈丽", password=PASSWORD, tenant="hardware"):
    return h.sign_in(h.SignIn(tenant, user, password, "pytest"), deps)


@pytest.fixture
def verify(issuer, tmp_path, monkeypatch):
    """Checks a token as every service does, at a given time."""
    verifier = TokenVerifier(KeySet(str(write_jwks(tmp_path / "jwks.json", issuer))))

    def check(token: str, at: datetime) -> Identity:
        with monkeypatch.context() as m:
            m.setattr(time, "time", lambda: at.timestamp())
            return verifier.verify(token, {"hardware", "autoparts"})

    return check


# --- signing in ----------------------------------------------------------------------------------


def test_a_right_password_issues_tokens_the_services_accept(deps, verify, clock):
    create(deps)
    issued = sign_in(deps)
    caller = verify(issued.access_token, clock.now)
    assert (caller.tenant_id, caller.user, caller.roles, caller.customer_id) == (
        "hardware",
        "陈丽",
        frozenset({"sales"}),
        "",
    )
    assert issued.access_expires_at == clock.now + timedelta(minutes=15)
    assert issued.session_expires_at == clock.now + timedelta(hours=12)
    assert issued.user.last_sign_in_at == clock.now
    with pytest.raises(Unauthenticated, match="expired"):
        verify(issued.access_token, clock.now + timedelta(minutes=15, seconds=1))


def test_a_portal_account_token_names_its_customer(deps, verify, clock):
    create(deps, "美的采购", ["customer"], "MIDEA-SD")
    caller = verify(sign_in(deps, "美的采购").access_token, clock.now)
    assert caller.customer_id == "c-midea" and caller.roles == {"customer"}


@pytest.mark.parametrize(
    "tenant, user, password",
    [
        ("hardware", "陈丽", "wrong password"),
        ("hardware", "不存在", PASSWORD),
        ("autoparts", "陈丽", PASSWORD),  # another business line's directory
        ("no-such-line", "陈丽", PASSWORD),
    ],
)
def test_every_wrong_sign_in_answers_the_same(deps, tenant, user, password):
    create(deps)
    with pytest.raises(Unauthenticated) as refused:
        sign_in(deps, user, password, tenant)
    assert str(refused.value) == h.WRONG


def test_the_name_is_matched_by_its_canonical_form(deps):
    create(deps, "WangLi")
    assert sign_in(deps, "ｗａｎｇｌｉ ").user.user == "WangLi"  # full-width, other case, a space
    with pytest.raises(AlreadyExists):
        create(deps, "wangli")


def test_wrong_passwords_are_throttled_then_a_right_one_resets_the_count(deps, clock):
    create(deps)
    for _ in range(3):  # the free attempts
        with pytest.raises(Unauthenticated):
            sign_in(deps, password="guess")
    with pytest.raises(TooManyAttempts) as waiting:
        sign_in(deps)  # even the right password waits
    assert waiting.value.retry_after_s == 30
    clock.advance(seconds=30)
    with pytest.raises(Unauthenticated):
        sign_in(deps, password="guess again")
    with pytest.raises(TooManyAttempts) as waiting:
        sign_in(deps)
    assert waiting.value.retry_after_s == 60  # doubled
    clock.advance(seconds=60)
    sign_in(deps)
    for _ in range(3):  # counted afresh after a right password
        with pytest.raises(Unauthenticated):
            sign_in(deps, password="guess")


def test_unknown_names_are_throttled_alike(deps):
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            sign_in(deps, "不存在")
    with pytest.raises(TooManyAttempts):
        sign_in(deps, "不存在")


def test_the_throttle_is_per_name_and_per_tenant(deps):
    create(deps)
    create(deps, "周强")
    create(deps, "陈丽", by=Identity("autoparts", "管理员", frozenset({"admin"})))
    for _ in range(4):
        with pytest.raises((Unauthenticated, TooManyAttempts)):
            sign_in(deps, password="guess")
    sign_in(deps, "周强")
    sign_in(deps, "陈丽", tenant="autoparts")


def test_an_administrator_reset_lifts_the_wait(deps):
    create(deps)
    for _ in range(4):
        with pytest.raises((Unauthenticated, TooManyAttempts)):
            sign_in(deps, password="guess")
    h.reset_password("陈丽", "新密码-2026-11", ADMIN, deps)
    sign_in(deps, password="新密码-2026-11")


def test_a_disabled_account_cannot_sign_in_or_refresh(deps, clock):
    create(deps)
    issued = sign_in(deps)
    h.update_user(h.UpdateUser("陈丽", "", ["sales"], True, 0), ADMIN, deps)
    with pytest.raises(Unauthenticated, match="disabled"):
        sign_in(deps)
    with pytest.raises(Unauthenticated):
        h.refresh(issued.refresh_token, deps)


# --- sessions ------------------------------------------------------------------------------------


def test_a_refresh_token_works_once_and_its_reuse_ends_the_session(deps, clock):
    create(deps)
    first = sign_in(deps)
    clock.advance(minutes=14)
    second = h.refresh(first.refresh_token, deps)
    assert second.refresh_token and second.refresh_token != first.refresh_token
    claims = jwt.decode(second.access_token, options={"verify_signature": False})
    assert (claims["sub"], claims["exp"] - claims["iat"]) == ("陈丽", 900)
    assert second.access_expires_at == clock.now + timedelta(minutes=15)

    clock.advance(seconds=10)  # a second tab sent the old token at the same time: access only
    racing = h.refresh(first.refresh_token, deps)
    assert racing.refresh_token == "" and racing.access_token

    clock.advance(minutes=5)  # long after: the old token was copied; the session ends
    with pytest.raises(Unauthenticated, match="already used"):
        h.refresh(first.refresh_token, deps)
    with pytest.raises(Unauthenticated, match="ended"):
        h.refresh(second.refresh_token, deps)


def test_a_forged_secret_ends_nothing_it_cannot_name_and_is_refused(deps):
    create(deps)
    issued = sign_in(deps)
    session_id = issued.refresh_token.split(".")[0]
    for forged in ("not-a-token", "x.y", f"{session_id}", "00000000-0000-0000-0000-000000000000.abc"):
        with pytest.raises(Unauthenticated):
            h.refresh(forged, deps)
    h.refresh(issued.refresh_token, deps)  # the real one still works


def test_a_session_ends_after_its_time_however_often_refreshed(deps, clock):
    create(deps)
    token = sign_in(deps).refresh_token
    for _ in range(47):
        clock.advance(minutes=15)
        token = h.refresh(token, deps).refresh_token
    clock.advance(minutes=14)
    last = h.refresh(token, deps)
    assert last.access_expires_at == last.session_expires_at  # never past the session's end
    clock.advance(minutes=2)
    with pytest.raises(Unauthenticated, match="ended or expired"):
        h.refresh(last.refresh_token, deps)


def test_sign_out_ends_the_session_and_answers_alike_for_anything(deps):
    create(deps)
    issued = sign_in(deps)
    h.sign_out(issued.refresh_token, deps)
    h.sign_out(issued.refresh_token, deps)  # again: no error
    h.sign_out("00000000-0000-0000-0000-000000000000.abc", deps)
    with pytest.raises(Unauthenticated):
        h.refresh(issued.refresh_token, deps)


def test_changing_ones_password_needs_the_current_one_and_ends_the_sessions(deps):
    create(deps)
    issued = sign_in(deps)
    me = Identity("hardware", "陈丽", frozenset({"sales"}))
    with pytest.raises(InvalidArgument, match="current_password"):
        h.change_password(me, "wrong", "另一个密码-2026", deps)
    with pytest.raises(InvalidArgument, match="new_password"):
        h.change_password(me, PASSWORD, "short", deps)
    h.change_password(me, PASSWORD, "另一个密码-2026", deps)
    with pytest.raises(Unauthenticated):
        h.refresh(issued.refresh_token, deps)
    with pytest.raises(Unauthenticated):
        sign_in(deps)
    sign_in(deps, password="另一个密码-2026")


# --- the directory -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "roles, customer, field",
    [
        (["sales", "wizard"], "", "roles"),
        (["service"], "", "roles"),  # services act on their own; no person holds it
        (["customer", "sales"], "MIDEA-SD", "roles"),
        (["customer"], "", "customer_code"),
        (["sales"], "MIDEA-SD", "customer_code"),
        (["customer"], "NO-SUCH", "customer_code"),
    ],
)
def test_roles_and_customers_are_checked(deps, roles, customer, field):
    with pytest.raises(InvalidArgument) as refused:
        create(deps, "新用户", roles, customer)
    assert [v.field for v in refused.value.violations] == [field]


@pytest.mark.parametrize(
    "user, password",
    [("新用户", "short"), ("采购部王经理2026", "采购部王经理2026"), ("WangJingli2026", " wangjingli2026 ")],
)
def test_weak_passwords_are_refused(deps, user, password):
    with pytest.raises(InvalidArgument) as refused:
        create(deps, user, password=password)
    assert [v.field for v in refused.value.violations] == ["password"]


def test_names_blank_or_padded_are_refused(deps):
    for name in ("   ", " 陈丽"):
        with pytest.raises(InvalidArgument):
            create(deps, name)


def test_updates_keep_who_and_when_and_check_the_version(deps, clock):
    created = create(deps)
    assert (created.created_by, created.version) == ("管理员", 1)
    clock.advance(hours=1)
    changed = h.update_user(h.UpdateUser("陈丽", "陈丽 (销售)", ["sales", "approver"], False, 1), ADMIN, deps)
    assert (changed.version, changed.updated_by, changed.updated_at) == (2, "管理员", clock.now)
    assert changed.roles == {"sales", "approver"}
    with pytest.raises(VersionConflict):
        h.update_user(h.UpdateUser("陈丽", "", ["sales"], False, 1), ADMIN, deps)


def test_a_portal_account_stays_a_portal_account(deps):
    create(deps, "美的采购", ["customer"], "MIDEA-SD")
    with pytest.raises(InvalidArgument):
        h.update_user(h.UpdateUser("美的采购", "", ["sales"], False, 0), ADMIN, deps)


def test_an_administrator_cannot_lock_themselves_out(deps):
    create(deps, "管理员", ["admin"])
    with pytest.raises(InvalidArgument):
        h.update_user(h.UpdateUser("管理员", "", ["admin"], True, 0), ADMIN, deps)
    with pytest.raises(InvalidArgument):
        h.update_user(h.UpdateUser("管理员", "", ["sales"], False, 0), ADMIN, deps)


def test_the_directory_is_per_tenant_and_stores_no_password(deps):
    create(deps)
    create(deps, "美的采购", ["customer"], "MIDEA-SD")
    create(deps, "吴晓燕", by=Identity("autoparts", "管理员", frozenset({"admin"})))
    listed = h.list_users(ADMIN, "", "", deps)
    assert sorted(u.user for u in listed) == ["美的采购", "陈丽"]
    assert [u.user for u in h.list_users(ADMIN, "", "MIDEA-SD", deps)] == ["美的采购"]
    assert all(PASSWORD not in u.password_hash and u.password_hash.startswith("$argon2id$") for u in listed)


def test_login_key_folds_width_and_case():
    assert login_key("ＷａｎｇＬｉ ") == login_key("wangli") == "wangli"


def test_too_busy_to_check_answers_unavailable_and_does_not_count_the_attempt(deps, monkeypatch):
    from services.identity.adapters import passwords

    create(deps)
    monkeypatch.setattr(passwords, "WAIT_S", 0.01)
    held = [passwords._AT_ONCE.acquire() for _ in range(4)]  # four sign-ins being checked
    try:
        for _ in range(5):
            with pytest.raises(Unavailable):
                sign_in(deps, password="guess")
    finally:
        for _ in held:
            passwords._AT_ONCE.release()
    for _ in range(3):  # still the three free attempts: the busy ones were never made
        with pytest.raises(Unauthenticated):
            sign_in(deps, password="guess")
    with pytest.raises(TooManyAttempts):
        sign_in(deps)
