"""The audit log is append-only and hash-chained: any edit, deletion or reordering is located."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from engine.clock import utcnow
from engine.store import audit
from tests.support.world import USERS

pytestmark = pytest.mark.both_databases

def _verify(runtime):
    with runtime.db.read() as session:
        return audit.verify(session)


def _drop_guards(runtime):
    """What an attacker with database access would do first."""
    with runtime.db.engine.begin() as conn:
        if runtime.db.is_sqlite:
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        else:  # PostgreSQL: one trigger for both (engine/store/migrations/versions/0001_initial_schema.py)
            conn.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))


def test_fresh_chains_verify(runtime):
    assert _verify(runtime) == []
    with runtime.db.read() as session:
        events = session.execute(text("SELECT seq, kind FROM audit_event WHERE stream='system' ORDER BY seq")).all()
    assert [kind for _, kind in events] == ["user_created"] * USERS
    assert [seq for seq, _ in events] == list(range(1, USERS + 1))


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET actor='mallory' WHERE seq=3",
    "DELETE FROM audit_event WHERE seq=3",
])
def test_database_refuses_update_and_delete(runtime, statement):
    with pytest.raises(DBAPIError, match="append-only"), runtime.db.engine.begin() as conn:
        conn.execute(text(statement))


def test_changed_payload_is_located(runtime):
    _drop_guards(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(text("""UPDATE audit_event SET payload='{"roles":["qc"],"username":"mallory"}'
                             WHERE stream='system' AND seq=4"""))
    breaks = _verify(runtime)
    assert [(b.stream, b.seq) for b in breaks] == [("system", 4)]
    assert "altered" in breaks[0].reason


def test_deleted_middle_event_is_located(runtime):
    _drop_guards(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE stream='system' AND seq=5"))
    breaks = _verify(runtime)
    assert [(b.stream, b.seq) for b in breaks] == [("system", 5)]
    assert "missing" in breaks[0].reason


def test_deleted_tail_is_located(runtime):
    _drop_guards(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM audit_event WHERE stream='system' AND seq={USERS}"))
    breaks = _verify(runtime)
    assert [(b.stream, b.seq) for b in breaks] == [("system", USERS)]


def test_swapped_events_are_located(runtime):
    _drop_guards(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET seq=-1 WHERE stream='system' AND seq=6"))
        conn.execute(text("UPDATE audit_event SET seq=6 WHERE stream='system' AND seq=7"))
        conn.execute(text("UPDATE audit_event SET seq=7 WHERE stream='system' AND seq=-1"))
    breaks = _verify(runtime)
    assert [(b.stream, b.seq) for b in breaks] == [("system", 6)]


def test_appended_events_chain_onto_the_head(runtime):
    with runtime.db.write() as session, session.begin():
        first = audit.append(session, kind="note", actor="t", at=utcnow(), payload={"n": 1})
        second = audit.append(session, kind="note", actor="t", at=utcnow(), payload={"n": 2})
    assert (first.seq, second.seq) == (USERS + 1, USERS + 2)
    assert second.prev_hash == first.hash
    assert _verify(runtime) == []
