"""Engines: SQLite file per service by default, PostgreSQL (psycopg 3) by URL."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from services.chassis.errors import Conflict, Duplicate


def insert_for(bind: Connection | Engine, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that takes ON CONFLICT clauses, in the bound database's dialect (PostgreSQL in
    production, SQLite in the embedded stack; both spell the clause the same way)."""
    dialect = bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # Room for every gRPC worker thread: a connection opened past the pool is closed after
        # use, and each new SQLite connection pays its PRAGMAs again.
        pool = {"pool_size": 32, "max_overflow": 8} if path and path != ":memory:" else {}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        _serialise_sqlite_writers(engine)
        translate_integrity_errors(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pre-ping: it cost a round trip per checkout. A connection found dead when used fails
    # that one call as UNAVAILABLE (db.is_transient), and SQLAlchemy then drops every pooled
    # connection older than the failure, so the next calls get fresh ones.
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2)
    translate_integrity_errors(engine)
    return engine


def translate_integrity_errors(engine: Engine) -> None:
    """Constraint violations leave the adapters as domain errors (Duplicate, Conflict), so the
    service layer never imports SQLAlchemy to catch a driver's exception."""
    if not event.contains(engine, "handle_error", _translate_integrity_error):
        event.listen(engine, "handle_error", _translate_integrity_error)


def _translate_integrity_error(ctx) -> None:
    error = ctx.sqlalchemy_exception
    if not isinstance(error, sa_exc.IntegrityError):
        return
    orig: BaseException = error.orig or error
    constraint = _constraint_name(orig)
    text = str(orig)
    first_line = text.splitlines()[0][:200] if text else type(orig).__name__
    if getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in text:
        raise Duplicate(f"already stored ({constraint or first_line})", constraint) from error
    raise Conflict(f"the database refused the change: {first_line}") from error


def _constraint_name(orig: BaseException) -> str:
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None) if diag is not None else None
    if name:
        return str(name)
    match = re.search(r"UNIQUE constraint failed: ([\w., ]+)", str(orig))
    return match.group(1) if match else ""


def _serialise_sqlite_writers(engine: Engine) -> None:
    # SQLite upgrades a deferred read transaction to a write lock late and then fails with
    # "database is locked"; BEGIN IMMEDIATE takes the lock up front and waits for it instead.
    # WAL lets readers go on while one writer works.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    # Writers of this process queue on a lock of ours before BEGIN IMMEDIATE: a waiting thread
    # wakes the moment the writer before it ends. Left to SQLite, waiters poll with sleeps of up
    # to 100 ms (its busy handler): at 32 clients, 94% of CreateOrder's time and a p99 of 85x p50.
    # Other processes on the same file are still arbitrated by SQLite's own lock and timeout.
    writers = threading.Lock()

    # Read-only units of work (engine.execution_options(oms_read_only=True)) begin DEFERRED:
    # under WAL they read a snapshot side by side instead of queueing for the write lock.
    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        if not writers.acquire(timeout=WRITER_WAIT_S):  # as SQLite's own timeout would: retryable
            raise sa_exc.OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        conn.info[_HOLDS_WRITE_LOCK] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    def _release(info: dict) -> None:
        if info.pop(_HOLDS_WRITE_LOCK, False):
            writers.release()

    # The transaction ends by commit or rollback; a connection returned to the pool with neither
    # (a failure inside the driver, an invalidated connection, whose `info` cannot be read then
    # without hiding the driver's error) is reset by the pool, and checkin releases the lock.
    def _on_end(conn) -> None:
        if not conn.invalidated:
            _release(conn.info)

    event.listen(engine, "commit", _on_end)
    event.listen(engine, "rollback", _on_end)
    event.listen(engine, "checkin", lambda _dbapi, record: _release(record.info))


READ_ONLY = "oms_read_only"
_HOLDS_WRITE_LOCK = "oms_holds_write_lock"
WRITER_WAIT_S = 30.0  # as long as SQLite's own busy timeout (connect_args above)


def connector(engine: Engine, *, read_only: bool = False) -> Callable[[], Connection]:
    """Opens Core connections (we map no ORM classes: repositories translate rows themselves)."""
    translate_integrity_errors(engine)  # however the engine was made: units of work see domain errors
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return bind.connect


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


# PostgreSQL SQLSTATE classes that say "the database is not there right now", not "this request
# is wrong": connection exceptions (08), insufficient resources (53), operator intervention
# (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now), and transaction
# rollbacks a retry resolves (40001 serialization failure, 40P01 deadlock).
_TRANSIENT_SQLSTATES = ("08", "53", "57P", "40001", "40P01")
# SQLite's "database is locked" / "busy" (a writer held the lock past our timeout).
_TRANSIENT_SQLITE = ("database is locked", "database is busy", "unable to open database")


def is_transient(exc: BaseException) -> bool:
    """A storage failure a caller may retry in a moment (→ UNAVAILABLE), as opposed to a bug."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_TRANSIENT_SQLSTATES)
    if isinstance(exc, sa_exc.OperationalError):
        # psycopg raises OperationalError without a SQLSTATE when it cannot connect at all.
        message = str(exc.orig).lower()
        return sqlstate is None and (
            "sqlite" not in type(exc.orig).__module__ or any(s in message for s in _TRANSIENT_SQLITE)
        )
    return False


def is_bad_value(exc: BaseException) -> bool:
    """The database refused a value as such (too long, out of range, a NUL byte): the caller's
    input got past the field rules, and is still the caller's to fix (→ INVALID_ARGUMENT)."""
    return isinstance(exc, sa_exc.DataError)
