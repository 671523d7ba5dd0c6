"""A step's instance and task rows written on the driver by prebuilt statements, never by the ORM's flush.

A step holds its rows as plain records (engine/store/records.py); the ORM object and its unit of work cost
more than the few statements a step's write-back needs. A new instance's row and its new task rows are
INSERTed (task ids, and the routing columns the database computes, returned), a changed instance and the task
rows the step closed are UPDATEd, only the columns that changed since the record was read or written. The
statements are built once per set of columns and compiled once per dialect (engine/store/driver_sql.py). The
instance keeps its optimistic lock: the UPDATE names the `lock_version` it read and a row count other than
one is the ORM's own StaleDataError (TaskConflict, 409). The rows written are accounted to the state hash as a
flush's rows are (`state_hash.note_written`), so the hash at commit sees them as written.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, event, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.limits import BoundedCache
from engine.store import driver_sql, state_hash
from engine.store.models import HumanTask, ProcessInstance
from engine.store.records import INSERTED_COLUMNS, InstanceRecord, TaskRecord, held_instances

_INSTANCE_TABLE = ProcessInstance.__table__
_TASK_TABLE = HumanTask.__table__
_STATEMENTS: BoundedCache[tuple[str, frozenset[str]], object] = BoundedCache(64)
_INSERT_TASKS_OF: BoundedCache[int, object] = BoundedCache(16)
_INSERT_INSTANCE = insert(_INSTANCE_TABLE).values({c.key: bindparam(c.key, type_=c.type) for c in _INSTANCE_TABLE.columns})


def _update_of(table, columns: frozenset[str]):
    """The UPDATE of these columns of one row by id (an instance's with its optimistic lock), typed for the
    driver; built once per set of columns."""
    key = (table.name, columns)
    statement = _STATEMENTS.get(key)
    if statement is None:
        values = {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in sorted(columns)}
        where = [table.c.id == bindparam("w_id", type_=table.c.id.type)]
        if table is _INSTANCE_TABLE:
            values["lock_version"] = bindparam("v_lock_version", type_=table.c.lock_version.type)
            where.append(table.c.lock_version == bindparam("w_lock_version", type_=table.c.lock_version.type))
        statement = update(table).where(*where).values(values)
        _STATEMENTS.put(key, statement)
    return statement


def write_instance_record(session: Session, record: InstanceRecord) -> None:
    """INSERT a new instance's row whole (its id reserved before, lock_version 1), or UPDATE the columns
    changed since it was read or written, naming the lock_version it read."""
    if record.saved is None:
        record.lock_version = 1  # what the ORM's version counter starts at
        driver_sql.run(driver_sql.connection_of(session), _INSERT_INSTANCE, record.values())
        record.mark_saved()
        state_hash.note_written(session, [record], new=True)
        return
    changed = record.changed_columns()
    if not changed:
        return
    version = record.lock_version
    params = {f"v_{name}": getattr(record, name) for name in changed}
    params.update(w_id=record.id, w_lock_version=version, v_lock_version=version + 1)
    result = driver_sql.run(driver_sql.connection_of(session), _update_of(_INSTANCE_TABLE, changed), params)
    if result.rowcount != 1:
        raise StaleDataError(f"UPDATE of process_instance {record.id} matched {result.rowcount} rows, expected 1")
    record.lock_version = version + 1
    record.mark_saved()
    state_hash.note_written(session, [record], new=False)


def write_held_instances(session: Session) -> None:
    """The end of a unit of work: what changed on the instance records it holds since their step wrote them
    (a command that changes its instance without a step, e.g. a job's incident resolved)."""
    for record in list(held_instances(session).values()):
        write_instance_record(session, record)


def _insert_new_instances(session: Session, _context, _objects) -> None:
    """Before an ORM flush: a new instance's record is INSERTed first, as the unit of work inserted a pending
    instance before the rows that refer to it (a retry job, a staff alert, an outbox message)."""
    for record in held_instances(session).values():
        if record.saved is None:
            write_instance_record(session, record)


if not event.contains(Session, "before_flush", _insert_new_instances):
    event.listen(Session, "before_flush", _insert_new_instances)


def write_tasks(session: Session, rows: Iterable[TaskRecord]) -> None:
    """UPDATE the changed columns of these task records, one executemany per set of columns."""
    by_columns: dict[frozenset[str], list[TaskRecord]] = {}
    for row in rows:
        changed = row.changed_columns()
        if changed:
            by_columns.setdefault(changed, []).append(row)
    for columns, group in by_columns.items():
        params = [{"w_id": row.id, **{f"v_{name}": getattr(row, name) for name in columns}} for row in group]
        result = driver_sql.run(driver_sql.connection_of(session), _update_of(_TASK_TABLE, columns), params)
        if result.rowcount not in (-1, len(group)):
            raise StaleDataError(f"UPDATE of human_task matched {result.rowcount} rows, expected {len(group)}")
        state_hash.note_written(session, group, new=False)
        for row in group:
            row.mark_saved()


def _insert_tasks_statement(count: int):
    """INSERT of `count` task rows in one statement, returning what the database chose or computed."""
    statement = _INSERT_TASKS_OF.get(count)
    if statement is None:
        columns = _TASK_TABLE.c
        rows = [{key: bindparam(f"{key}_{i}", type_=columns[key].type) for key in INSERTED_COLUMNS}
                for i in range(count)]
        statement = (insert(_TASK_TABLE).values(rows)
                     .returning(columns.id, columns.spiff_task_id, columns.route_desk, columns.route_branch))
        _INSERT_TASKS_OF.put(count, statement)
    return statement


def insert_tasks(session: Session, rows: list[TaskRecord]) -> None:
    """INSERT new task records in one statement; each gets its id (and the routing columns the database
    computes) back, matched by its Spiff task id (unique): neither SQLite nor PostgreSQL promises the order
    of a multi-row RETURNING."""
    if not rows:
        return
    params = {f"{key}_{i}": value for i, row in enumerate(rows) for key, value in row.insert_values().items()}
    returned = driver_sql.run(driver_sql.connection_of(session), _insert_tasks_statement(len(rows)), params).all()
    by_spiff_id = {row.spiff_task_id: row for row in rows}
    for new_id, spiff_task_id, route_desk, route_branch in returned:
        row = by_spiff_id[spiff_task_id]
        row.id, row.route_desk, row.route_branch = new_id, route_desk, route_branch
        row.mark_saved()
    if len(returned) != len(rows):
        raise StaleDataError(f"INSERT of {len(rows)} human_task rows returned {len(returned)}")
    state_hash.note_written(session, rows, new=True)


__all__ = ["insert_tasks", "write_held_instances", "write_instance_record", "write_tasks"]
