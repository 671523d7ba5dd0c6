"""Each thread keeps its closed write session, and its closed read session, for its next unit of work
(engine/run/unit.py `take_session`, used by `write_session` and `Runtime.reading`):
the next unit gets it back as new (no objects, the `info` a new one starts with, no connection held between units), a unit
opened inside another gets its own, another thread never gets it, and a unit that failed wrote nothing and
is not kept; a session used again after its unit ended is not handed out."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from engine.run.unit import write_session
from engine.store.models import User
from engine.store.unit_scope import UNIT
from tests.support.listening import transaction_events

pytestmark = pytest.mark.both_databases


def _display_name(runtime, username: str) -> str:
    with runtime.reading() as session:
        return session.execute(select(User.display_name).where(User.username == username)).scalar_one()


def _checked_out(runtime) -> int:
    """Connections the pool has lent out, other than those kept between units (engine/store/kept_connections.py)."""
    kept = runtime.db.kept_connections
    return runtime.db.engine.pool.checkedout() - (kept.count if kept is not None else 0)


def test_the_next_unit_on_a_thread_gets_the_same_session_back_empty(runtime):
    with write_session(runtime.db) as first:
        user = first.execute(select(User).where(User.username == "agent1")).scalar_one()
        first.info["left_by_the_first_unit"] = True
        first_unit = first.info[UNIT]
    assert _checked_out(runtime) == 0  # the connection went back to the pool, or is kept for the next unit
    with write_session(runtime.db) as second:
        assert second is first
        # what a new one starts with, and only that, with its new unit (engine/store/unit_scope.py)
        assert second.info.keys() == {*runtime.db.write().info, UNIT}
        assert second.info[UNIT] is not first_unit and second.info[UNIT].connection is None  # begun at first use
        assert user not in second and not list(second.identity_map.values())
        assert second.execute(select(User).where(User.username == "agent1")).scalar_one() is not user
    assert _checked_out(runtime) == 0


def test_a_transaction_opened_on_a_kept_session_commits_what_it_wrote(runtime):
    with write_session(runtime.db):
        pass
    with write_session(runtime.db) as session:
        session.execute(select(User).where(User.username == "agent1")).scalar_one().display_name = "kept session"
    assert _display_name(runtime, "agent1") == "kept session"


def test_an_error_in_a_unit_writes_nothing_and_its_session_is_not_kept(runtime):
    before = _display_name(runtime, "agent1")
    with pytest.raises(RuntimeError), write_session(runtime.db) as failed:
        failed.execute(select(User).where(User.username == "agent1")).scalar_one().display_name = "lost"
        failed.flush()
        raise RuntimeError("the command failed")
    assert _checked_out(runtime) == 0
    assert _display_name(runtime, "agent1") == before
    with write_session(runtime.db) as after:
        assert after is not failed
        after.execute(select(User).where(User.username == "agent1")).scalar_one().display_name = "after"
    assert _display_name(runtime, "agent1") == "after"


def test_a_unit_inside_another_on_the_same_thread_gets_its_own_session(runtime):
    with write_session(runtime.db) as outer:
        with write_session(runtime.db) as inner:
            assert inner is not outer
            inner.execute(select(User).where(User.username == "agent1")).scalar_one().display_name = "inner"
        outer.execute(select(User).where(User.username == "agent2")).scalar_one().display_name = "outer"
    assert (_display_name(runtime, "agent1"), _display_name(runtime, "agent2")) == ("inner", "outer")


def test_threads_never_share_a_kept_session(runtime):
    with write_session(runtime.db) as mine:
        pass
    theirs: list[object] = []
    errors: list[BaseException] = []

    def unit_of_another_thread() -> None:
        try:
            for _ in range(2):
                with write_session(runtime.db) as session:
                    session.execute(select(User.id).limit(1)).all()
                    theirs.append(session)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    worker = threading.Thread(target=unit_of_another_thread)
    worker.start()
    worker.join()
    assert not errors
    assert theirs[0] is theirs[1] and theirs[0] is not mine  # its own, kept for its own next unit
    with write_session(runtime.db) as again:
        assert again is mine
    assert _checked_out(runtime) == 0


def test_a_kept_read_session_forgets_that_its_last_unit_wrote(runtime):
    """A read that wrote is rolled back (engine/run/core.py `reading`); the next read on the same session that
    changed nothing ends as any such read does (COMMIT on PostgreSQL, to keep prepared statements)."""
    with runtime.reading() as first:
        first.execute(update(User).where(User.username == "agent1").values(display_name="written in a read"))
    with transaction_events(runtime.db.engine) as endings, runtime.reading() as second:
        assert second is first
        assert second.execute(select(User.display_name).where(User.username == "agent1")).scalar_one() != (
            "written in a read")
    assert endings == (["rollback"] if runtime.db.is_sqlite else ["commit"])


def test_a_session_used_again_after_its_unit_ended_is_not_handed_out(runtime):
    with runtime.reading() as used:
        pass
    used.execute(select(User.id).limit(1)).all()  # after its unit: a transaction of its own, still open
    try:
        with runtime.reading() as next_read:
            assert next_read is not used
    finally:
        used.close()
