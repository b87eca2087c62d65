"""Password hashes: Argon2id (RFC 9106's low-memory profile, argon2-cffi's default: 64 MiB,
3 passes), each hash carrying its own parameters, so stronger ones can come later and old
hashes still verify (and are re-hashed at the next right sign-in)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.chassis.errors import Unavailable

# Each hash takes 64 MiB for ~0.1 s: a burst of sign-ins is let through a few at a time, so it
# queues instead of taking a gigabyte of memory; one that would queue longer than WAIT_S is
# turned away (UNAVAILABLE, try again) rather than holding a server thread that refreshes and
# every other call also need.
_AT_ONCE = threading.BoundedSemaphore(4)
WAIT_S = 3.0


@contextmanager
def _turn() -> Iterator[None]:
    if not _AT_ONCE.acquire(timeout=WAIT_S):
        raise Unavailable("登录繁忙 sign-in is busy right now; try again in a moment")
    try:
        yield
    finally:
        _AT_ONCE.release()


class Passwords:
    def __init__(self, hasher: argon2.PasswordHasher | None = None):
        self._hasher = hasher or argon2.PasswordHasher()
        # Checked against when the user name is unknown, so the answer takes as long either way.
        self._decoy = self.hash("decoy password that matches nothing")

    def hash(self, password: str) -> str:
        with _turn():
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with _turn():
            try:
                return self._hasher.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def waste_time(self, password: str) -> None:
        self.verify(self._decoy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
