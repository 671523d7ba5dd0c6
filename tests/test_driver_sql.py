"""A step's statements on the driver (engine/store/driver_sql.py) give what SQLAlchemy's `execute` gives.

Each read a step sends on the driver returns the rows Core's `execute` of the same statement returns, value
for value and type for type (datetimes with their zone, JSON as data, booleans), by position and by name;
a driver error is SQLAlchemy's own exception and the transaction rolls back whole; the engine's cursor
events see the statement and the parameters sent; a statement whose parameters expand per call (an IN
list) is left to Core. On PostgreSQL every statement is Core's (its driver takes named parameters): the
same assertions hold there too.
"""

from __future__ import annotations

import pytest
from sqlalchemy import JSON, bindparam, insert, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError

from engine.bench.core import BENCH_USER, FORM_DATA, prepare
from engine.outbox import staff_alerts
from engine.run import rows as run_rows
from engine.run.start_reads import start_statement
from engine.store import audit_buffer, driver_sql
from engine.store.models import AuditHead, HumanTask, ProcessInstance
from tests.support.listening import listening

pytestmark = pytest.mark.both_databases


def _waiting_instance(rt) -> tuple[int, int]:
    instance_id = rt.start("bench_user_task", actor=BENCH_USER)
    with rt.reading() as session:
        task_id = session.execute(select(HumanTask.id).where(HumanTask.instance_id == instance_id)).scalar_one()
    return instance_id, task_id


def _both_ways(rt, statement, values) -> tuple[list, list]:
    """The statement's rows on the driver and by Core's execute, in one write transaction."""
    with rt.db.write() as session, session.begin():
        connection = driver_sql.connection_of(session)
        by_driver = driver_sql.run(connection, statement, values).all()
        by_core = connection.execute(statement, values).all()
        session.rollback()
    return by_driver, by_core


def _same_rows(by_driver: list, by_core: list) -> None:
    assert len(by_driver) == len(by_core) > 0
    for mine, theirs in zip(by_driver, by_core, strict=True):
        assert tuple(mine) == tuple(theirs)
        assert [type(v) for v in mine] == [type(v) for v in theirs]
        for key in theirs._fields:  # names as Core gives them (a name two columns share is read by position)
            if list(theirs._fields).count(key) == 1 and key in mine._fields:
                assert getattr(mine, key) == getattr(theirs, key)


def test_the_reads_of_a_step_give_the_rows_core_gives(runtime):
    rt = prepare(runtime.db)
    instance_id, task_id = _waiting_instance(rt)
    sqlite = runtime.db.is_sqlite
    reads = [
        (run_rows.INSTANCE_RECORD_WITH_JOBS, {"instance_id": instance_id}),
        (run_rows.LOCK_INSTANCE_RECORD, {"instance_id": instance_id}),
        (run_rows.OPEN_TASK_RECORDS, {"instance_id": instance_id}),
        (audit_buffer.HEAD_OF_STREAM, {"stream": f"instance:{instance_id}"}),
    ]
    if sqlite:  # SQLite's own: the completion's one-statement read; the start's (PostgreSQL's takes a nextval)
        reads += [(run_rows.TASK_TO_COMPLETE, {"task_id": task_id, "username": BENCH_USER}),
                  (start_statement(True, False, True), {"process_id": "bench_user_task", "version": None,
                                                        "username": BENCH_USER})]
    for statement, values in reads:
        _same_rows(*_both_ways(rt, statement, values))
    by_driver, _ = _both_ways(rt, run_rows.INSTANCE_RECORD_WITH_JOBS if sqlite else run_rows.LOCK_INSTANCE_RECORD,
                              {"instance_id": instance_id})
    assert by_driver[0].started_at.tzinfo is not None and isinstance(by_driver[0].data, dict)


def test_a_statement_with_its_own_literal_is_sent_without_the_caller_naming_it(runtime):
    rt = prepare(runtime.db)
    _waiting_instance(rt)
    with rt.db.write() as session, session.begin():
        found = driver_sql.run(driver_sql.connection_of(session), staff_alerts.ANYONE_LISTENING.select(), {}).all()
    assert [tuple(r) for r in found] == [(False,)]
    statement = driver_sql.driver_statement(runtime.db.engine.dialect, run_rows.TASK_TO_COMPLETE)
    if statement is not None:  # SQLite: the stream prefix is a literal of the statement; the task id is required
        with pytest.raises(KeyError):
            statement.params({"username": None})


