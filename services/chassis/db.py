"""Engines: SQLite file per service by default, PostgreSQL (psycopg 3) by URL."""

from __future__ import annotations

import os
from collections.abc import Callable

from sqlalchemy import Connection, Engine, create_engine, event


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
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)


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

    # Read-only units of work (engine.execution_options(oms_read_only=True)) begin DEFERRED:
    # under WAL they read a snapshot side by side instead of queueing for the write lock.
    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


READ_ONLY = "oms_read_only"


def connector(engine: Engine, *, read_only: bool = False) -> Callable[[], Connection]:
    """Opens Core connections (we map no ORM classes: repositories translate rows themselves)."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return bind.connect


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
