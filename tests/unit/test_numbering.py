"""Running numbers reserved outside the caller's transaction, in blocks that grow under load."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import MetaData, select

from services.chassis.db import make_engine
from services.chassis.identity import Identity, acting_as
from services.chassis.numbering import MAX_BLOCK, NumberBlocks
from services.chassis.tables import add_chassis_tables

HARDWARE = Identity("hardware", "陈丽", frozenset({"sales"}))
AUTOPARTS = Identity("autoparts", "吴晓燕", frozenset({"sales"}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table_and_engine(tmp_path):
    metadata = MetaData()
    add_chassis_tables(metadata)
    engine = make_engine(f"sqlite:///{tmp_path / 'numbers.db'}")
    metadata.create_all(engine)
    yield metadata.tables["number_sequences"], engine
    engine.dispose()


def counter(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(table.c.value).where(table.c.tenant_id == "hardware")).scalar_one()


def test_orders_trickling_in_take_one_number_at_a_time(table_and_engine):
    table, engine = table_and_engine
    clock = Clock()
    numbers = NumberBlocks(engine, table, clock)
    with acting_as(HARDWARE):
        taken = []
        for _ in range(3):
            taken.append(numbers.next("order", "20261125"))
            clock.now += 60  # a minute between orders
    assert taken == [1, 2, 3]
    assert counter(engine, table) == 3  # nothing reserved beyond what was used: no gap on restart


def test_a_burst_reserves_growing_blocks_and_numbers_stay_consecutive(table_and_engine):
    table, engine = table_and_engine
    numbers = NumberBlocks(engine, table, Clock())  # the clock stands still: everything is a burst
    with acting_as(HARDWARE):
        taken = [numbers.next("order", "20261125") for _ in range(100)]
    assert taken == list(range(1, 101))
    reserved = counter(engine, table)
    assert 100 <= reserved < 100 + MAX_BLOCK  # at most one block's rest unused
    assert reserved < 200  # blocks, not a round trip per number... and not unbounded


def test_a_number_given_back_is_the_next_one_handed_out(table_and_engine):
    table, engine = table_and_engine
    numbers = NumberBlocks(engine, table, Clock())
    with acting_as(HARDWARE):
        first = numbers.next("order", "20261125")
        numbers.give_back("order", "20261125", first)
        assert numbers.next("order", "20261125") == first
        assert numbers.next("order", "20261125") == first + 1


def test_tenants_and_days_count_separately(table_and_engine):
    table, engine = table_and_engine
    numbers = NumberBlocks(engine, table, Clock())
    with acting_as(HARDWARE):
        assert [numbers.next("order", "20261125") for _ in range(2)] == [1, 2]
        assert numbers.next("order", "20261126") == 1
    with acting_as(AUTOPARTS):
        assert numbers.next("order", "20261126") == 1


def test_two_processes_on_one_database_never_hand_out_the_same_number(table_and_engine):
    table, engine = table_and_engine
    replicas = [NumberBlocks(engine, table), NumberBlocks(engine, table)]
    taken: list[int] = []
    lock = threading.Lock()

    def take(replica: NumberBlocks) -> None:
        with acting_as(HARDWARE):
            for _ in range(50):
                n = replica.next("order", "20261125")
                with lock:
                    taken.append(n)

    threads = [threading.Thread(target=take, args=(replicas[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == len(set(taken)) == 400
