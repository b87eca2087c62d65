"""Password hashes: Argon2id (RFC 9106's low-memory profile, argon2-cffi's default: 64 MiB,
3 passes), each hash carrying its own parameters, so stronger ones can come later and old
hashes still verify (and are re-hashed at the next right sign-in)."""

from __future__ import annotations

import threading

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Each hash takes 64 MiB for ~0.1 s: a burst of sign-ins is let through a few at a time, so it
# queues instead of taking a gigabyte of memory.
_AT_ONCE = threading.BoundedSemaphore(4)


class Passwords:
    def __init__(self, hasher: argon2.PasswordHasher | None = None):
        self._hasher = hasher or argon2.PasswordHasher()
        # Checked against when the user name is unknown, so the answer takes as long either way.
        self._decoy = self.hash("decoy password that matches nothing")

    def hash(self, password: str) -> str:
        with _AT_ONCE:
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with _AT_ONCE:
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
