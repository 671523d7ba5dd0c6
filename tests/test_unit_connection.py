"""A unit of work runs on a Connection of its own, begun at its first statement; its Session joins that
transaction only when asked for the ORM (engine/run/unit.py `write_session`, engine/store/unit_scope.py).

Whichever way a unit writes (the driver, the ORM, both, the ORM joining in the middle), it is one transaction:
all of it commits at the end, or none of it; what the engine keeps for the transaction (held instance records)
outlives the ORM joining; a rollback inside the unit fails it; a unit that sends nothing takes no connection; a
savepoint rolled back keeps the rest; and the session, once its unit ended, is bound to its engine again."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import InvalidRequestError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.clock import utcnow
from engine.errors import TaskConflict
from engine.run.unit import write_session
from engine.store import driver_sql
from engine.store.models import User
from engine.store.records import InstanceRecord, held_instances, hold_instance
from engine.store.unit_scope import UNIT, UnitConnection, transaction_token
from tests.support.listening import listening, transaction_events

pytestmark = pytest.mark.both_databases
ENDS = ("begin", "commit", "rollback")  # the engine's transaction events these tests record


def _names(runtime, *usernames: str) -> tuple[str, ...]:
    with runtime.reading() as session:
        found = dict(session.execute(select(User.username, User.display_name)
                                     .where(User.username.in_(usernames))).all())
    return tuple(found[name] for name in usernames)


def _rename_on_the_driver(session: Session, username: str, name: str) -> None:
    driver_sql.connection_of(session).execute(update(User).where(User.username == username)
                                              .values(display_name=name))


def _rename_by_the_orm(session: Session, username: str, name: str) -> None:
    session.execute(select(User).where(User.username == username)).scalar_one().display_name = name


def _checked_out(runtime) -> int:
    """Connections the pool has lent out, other than those kept between units (engine/store/kept_connections.py)."""
    kept = runtime.db.kept_connections
    return runtime.db.engine.pool.checkedout() - (kept.count if kept is not None else 0)


def test_a_unit_that_never_asks_for_the_orm_commits_its_statements_without_an_orm_transaction(runtime):
    began: list[Session] = []
    with listening(Session, after_transaction_create=lambda s, t: began.append(s) if t.parent is None else None), \
            transaction_events(runtime.db.engine, *ENDS) as ends, write_session(runtime.db) as session:
        _rename_on_the_driver(session, "agent1", "on the driver")
        assert not session.in_transaction()
    assert began == [] and ends == ["begin", "commit"]
    assert _names(runtime, "agent1") == ("on the driver",)
    assert _checked_out(runtime) == 0


def test_the_orm_joining_in_the_middle_is_the_same_transaction(runtime):
    with transaction_events(runtime.db.engine, *ENDS) as ends, write_session(runtime.db) as session:
        _rename_on_the_driver(session, "agent1", "first, on the driver")
        unit = transaction_token(session)
        _rename_by_the_orm(session, "agent2", "then by the orm")
        assert session.in_transaction() and session.connection() is driver_sql.connection_of(session)
        assert transaction_token(session) is unit  # what the engine keeps for the transaction stays found
        _rename_on_the_driver(session, "agent3", "last, on the driver")
    assert ends == ["begin", "commit"]
    assert _names(runtime, "agent1", "agent2", "agent3") == ("first, on the driver", "then by the orm",
                                                              "last, on the driver")


@pytest.mark.parametrize("orm", [False, True], ids=["driver only", "orm joined"])
def test_an_error_writes_nothing_whichever_way_the_unit_wrote(runtime, orm):
    before = _names(runtime, "agent1", "agent2")
    with pytest.raises(RuntimeError, match="the command failed"), write_session(runtime.db) as session:
        _rename_on_the_driver(session, "agent1", "lost")
        if orm:
            _rename_by_the_orm(session, "agent2", "lost too")
            session.flush()
        raise RuntimeError("the command failed")
    assert _names(runtime, "agent1", "agent2") == before
    assert _checked_out(runtime) == 0


@pytest.mark.parametrize("then", ["write", "end"])
def test_a_rollback_inside_the_unit_fails_it_and_writes_nothing(runtime, then):
    """The Session's rollback ends the unit's transaction: a statement after it would run outside any transaction
    (on SQLite each would commit on its own), so it is refused, and so is the unit's commit."""
    before = _names(runtime, "agent1", "agent2", "agent3")
    with pytest.raises(InvalidRequestError, match="rolled back inside it"), write_session(runtime.db) as session:
        _rename_on_the_driver(session, "agent1", "rolled back")
        _rename_by_the_orm(session, "agent2", "rolled back too")
        session.flush()
        session.rollback()
        if then == "write":
            _rename_on_the_driver(session, "agent3", "after the rollback")
    assert _names(runtime, "agent1", "agent2", "agent3") == before
    assert _checked_out(runtime) == 0


