"""Errors a domain may raise. Plain Python, no gRPC import: the chassis interceptor maps them to
gRPC status codes with one table (`services.chassis.interceptors.STATUS_OF`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error a service means to show its caller."""


class InvalidArgument(DomainError):
    def __init__(self, message: str, violations: list[FieldViolation] | None = None):
        super().__init__(message)
        self.violations = violations or []


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class FailedPrecondition(DomainError):
    """The request is well formed but the current state forbids it (e.g. approving twice)."""


class VersionConflict(DomainError):
    """Optimistic concurrency: the caller saw an older version."""


class PermissionDenied(DomainError):
    pass


class Unauthenticated(DomainError):
    pass


class TooManyAttempts(DomainError):
    """The caller must wait before trying again (failed sign-ins): `retry_after_s` says how long."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(DomainError):
    """A dependency (another service, the WMS) did not answer; the caller may retry."""


class Internal(DomainError):
    """Another service failed in a way no retry fixes (its INTERNAL): said as such, so a careful
    client does not retry a call that cannot succeed."""


class Duplicate(AlreadyExists):
    """The database already holds a row with this key (a unique constraint, named in
    `constraint`): translated by the adapters, so no service layer sees a driver's exception."""

    def __init__(self, message: str, constraint: str = ""):
        super().__init__(message)
        self.constraint = constraint


class Conflict(DomainError):
    """The database refused a change because of another row (a foreign key, a check): a
    concurrent change got there first; reload and try again."""


class DeadlineExceeded(Unavailable):
    """The caller's deadline ran out (here or at a peer the call passed on to)."""
