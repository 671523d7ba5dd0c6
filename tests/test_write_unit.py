"""A write transaction's own shape on SQLite (engine/store/db.py, engine/run/unit.py): the write lock is taken
at BEGIN IMMEDIATE, a read's snapshot at BEGIN, both sent on the driver's connection as transaction control by
the connection class, with no listener on the engine (the engine's `begin` event still fires once per
transaction for whoever listens; the statements a step sends are unchanged); a lock that cannot be had surfaces as
SQLAlchemy's OperationalError and leaves the pool usable; every connection checkpoints the WAL at
WAL_AUTOCHECKPOINT_PAGES."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from engine.run.unit import write_session
from engine.store import db as db_module
from engine.store.db import Database
from engine.store.models import User
from tests.support.listening import listening
from tests.support.sqlite_locks import write_lock_taken


def _sqlite_file(database: Database) -> str:
    return database.engine.url.database


@contextmanager
def seen_on(engine):
    """The engine's `begin` events (by write or read) and the statements its cursors ran, inside the block."""
    seen = SimpleNamespace(begins=[], statements=[])

    def begin(connection):
        seen.begins.append("write" if connection.get_execution_options().get("tourflow_write") else "read")

    def statement(_conn, _cursor, sql, *_args):
        seen.statements.append(" ".join(sql.split()).upper())

    with listening(engine, begin=begin, before_cursor_execute=statement):
        yield seen


def test_a_write_transaction_holds_the_write_lock_from_its_begin(runtime):
    path = _sqlite_file(runtime.db)
    with seen_on(runtime.db.engine) as seen:
        with write_session(runtime.db) as session:
            session.connection()  # the transaction begins: no statement sent yet
            assert write_lock_taken(path)
            assert seen.statements == []
            session.execute(select(User.id).limit(1)).all()
        assert not write_lock_taken(path)
        with runtime.reading() as session:  # a read begins deferred: one snapshot, no lock
            session.execute(select(User.id).limit(1)).all()
            assert session.connection().connection.driver_connection.in_transaction
            assert not write_lock_taken(path)
    assert seen.begins == ["write", "read"]
    assert [s.split()[0] for s in seen.statements] == ["SELECT", "SELECT"]


def test_no_listener_on_the_engine_makes_every_connection_dispatch_events(runtime):
    dispatch = runtime.db.engine.dispatch  # with none, each Connection and each statement skips event dispatch
    events = ("engine_connect", "begin", "commit", "rollback", "before_execute", "after_execute",
              "before_cursor_execute", "after_cursor_execute")
    assert [name for name in events if getattr(dispatch, name)] == []


def test_a_connection_outside_a_session_still_begins_a_transaction_that_rolls_back(runtime):
    """What Alembic and direct engine users get, on the engine or on any engine made by its execution_options:
    a BEGIN, so that their statements are one transaction."""
    engine = runtime.db.engine
    for bind in (engine, engine.execution_options(label="a"), engine.execution_options(a=1).execution_options(b=2)):
        with bind.connect() as connection:
            with connection.begin() as transaction:
                assert connection.connection.driver_connection.in_transaction
                connection.execute(User.__table__.delete())
                transaction.rollback()
            assert connection.execute(select(User.id).limit(1)).first() is not None


def test_a_write_lock_not_had_in_time_is_an_operational_error_and_the_next_write_works(db_url, runtime):
    impatient = Database(db_url)

    @event.listens_for(impatient.engine, "connect")
    def _short_wait(dbapi_connection, _record):  # after the engine's own pragmas: wait 50 ms, not 30 s
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    holder = sqlite3.connect(_sqlite_file(runtime.db), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), write_session(impatient) as session:
            session.connection()
        holder.execute("ROLLBACK")
        with write_session(impatient) as session:
            session.get(User, 1)
            assert write_lock_taken(_sqlite_file(runtime.db))
        assert not write_lock_taken(_sqlite_file(runtime.db))
    finally:
        holder.close()
        impatient.dispose()


def test_every_connection_checkpoints_the_wal_at_the_configured_size(runtime):
    with runtime.db.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar_one()
    assert (pages, mode) == (db_module.WAL_AUTOCHECKPOINT_PAGES, "wal")


def test_two_threads_writing_queue_at_begin(runtime):
    """The second writer's transaction begins only once the first committed (BEGIN IMMEDIATE waits for the
    lock): it never starts on a snapshot the first one is about to change."""
    order: list[str] = []
    trying = threading.Event()
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with write_session(runtime.db) as session:
                trying.set()
                session.connection()
                order.append("second began")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    with write_session(runtime.db) as first:
        first.connection()
        thread = threading.Thread(target=second_writer)
        thread.start()
        trying.wait(10)
        time.sleep(0.2)  # room for the second writer to reach its BEGIN; nothing below depends on how long
        order.append("first committing")
    thread.join(30)
    assert not errors
    assert order == ["first committing", "second began"]
