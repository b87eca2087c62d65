"""SQLite writers of one process queue on an in-process lock (services/chassis/db.py): it is
released however the transaction ends, and never hides the driver's own error."""

from __future__ import annotations

import threading

import pytest

from services.chassis import db


@pytest.fixture
def engine(tmp_path):
    e = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with e.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (x)")
    yield e
    e.dispose()


def write_in_another_thread(engine) -> bool:
    done: list[int] = []

    def write() -> None:
        with engine.begin() as c:
            c.exec_driver_sql("INSERT INTO t VALUES (2)")
        done.append(1)

    t = threading.Thread(target=write)
    t.start()
    t.join(10)
    return bool(done)


def test_a_connection_lost_mid_write_is_retryable_and_frees_the_next_writer(engine):
    with pytest.raises(Exception) as caught, engine.begin() as c:
        c.exec_driver_sql("INSERT INTO t VALUES (1)")
        c.connection.dbapi_connection.close()  # the file handle is gone under the transaction
        c.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert db.is_transient(caught.value), repr(caught.value)  # UNAVAILABLE, not INTERNAL
    assert write_in_another_thread(engine)


def test_a_failed_write_rolls_back_and_frees_the_next_writer(engine):
    with pytest.raises(ZeroDivisionError), engine.begin() as c:
        c.exec_driver_sql("INSERT INTO t VALUES (1)")
        1 / 0  # noqa: B018 - a handler failing inside its transaction
    assert write_in_another_thread(engine)
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT x FROM t").scalars().all() == [2]