def test_a_lost_race_after_the_orm_joined_is_a_409_that_writes_nothing(runtime):
    before = _names(runtime, "agent1", "agent2")
    with pytest.raises(TaskConflict), write_session(runtime.db) as lost:
        _rename_on_the_driver(lost, "agent1", "lost")
        _rename_by_the_orm(lost, "agent2", "lost too")
        raise StaleDataError("the instance's lock_version moved")
    assert _names(runtime, "agent1", "agent2") == before
    assert _checked_out(runtime) == 0
    with write_session(runtime.db) as after:
        assert after is not lost


def test_a_commit_that_fails_writes_nothing_and_the_session_is_not_kept(runtime, monkeypatch):
    """The unit's own COMMIT failing (a disk full, a server gone): its work rolled back with the connection, the
    connection back in the pool, and its session not handed to the thread's next unit."""
    before = _names(runtime, "agent1", "agent2")

    def failing_commit(unit) -> None:
        raise OperationalError("COMMIT", {}, RuntimeError("disk I/O error"))

    with monkeypatch.context() as patched:
        patched.setattr(UnitConnection, "commit", failing_commit)
        with pytest.raises(OperationalError, match="disk I/O error"), write_session(runtime.db) as failed:
            _rename_on_the_driver(failed, "agent1", "never committed")
            _rename_by_the_orm(failed, "agent2", "never committed either")
    assert _names(runtime, "agent1", "agent2") == before
    assert _checked_out(runtime) == 0
    with write_session(runtime.db) as after:
        assert after is not failed


def test_held_instance_records_outlive_the_orm_joining(runtime):
    now = utcnow()
    record = InstanceRecord(id=10**9, deployment_id=1, process_id="p", status="running", business_key=None,
                            serialized="", data={}, started_at=now, started_by="agent1")
    with write_session(runtime.db) as session:
        _rename_on_the_driver(session, "agent1", "the unit began")
        hold_instance(session, record)
        _rename_by_the_orm(session, "agent2", "the orm joined")
        assert held_instances(session) == {record.id: record}
        held_instances(session).clear()  # not written: the record names no deployment


def test_a_unit_that_sends_nothing_takes_no_connection(runtime):
    with write_session(runtime.db) as session:
        assert session.info[UNIT].connection is None
        assert _checked_out(runtime) == 0
    assert _checked_out(runtime) == 0


def test_a_savepoint_rolled_back_keeps_the_rest_of_the_unit(runtime):
    with write_session(runtime.db) as session:
        _rename_on_the_driver(session, "agent1", "kept")
        savepoint = session.begin_nested()
        _rename_by_the_orm(session, "agent2", "rolled back")
        session.flush()
        savepoint.rollback()
        _rename_on_the_driver(session, "agent3", "kept too")
    assert _names(runtime, "agent1", "agent3") == ("kept", "kept too")
    assert _names(runtime, "agent2") != ("rolled back",)


def test_a_session_used_after_its_unit_runs_on_its_engine_again(runtime):
    with write_session(runtime.db) as used:
        _rename_on_the_driver(used, "agent1", "in the unit")
        unit = driver_sql.connection_of(used)
    assert UNIT not in used.info
    kept = runtime.db.kept_connections
    if kept is None:
        assert unit.closed
    else:  # SQLite: kept for the thread's next unit, outside any transaction
        assert kept.take() is unit and not unit.in_transaction()
        unit.close()
    try:
        assert used.execute(select(User.display_name).where(User.username == "agent1")).scalar_one() == "in the unit"
        assert used.connection() is not unit
    finally:
        used.close()
