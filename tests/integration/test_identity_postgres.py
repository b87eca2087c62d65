"""Sign-in on PostgreSQL: parallel guesses at one name each count before any password is checked
(the attempts row is locked while an attempt is counted), so no more than the free attempts are
ever checked however many arrive at once; and two administrators updating one user at once do
not both win."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import argon2
import pytest

from services.chassis.db import make_engine
from services.chassis.errors import TooManyAttempts, Unauthenticated, VersionConflict
from services.chassis.identity import Identity
from services.chassis.migrations import upgrade
from services.chassis.runtime import unit_of_work_factory
from services.identity.adapters.passwords import Passwords
from services.identity.app import definition
from services.identity.domain.model import ThrottlePolicy
from services.identity.service_layer import handlers as h
from tests.unit.keys import TestIssuer

pytestmark = pytest.mark.integration
ADMIN = Identity("hardware", "管理员", frozenset({"admin"}))


class NoCustomers:
    def id_of(self, code: str) -> None:
        return None


@pytest.fixture
def deps(fresh_database):
    engine = make_engine(fresh_database("identity"))
    upgrade(definition.migrations_dir, engine)
    yield h.Deps(
        uow=unit_of_work_factory(definition, engine),
        # the real profile's memory, fewer passes: checks take long enough for guesses to overlap
        passwords=Passwords(argon2.PasswordHasher(time_cost=1)),
        issuer=TestIssuer("pg"),
        customers=NoCustomers(),
        tenants={"hardware"},
        throttle=ThrottlePolicy(free_attempts=5),
    )
    engine.dispose()


def test_parallel_guesses_are_each_counted_before_any_is_checked(deps):
    h.create_user(h.CreateUser("陈丽", "", ["sales"], "", "钢板-2026-hinge"), ADMIN, deps)
    start = threading.Barrier(16)

    def guess(n: int) -> str:
        start.wait()
        try:
            h.sign_in(h.SignIn("hardware", "陈丽", f"guess-{n}"), deps)
        except Unauthenticated:
            return "checked"
        except TooManyAttempts:
            return "waited"
        return "signed in"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(guess, range(16)))
    assert sorted(outcomes) == ["checked"] * 5 + ["waited"] * 11


def test_two_administrators_changing_one_user_do_not_both_win(deps):
    h.create_user(h.CreateUser("周强", "", ["sales"], "", "钢板-2026-hinge"), ADMIN, deps)
    start = threading.Barrier(2)

    def change(roles: list[str]) -> str:
        start.wait()
        try:
            h.update_user(h.UpdateUser("周强", "", roles, False, 1), ADMIN, deps)
        except VersionConflict:
            return "conflict"
        return "changed"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(change, (["sales", "approver"], ["planner"])))
    assert outcomes == ["changed", "conflict"]