def test_a_driver_error_is_sqlalchemys_and_the_transaction_rolls_back_whole(runtime):
    rt = prepare(runtime.db)
    instance_id, _ = _waiting_instance(rt)
    head = insert(AuditHead.__table__).values(stream=bindparam("s"), seq=bindparam("q"), hash=bindparam("h"))
    with pytest.raises(IntegrityError), rt.db.write() as session, session.begin():
        connection = driver_sql.connection_of(session)
        driver_sql.run(connection, head, {"s": "probe", "q": 1, "h": "x"})
        driver_sql.run(connection, head, {"s": f"instance:{instance_id}", "q": 1, "h": "x"})  # the stream's head exists
    with rt.reading() as session:
        assert session.execute(select(AuditHead.stream).where(AuditHead.stream == "probe")).all() == []


def test_the_engine_events_see_what_the_driver_is_sent(runtime):
    rt = prepare(runtime.db)
    instance_id, _ = _waiting_instance(rt)
    seen: list[tuple[str, str, object, bool]] = []

    def before(_conn, _cursor, statement, parameters, _context, many):
        seen.append(("before", statement, parameters, many))

    def after(_conn, _cursor, statement, parameters, _context, many):
        seen.append(("after", statement, parameters, many))

    with listening(runtime.db.engine, before_cursor_execute=before, after_cursor_execute=after):
        _both_ways(rt, run_rows.OPEN_TASK_RECORDS, {"instance_id": instance_id})
    reads = [s for s in seen if "FROM human_task" in s[1]]
    assert [s[0] for s in reads] == ["before", "after", "before", "after"]  # the driver's, then Core's
    assert reads[0][1] == reads[2][1]  # the same SQL
    if runtime.db.is_sqlite:
        assert reads[0][2] == (instance_id,) and reads[0][3] is False


def test_an_expanding_parameter_is_left_to_core(runtime):
    rt = prepare(runtime.db)
    first, _ = _waiting_instance(rt)
    second, _ = _waiting_instance(rt)
    statement = select(ProcessInstance.id).where(ProcessInstance.id.in_(bindparam("ids", expanding=True)))
    assert driver_sql.driver_statement(runtime.db.engine.dialect, statement) is None
    by_driver, by_core = _both_ways(rt, statement, {"ids": [first, second]})
    assert sorted(r[0] for r in by_driver) == sorted(r[0] for r in by_core) == [first, second]


def test_a_whole_instance_on_the_driver_is_stored_as_before(runtime):
    """A start and a completion through the driver leave the rows and record the replay check reads."""
    rt = prepare(runtime.db)
    instance_id, task_id = _waiting_instance(rt)
    rt.complete(task_id, BENCH_USER, FORM_DATA)
    with rt.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        task = session.get(HumanTask, task_id)
    assert instance.status == "completed" and instance.ended_at is not None
    assert task.state == "completed" and task.completed_by == BENCH_USER
    assert task.completed_at.tzinfo is not None and task.completed_at >= instance.started_at


def test_a_json_column_is_read_as_sqlalchemy_reads_it():
    """A JSON column's text on SQLite, read in one call of json's scanner: the value SQLAlchemy's own processing
    gives, and its error where it raises one (whitespace, more after the value, not JSON, a number stored bare)."""
    sqlite = sqlite_dialect.dialect()
    ours = driver_sql.driver_statement(sqlite, select(bindparam("v", type_=JSON()).label("v"))).processed[0][1]
    theirs = JSON().dialect_impl(sqlite).result_processor(sqlite, None)
    values = ['{}', '[]', '{"a": [1, 2.5, {"b": null}], "名": "张三"}', '"text"', 'null', 'true', '5', '-0.5e3', 'NaN',
              ' {}', '{} ', '\n[1]\n', b'{"a": 1}', 5, 2.5, None]
    for value in values:
        assert repr(ours(value)) == repr(theirs(value)) and type(ours(value)) is type(theirs(value)), value  # NaN
    assert ours('{"a": {}}') is not ours('{"a": {}}')  # a new value at every read
    for bad in ('', '{', '{}x', '{} {}', "{'a': 1}", b'{'):
        with pytest.raises((ValueError, TypeError)) as found:
            theirs(bad)
        with pytest.raises(found.type):
            ours(bad)
