"""A step's instance and task rows written by prebuilt statements, not the ORM's flush.

The unit of work costs more than the few statements a step's write-back needs (sorting, per-object
bookkeeping, history): a new instance's row and its new task rows are INSERTed (task ids returned in
order), a changed instance and the task rows the step closed are UPDATEd, only the columns that changed,
statements built once per set of columns. The instance keeps its optimistic lock: the UPDATE names the
`lock_version` it read and a row count other than one is the ORM's own StaleDataError (TaskConflict, 409).
The objects then stay in the session as if just loaded with these values (clean, nothing left for the
flush), accounted to the state hash as a flush's rows are, so the hash at commit, the open-task set the
step keeps and later changes in the same transaction see them as written. Whatever does not fit (a row
marked for deletion, an expired attribute, a relationship or defaulted column) is left to the flush.

A step's task rows are plain records (engine/store/records.py), not ORM objects: they are INSERTed and
UPDATEd on the driver (engine/store/driver_sql.py), the statements compiled once per dialect, and are
never the session's.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, insert, inspect, update
from sqlalchemy.orm import Session, make_transient, make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError

from engine.limits import BoundedCache
from engine.store import driver_sql, state_hash
from engine.store.models import HumanTask, ProcessInstance
from engine.store.records import INSERTED_COLUMNS, InstanceRecord, TaskRecord, TaskRow, held_instances

_INSTANCE_TABLE = ProcessInstance.__table__
_TASK_TABLE = HumanTask.__table__
_INSTANCE_COLUMNS = frozenset(c.key for c in _INSTANCE_TABLE.columns) - {"id", "lock_version"}
_TASK_COLUMNS = frozenset(c.key for c in _TASK_TABLE.columns) - {"id"}
_INSERT_INSTANCE = insert(_INSTANCE_TABLE)
_STATEMENTS: BoundedCache[tuple[str, frozenset[str]], object] = BoundedCache(64)


def _statement(table_name: str, columns: frozenset[str]):
    key = (table_name, columns)
    statement = _STATEMENTS.get(key)
    if statement is None:
        if table_name == "process_instance":
            values = {name: bindparam(f"v_{name}") for name in sorted(columns)}
            values["lock_version"] = bindparam("v_lock_version")
            statement = (update(_INSTANCE_TABLE).where(_INSTANCE_TABLE.c.id == bindparam("w_id"),
                                                       _INSTANCE_TABLE.c.lock_version == bindparam("w_lock_version"))
                         .values(values))
        else:
            statement = (update(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("w_id", type_=_TASK_TABLE.c.id.type))
                         .values({name: bindparam(f"v_{name}", type_=_TASK_TABLE.c[name].type)
                                  for name in sorted(columns)}))
        _STATEMENTS.put(key, statement)
    return statement


def _changed(session: Session, obj: object, allowed: frozenset[str]) -> frozenset[str] | None:
    """The column attributes changed on a persistent, loaded object; None when the ORM must write it
    (new, marked for deletion, expired, or a change other than a plain column's)."""
    state = inspect(obj)
    if not state.persistent or state.expired_attributes or obj in session.deleted:
        return None
    changed = frozenset(state.committed_state)
    return changed if changed <= allowed else None


def _settle(session: Session, obj: object) -> None:
    """The object as if just loaded with its current values: clean, still the session's (same identity)."""
    if inspect(obj).pending:
        session.expunge(obj)
    make_transient(obj)
    make_transient_to_detached(obj)
    session.add(obj)


def write_instance(session: Session, instance: ProcessInstance) -> bool:
    """UPDATE the instance's changed columns with its optimistic lock; False if left to the ORM."""
    changed = _changed(session, instance, _INSTANCE_COLUMNS)
    if not changed:
        return False
    version = instance.lock_version
    params = {f"v_{name}": getattr(instance, name) for name in changed}
    params.update(w_id=instance.id, w_lock_version=version, v_lock_version=version + 1)
    result = session.connection().execute(_statement("process_instance", changed), params)
    if result.rowcount != 1:
        raise StaleDataError(f"UPDATE of process_instance {instance.id} matched {result.rowcount} rows, expected 1")
    instance.lock_version = version + 1
    state_hash.note_written(session, [instance], new=False)
    _settle(session, instance)
    return True


def _instance_update(columns: frozenset[str]):
    """The UPDATE of these instance columns with its optimistic lock, typed for the driver."""
    key = ("process_instance_record", columns)
    statement = _STATEMENTS.get(key)
    if statement is None:
        table = _INSTANCE_TABLE
        values = {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in sorted(columns)}
        values["lock_version"] = bindparam("v_lock_version", type_=table.c.lock_version.type)
        statement = (update(table).where(table.c.id == bindparam("w_id", type_=table.c.id.type),
                                         table.c.lock_version == bindparam("w_lock_version",
                                                                           type_=table.c.lock_version.type))
                     .values(values))
        _STATEMENTS.put(key, statement)
    return statement


_INSERT_INSTANCE_RECORD = insert(_INSTANCE_TABLE).values(
    {c.key: bindparam(c.key, type_=c.type) for c in _INSTANCE_TABLE.columns})


def write_instance_record(session: Session, record: InstanceRecord) -> None:
    """On the driver: INSERT a new instance's row whole (its id reserved before, lock_version 1), or UPDATE
    the columns changed since it was read or written, naming the lock_version it read; a row count other
    than one is the ORM's own StaleDataError (TaskConflict, 409)."""
    if record.saved is None:
        record.lock_version = 1  # what the ORM's version counter starts at
        driver_sql.run(driver_sql.connection_of(session), _INSERT_INSTANCE_RECORD, record.values())
        record.mark_saved()
        state_hash.note_written(session, [record], new=True)
        return
    changed = record.changed_columns()
    if not changed:
        return
    version = record.lock_version
    params = {f"v_{name}": getattr(record, name) for name in changed}
    params.update(w_id=record.id, w_lock_version=version, v_lock_version=version + 1)
    result = driver_sql.run(driver_sql.connection_of(session), _instance_update(changed), params)
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


def write_tasks(session: Session, rows: Iterable[TaskRow | None]) -> None:
    """UPDATE the changed columns of these task rows, one executemany per set of columns: records on the
    driver, ORM objects by Core (those the ORM must write, see `_changed`, are left to it)."""
    by_columns: dict[tuple[bool, frozenset[str]], list[TaskRow]] = {}
    for row in rows:
        if isinstance(row, TaskRecord):
            changed = row.changed_columns()
        else:
            changed = _changed(session, row, _TASK_COLUMNS) if row is not None else None
        if changed:
            by_columns.setdefault((isinstance(row, TaskRecord), changed), []).append(row)
    for (records, columns), group in by_columns.items():
        params = [{"w_id": row.id, **{f"v_{name}": getattr(row, name) for name in columns}} for row in group]
        statement = _statement("human_task", columns)
        connection = driver_sql.connection_of(session)
        result = driver_sql.run(connection, statement, params) if records else connection.execute(statement, params)
        if result.rowcount not in (-1, len(group)):
            raise StaleDataError(f"UPDATE of human_task matched {result.rowcount} rows, expected {len(group)}")
        state_hash.note_written(session, group, new=False)
        for row in group:
            if records:
                row.mark_saved()
            else:
                _settle(session, row)


def _insertable(obj: object, table) -> dict[str, object] | None:
    """Every column's value of a new object (None where unset, as the flush would insert it), or None when
    the ORM must insert it: not pending, or a column with a default left unset."""
    state = inspect(obj)
    if not state.pending:
        return None
    values = {}
    for column in table.columns:
        if column.computed is not None:  # the database computes it (human_task's routing keys)
            continue
        if column.key in state.dict:
            values[column.key] = state.dict[column.key]
        elif column.default is not None or column.server_default is not None:
            return None
        elif not column.primary_key:
            values[column.key] = None
    return values


def _loaded(obj: object, values: dict[str, object]) -> None:
    for key, value in values.items():
        if key not in inspect(obj).dict:
            setattr(obj, key, value)


def insert_instance(session: Session, instance: ProcessInstance) -> bool:
    """INSERT a new instance's row, whole (its id reserved before); False if left to the flush."""
    if inspect(instance).pending and instance.lock_version is None:
        instance.lock_version = 1  # what the ORM's version counter starts at
    values = _insertable(instance, _INSTANCE_TABLE)
    if values is None or values.get("id") is None:
        return False
    session.connection().execute(_INSERT_INSTANCE, values)
    _loaded(instance, values)
    state_hash.note_written(session, [instance], new=True)
    _settle(session, instance)
    return True


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


_INSERT_TASKS_OF: BoundedCache[int, object] = BoundedCache(16)


def insert_tasks(session: Session, rows: list[TaskRecord]) -> None:
    """INSERT new task records in one statement, on the driver; each gets its id (and the routing columns the
    database computes) back, matched by its Spiff task id (unique), so the order of the returned rows does
    not matter."""
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


__all__ = ["insert_instance", "insert_tasks", "write_held_instances", "write_instance", "write_instance_record",
           "write_tasks"]
