"""`Runtime.reading()` on PostgreSQL: a read that changed nothing ends with COMMIT (psycopg drops every
prepared statement of a connection at each ROLLBACK, so with ROLLBACK none would ever be reused); a read
session that flushed or executed a change is still rolled back, so nothing written in a read is kept (on
SQLite, too, where every read is rolled back)."""

from __future__ import annotations

import gc

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.pool import NullPool

from engine.run.core import WROTE
from engine.run.runtime import Runtime
from engine.store import db as db_module
from engine.store.db import Database
from engine.store.models import User
from tests.support.listening import listening, transaction_events

pytestmark = pytest.mark.both_databases


def _display_name(runtime, username: str) -> str:
    with runtime.reading() as session:
        return session.execute(select(User.display_name).where(User.username == username)).scalar_one()


def test_a_read_that_changed_nothing_commits_on_postgresql(runtime):
    with transaction_events(runtime.db.engine) as endings, runtime.reading() as session:
        assert session.execute(select(func.count()).select_from(User)).scalar_one() > 0
        session.execute(text("SELECT 1")).scalar_one()
    assert endings == (["rollback"] if runtime.db.is_sqlite else ["commit"])


def test_a_read_session_that_flushed_a_change_is_rolled_back_and_keeps_nothing(runtime):
    before = _display_name(runtime, "agent1")
    with transaction_events(runtime.db.engine) as endings, runtime.reading() as session:
        user = session.execute(select(User).where(User.username == "agent1")).scalar_one()
        user.display_name = "changed in a read"
        session.flush()
    assert endings == ["rollback"]
    assert _display_name(runtime, "agent1") == before


@pytest.mark.parametrize("change", ["orm", "text"])
def test_a_read_session_that_executed_a_change_is_rolled_back_and_keeps_nothing(runtime, change):
    before = _display_name(runtime, "agent1")
    with transaction_events(runtime.db.engine) as endings, runtime.reading() as session:
        if change == "orm":
            session.execute(update(User).where(User.username == "agent1").values(display_name="changed"))
        else:
            session.execute(text("UPDATE user_account SET display_name = 'changed' WHERE username = 'agent1'"))
    assert endings == ["rollback"]
    assert _display_name(runtime, "agent1") == before


def test_every_runtime_marks_a_read_that_writes_even_one_made_where_a_freed_one_was(db_url):
    """The read factory's listeners are installed once per factory, by identity: SQLAlchemy's event.contains answers
    by id(), so a factory made at the address of a freed one looked watched already, its reads that wrote were not
    marked, and on PostgreSQL such a read committed its change."""
    for _ in range(100):
        db = Database(db_url)
        try:
            with Runtime(db).reading() as session:
                session.execute(update(User).where(User.username == "agent1").values(display_name="x"))
                assert session.info.get(WROTE) is True
        finally:
            db.dispose()
        del db
        gc.collect(1)  # the factory's class is freed, and its address free for the next one


def test_a_read_session_left_with_a_pending_change_is_rolled_back(runtime):
    with transaction_events(runtime.db.engine) as endings, runtime.reading() as session:
        user = session.execute(select(User).where(User.username == "agent1")).scalar_one()
        user.display_name = "pending"
    assert endings == ["rollback"]
    assert _display_name(runtime, "agent1") != "pending"


def test_on_postgresql_a_statement_read_again_and_again_is_prepared_on_the_server(runtime):
    if runtime.db.is_sqlite:
        pytest.skip("server-side prepared statements are PostgreSQL's")
    for _ in range(8):  # psycopg prepares a statement at its sixth use on a connection
        _display_name(runtime, "agent1")
    with runtime.reading() as session:
        prepared = session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("user_account.display_name" in s for s in prepared), prepared


def test_on_postgresql_a_pooled_connection_killed_while_idle_is_replaced_unnoticed(runtime, monkeypatch):
    """The pool pings a connection idle longer than PING_AFTER_IDLE_SECONDS (engine/store/db.py): a dead one
    is replaced before use; one in use moments ago is taken without a round trip."""
    if runtime.db.is_sqlite:
        pytest.skip("a PostgreSQL server connection")
    with runtime.reading() as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    pings = []
    with listening(runtime.db.engine, before_cursor_execute=lambda *args: pings.append(args[2])), \
            runtime.reading() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid, "the pooled connection"
    assert "SELECT 1" not in pings, "used moments ago: no ping"
    killer = create_engine(runtime.db.url, poolclass=NullPool)  # not the pool's own connection
    with killer.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    with runtime.reading() as session:
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid, "a new connection"
    assert _display_name(runtime, "agent1")
