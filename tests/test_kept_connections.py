"""A thread's write Connection, kept from one unit of work to its next on a SQLite file
(engine/store/kept_connections.py): the pool lends it once for a thread's units; kept, it holds no lock and
another writer goes ahead; a unit that failed does not keep its Connection, one whose commit failed drops it
(the pool would lend it inside the transaction SQLite left open); no more than KEPT_MAX are kept; a thread that
ends, and `Database.dispose`, close theirs; a forked child never uses its parent's, nor its parent's pooled
connections (engine/store/db.py). On PostgreSQL every unit takes a Connection from the pool and gives it back."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from engine.run.unit import write_session
from engine.store import driver_sql
from engine.store.db import Database
from engine.store.kept_connections import KEPT_MAX
from engine.store.models import User
from tests.support.listening import listening
from tests.support.sqlite_locks import write_lock_taken


def _rename(db: Database, name: str, fail: bool = False):
    """One unit of work on `db` renaming agent1; the unit's Connection."""
    with write_session(db) as session:
        connection = driver_sql.connection_of(session)
        connection.execute(update(User).where(User.username == "agent1").values(display_name=name))
        if fail:
            raise RuntimeError("the unit fails after its statement")
    return connection


def _name(db: Database) -> str:
    with db.read() as session:
        return session.execute(select(User.display_name).where(User.username == "agent1")).scalar_one()


def _lent(db: Database) -> int:
    return db.engine.pool.checkedout()


@pytest.mark.both_databases
def test_a_threads_units_take_one_connection_from_the_pool_on_sqlite_and_one_each_elsewhere(runtime):
    db = runtime.db
    checkouts: list[object] = []
    with listening(db.engine, checkout=lambda dbapi, record, proxy: checkouts.append(dbapi)):
        connections = [_rename(db, name) for name in ("one", "two", "three")]
    assert _name(db) == "three"
    if db.is_sqlite:
        assert len(checkouts) == 1 and connections[0] is connections[1] is connections[2]
        assert db.kept_connections.count == 1 and _lent(db) == 1 and not connections[2].in_transaction()
    else:
        assert db.kept_connections is None
        assert len(checkouts) == 3 and _lent(db) == 0 and all(c.closed for c in connections)


def test_a_kept_connection_holds_no_lock_and_another_writer_goes_ahead(runtime):
    db = runtime.db
    kept = _rename(db, "kept")
    assert db.kept_connections.count == 1 and not write_lock_taken(db.engine.url.database)
    other = Database(str(db.engine.url))
    try:
        _rename(other, "by another database")
        assert _name(db) == "by another database"
    finally:
        other.dispose()
    assert _rename(db, "after it") is kept and _name(db) == "after it"


def test_a_unit_that_failed_closes_its_connection_and_the_next_unit_takes_a_new_one(runtime):
    db = runtime.db
    first = _rename(db, "committed")
    with pytest.raises(RuntimeError, match="fails after"):
        _rename(db, "never written", fail=True)
    assert first.closed and db.kept_connections.count == 0 and _lent(db) == 0
    assert _name(db) == "committed"
    third = _rename(db, "again")
    assert third is not first and db.kept_connections.count == 1 and _name(db) == "again"


def test_a_commit_that_failed_drops_its_connection_and_the_pool_lends_a_clean_one_after(runtime, monkeypatch):
    """Not kept, nor given back to the pool inside the transaction SQLite left open: the next read begins."""
    db = runtime.db

    def failing(dialect, dbapi_connection):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(type(db.engine.dialect), "do_commit", failing)
    with pytest.raises(OperationalError, match="disk I/O error"):
        _rename(db, "not committed")
    monkeypatch.undo()
    assert db.kept_connections.count == 0 and _lent(db) == 0
    assert _name(db) != "not committed"


def test_a_thread_that_ends_closes_the_connection_it_kept(runtime):
    db = runtime.db
    found: list = []
    thread = threading.Thread(target=lambda: found.append(_rename(db, "in a thread")))
    thread.start()
    thread.join()
    assert found[0].closed and db.kept_connections.count == 0 and _lent(db) == 0
    assert _name(db) == "in a thread"


def _threads_that_wrote(db: Database, count: int) -> tuple[list, threading.Event, list[threading.Thread]]:
    """`count` live threads that each ran a unit (one after another) and wait for `done` to be set."""
    connections: list = []
    done = threading.Event()
    wrote = [threading.Event() for _ in range(count)]

    def work(i: int) -> None:
        connections.append(_rename(db, f"thread {i}"))
        wrote[i].set()
        done.wait(30)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread, event in zip(threads, wrote, strict=True):
        thread.start()
        assert event.wait(30)
    return connections, done, threads


def test_no_more_than_the_limit_are_kept_and_the_rest_go_back_to_the_pool(runtime):
    db = runtime.db
    connections, done, threads = _threads_that_wrote(db, KEPT_MAX + 2)
    try:
        assert db.kept_connections.count == KEPT_MAX and _lent(db) == KEPT_MAX
        assert [c.closed for c in connections] == [False] * KEPT_MAX + [True, True]
        assert _rename(db, "the main thread") not in connections  # one more unit still finds a connection
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert db.kept_connections.count == 0 and _lent(db) == 0 and all(c.closed for c in connections)


def test_dispose_closes_every_kept_connection_and_keeps_none_after(db_url):
    db = Database(db_url)
    connections, done, threads = _threads_that_wrote(db, 2)
    try:
        mine = _rename(db, "the main thread")
        assert db.kept_connections.count == 3
        db.dispose()
        assert mine.closed and all(c.closed for c in connections) and db.kept_connections.count == 0
        after = _rename(db, "after dispose")
        assert after.closed and db.kept_connections.count == 0 and _name(db) == "after dispose"
    finally:
        done.set()
        for thread in threads:
            thread.join()
        db.dispose()


def test_a_forked_child_never_uses_its_parents_kept_connection(runtime):
    db = runtime.db
    kept = _rename(db, "before the fork")

    def in_the_child() -> None:  # checks and leaves at once, closing nothing
        if db.kept_connections.take() is not None or db.kept_connections.count != 0:
            raise SystemExit(3)

    child = multiprocessing.get_context("fork").Process(target=in_the_child)
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert not kept.closed and _rename(db, "after the fork") is kept and _name(db) == "after the fork"


@pytest.mark.both_databases
def test_a_forked_child_writes_on_connections_of_its_own_and_the_parents_stay_the_parents(runtime):
    db = runtime.db
    _name(db)  # the pool holds a connection of the parent's now
    lent_before = _lent(db)

    def in_the_child() -> None:
        if db.engine.pool.checkedin() != 0 or _lent(db) != 0:  # a pool of its own, empty
            raise SystemExit(3)
        _rename(db, "in the child")

    child = multiprocessing.get_context("fork").Process(target=in_the_child)
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert _name(db) == "in the child" and _lent(db) == lent_before
    _rename(db, "in the parent after")
    assert _name(db) == "in the parent after"
