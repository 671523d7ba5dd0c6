"""The rows commands act on, found (or locked) by id, and their JSON shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, func, literal, literal_column, select, text, union_all
from sqlalchemy.orm import Session

from engine.access.policy import Viewer
from engine.access.viewer import acting_viewer
from engine.access.viewer import viewer_of_rows as access_viewer_of_rows
from engine.clock import iso_z
from engine.errors import NotAllowed, NotFound
from engine.run import task_edit_cleanup
from engine.store import audit, audit_buffer, driver_sql, state_hash
from engine.store.models import AuditHead, HumanTask, Job, ProcessInstance, TaskEdit, User, UserRole
from engine.store.records import (
    INSTANCE_COLUMNS,
    TASK_COLUMNS,
    InstanceRecord,
    InstanceRow,
    TaskRecord,
    TaskRow,
    held_instances,
    hold_instance,
)
from engine.store.states import HumanTaskState, JobState
from engine.store.unit_scope import transaction_token

# The statements of every step, built once: building one costs more than running it (SQLAlchemy's
# construction and cache key), so each is a module constant with bound parameters.
# But a task's state is compared with `'ready'` written into the statement, not bound: human_task has a partial
# index on state = 'ready', and SQLite prepares a statement again on every run when a bound value could decide
# whether a partial index applies (about 30 µs for each such comparison in the completion's lock statement).
READY_IN_SQL = literal_column(f"'{HumanTaskState.READY.value}'")
_HAS_PENDING_JOB = (select(Job.id).where(Job.instance_id == ProcessInstance.id, Job.state == JobState.PENDING)
                    .exists().label("has_pending_job"))
# Drafts and presence rows exist only for open tasks on SQLite (a draft of a closed task is refused, and the
# step that closes a task deletes its rows, with writers serialized): probing the instance's open tasks is
# enough, and stays cheap in an instance with a long history.
_HAS_TASK_EDIT = (select(TaskEdit.id).join(HumanTask, HumanTask.id == TaskEdit.human_task_id)
                  .where(HumanTask.instance_id == ProcessInstance.id, HumanTask.state == READY_IN_SQL)
                  .exists().label("has_task_edit"))
_INSTANCE_WITH_JOBS = (select(ProcessInstance, _HAS_PENDING_JOB, _HAS_TASK_EDIT)
                       .where(ProcessInstance.id == bindparam("instance_id")))
# A step's instance as a record (engine/store/records.py): its columns, not an entity.
_INSTANCE_COLUMNS = tuple(ProcessInstance.__table__.c[key] for key in INSTANCE_COLUMNS)
INSTANCE_RECORD_WITH_JOBS = (select(*_INSTANCE_COLUMNS, _HAS_PENDING_JOB, _HAS_TASK_EDIT)
                              .where(ProcessInstance.id == bindparam("instance_id")))
LOCK_INSTANCE_RECORD = (select(*_INSTANCE_COLUMNS).where(ProcessInstance.id == bindparam("instance_id"))
                         .with_for_update(of=ProcessInstance.__table__))
# SQLite: a task row, its instance, the two facts above and the instance's open task rows, in one statement
# (BEGIN IMMEDIATE holds the lock). The instance's columns come on the task's own row only (an outer join
# on it), not once per open task; the open tasks are found by (instance_id, state), not the whole history.
_TARGET, _OPEN = HumanTask.__table__.alias("target"), HumanTask.__table__.alias("open_task")
_OPEN_AND_TARGET_IDS = union_all(
    select(_OPEN.c.id).where(
        _OPEN.c.instance_id == select(_TARGET.c.instance_id).where(_TARGET.c.id == bindparam("task_id")).scalar_subquery(),
        _OPEN.c.state == READY_IN_SQL),
    select(bindparam("task_id", type_=HumanTask.id.type)))
_TASK_WITH_INSTANCE = (select(HumanTask, ProcessInstance, _HAS_PENDING_JOB, _HAS_TASK_EDIT)
                       .outerjoin(ProcessInstance, and_(ProcessInstance.id == HumanTask.instance_id,
                                                        HumanTask.id == bindparam("task_id")))
                       .where(HumanTask.id.in_(_OPEN_AND_TARGET_IDS)))
# SQLite, a completion: the same, plus the acting user's rows (one per role) and the head of the instance's
# audit stream, both joined onto the task's own row only: the whole read of a completion in one statement.
_STREAM_PREFIX = audit.instance_stream(0).removesuffix("0")  # an instance's stream is named by its id
_USER_ON_TARGET = and_(User.username == bindparam("username"), HumanTask.id == bindparam("task_id"))
_HEAD_OF_INSTANCE = AuditHead.stream == literal(_STREAM_PREFIX, String) + cast(ProcessInstance.id, String)
# The task's columns come as values (a step's task rows are records: engine/store/records.py), not as an entity.
_TASK_COLUMNS = tuple(HumanTask.__table__.c[key] for key in TASK_COLUMNS)
TASK_TO_COMPLETE = (select(*_TASK_COLUMNS, *_INSTANCE_COLUMNS, _HAS_PENDING_JOB, _HAS_TASK_EDIT, User.active,
                            User.attributes, UserRole.role_id, AuditHead.seq.label("head_seq"),
                            AuditHead.hash.label("head_hash"))
                     .select_from(HumanTask.__table__
                                  .outerjoin(ProcessInstance.__table__,
                                             and_(ProcessInstance.id == HumanTask.instance_id,
                                                  HumanTask.id == bindparam("task_id")))
                                  .outerjoin(User.__table__, _USER_ON_TARGET)
                                  .outerjoin(UserRole.__table__, UserRole.user_id == User.id)
                                  .outerjoin(AuditHead.__table__, _HEAD_OF_INSTANCE))
                     .where(HumanTask.id.in_(_OPEN_AND_TARGET_IDS)))
# PostgreSQL, a completion: the task's instance and the acting user's rows before the instance's lock (the user
# rows are read without a lock, as `viewer_named` reads them); after it, the task row and the stream's head,
# both locked in one statement (every writer of the stream holds the instance's lock first).
_INSTANCE_OF_TASK_AND_USER = (select(HumanTask.instance_id, User.active, User.attributes, UserRole.role_id)
                              .select_from(HumanTask.__table__
                                           .outerjoin(User.__table__, User.username == bindparam("username"))
                                           .outerjoin(UserRole.__table__, UserRole.user_id == User.id))
                              .where(HumanTask.id == bindparam("task_id")))
_HEAD_OF_TASKS_INSTANCE = (AuditHead.stream ==
                           literal(_STREAM_PREFIX, String) + cast(HumanTask.instance_id, String))
_OPEN_AT_LOCK = "tourflow_open_tasks_read_with_the_lock"  # session.info: (transaction, instance id, rows)
_LOCK_INSTANCE = (select(ProcessInstance).where(ProcessInstance.id == bindparam("instance_id"))
                  .with_for_update(of=ProcessInstance))
_TASK = select(HumanTask).where(HumanTask.id == bindparam("task_id"))
_LOCK_TASK = _TASK.with_for_update().execution_options(populate_existing=True)
_LOCK_TASK_AND_HEAD = (select(*_TASK_COLUMNS, AuditHead.seq, AuditHead.hash)
                       .select_from(HumanTask.__table__.join(AuditHead.__table__, _HEAD_OF_TASKS_INSTANCE))
                       .where(HumanTask.id == bindparam("task_id"))
                       .with_for_update(of=(HumanTask.__table__, AuditHead.__table__)))
_LOCK_TASK_RECORD = select(*_TASK_COLUMNS).where(HumanTask.id == bindparam("task_id")).with_for_update()
# A step's open task rows, as records.
OPEN_TASK_RECORDS = select(*_TASK_COLUMNS).where(HumanTask.instance_id == bindparam("instance_id"),
                                                 HumanTask.state == READY_IN_SQL)
_VIEWER = (select(User.active, User.attributes, UserRole.role_id)
           .outerjoin(UserRole, UserRole.user_id == User.id).where(User.username == bindparam("username")))


_MAX_INSTANCE_ID = select(func.max(ProcessInstance.id))
_NEXT_INSTANCE_ID = text("SELECT nextval(pg_get_serial_sequence('process_instance', 'id'))")
_RESERVED_ID = "tourflow_reserved_instance_id"


def reserve_instance_id(session: Session) -> int:
    """The id of an instance this transaction is about to start, known before its row is written, so
    the row is inserted once, with what the step made of it (not inserted empty, then updated)."""
    if session.get_bind().dialect.name != "sqlite":
        return driver_sql.connection_of(session).execute(_NEXT_INSTANCE_ID).scalar_one()
    return reserve_after(session, driver_sql.connection_of(session).execute(_MAX_INSTANCE_ID).scalar())


def reserve_after(session: Session, top: int | None) -> int:
    """SQLite: the id after `top`, the table's max(id) read in this transaction (engine/run/start_reads.py
    reads it with the start's other facts), and after any id this transaction reserved before."""
    # BEGIN IMMEDIATE holds the write lock, so no other writer takes the next id; ids this transaction
    # reserved earlier may not be written yet. (SQLite itself gives a new row max(id) + 1.)
    reserved = max(top or 0, session.info.get(_RESERVED_ID, 0)) + 1
    session.info[_RESERVED_ID] = reserved
    return reserved


def lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """The instance row, locked for the rest of the transaction (every step locks it first)."""
    if session.get_bind().dialect.name == "sqlite":
        found = session.execute(_INSTANCE_WITH_JOBS, {"instance_id": instance_id}).first()
        instance = _noted(session, found[0], found[1], found[2]) if found is not None else None
    else:
        instance = session.execute(_LOCK_INSTANCE, {"instance_id": instance_id}).scalar_one_or_none()
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist", key="instance.missing", params={"id": instance_id})
    return instance


def _noted(session: Session, instance: InstanceRow, has_pending_job: bool, has_task_edit: bool) -> InstanceRow:
    """SQLite: BEGIN IMMEDIATE holds the write lock, so whether the instance has a pending job, or a draft
    or presence row of one of its tasks, is known now and stays so but for the session's own writes: the
    state hash at commit need not read its jobs, nor the step's cleanup delete drafts it has not."""
    if not has_pending_job:
        state_hash.know_no_pending_jobs(session, instance.id)
    if not has_task_edit:
        task_edit_cleanup.know_no_edits(session, instance.id)
    return instance


def lock_instance_record(session: Session, instance_id: int) -> InstanceRecord:
    """`lock_instance` for a step: the row as a record the transaction holds (written back by the step, or
    at the end of the unit of work: row_writes.write_held_instances)."""
    connection = driver_sql.connection_of(session)
    if connection.dialect.name == "sqlite":
        found = driver_sql.run(connection, INSTANCE_RECORD_WITH_JOBS, {"instance_id": instance_id}).first()
        record = None
        if found is not None:
            width = len(INSTANCE_COLUMNS)
            record = _noted(session, _held_instance(session, found[:width]), found[width], found[width + 1])
    else:
        found = driver_sql.run(connection, LOCK_INSTANCE_RECORD, {"instance_id": instance_id}).first()
        record = _held_instance(session, found) if found is not None else None
    if record is None:
        raise NotFound(f"instance {instance_id} does not exist", key="instance.missing", params={"id": instance_id})
    return record


def _held_instance(session: Session, values) -> InstanceRecord:
    held = held_instances(session).get(values[0])
    if held is not None:  # a second step on it in this transaction: the record the first one left
        return held
    record = InstanceRecord.from_row(values)
    hold_instance(session, record)
    return record


def instance_row(session: Session, instance_id: int) -> ProcessInstance:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist", key="instance.missing", params={"id": instance_id})
    return instance


def _task_missing(task_id: int) -> NotFound:
    return NotFound(f"task {task_id} does not exist", key="task.missing", params={"id": task_id})


def task_row(session: Session, task_id: int) -> HumanTask:
    row = session.execute(_TASK, {"task_id": task_id}).scalar_one_or_none()
    if row is None:
        raise _task_missing(task_id)
    return row


def _hold_open_rows(session: Session, instance_id: int, rows: list[TaskRecord]) -> None:
    """The instance's open task rows, read by a completion's lock statement, held for its step
    (`open_tasks_read_with_lock`)."""
    session.info[_OPEN_AT_LOCK] = (transaction_token(session), instance_id, rows)


def lock_task(session: Session, task_id: int) -> HumanTask:
    """Lock the task's instance, then the task: the same order as every step, so no deadlock."""
    return lock_task_and_instance(session, task_id)[0]


def lock_task_and_instance(session: Session, task_id: int) -> tuple[HumanTask, ProcessInstance]:
    """The task row and its instance row, both locked (instance first, as every step locks)."""
    if session.get_bind().dialect.name == "sqlite":
        # BEGIN IMMEDIATE took the database's write lock before the task was read: both are current. (A command
        # that is not a step, e.g. a claim: ORM objects; the open tasks it also reads are not kept.)
        found = session.execute(_TASK_WITH_INSTANCE, {"task_id": task_id}).all()
        targets = [r for r in found if r[0].id == task_id]
        if not targets:
            raise _task_missing(task_id)
        return targets[0][0], _noted(session, targets[0][1], targets[0][2], targets[0][3])
    row = task_row(session, task_id)
    instance = lock_instance(session, row.instance_id)
    return session.execute(_LOCK_TASK, {"task_id": task_id}).scalar_one(), instance


def lock_task_to_complete(session: Session, task_id: int, actor: str) -> tuple[TaskRecord, InstanceRecord, Viewer]:
    """`lock_task_and_instance` for a completion, with the acting user (`viewer_named`; NotAllowed after
    NotFound) and the head of the instance's audit stream read in the same statements (two fewer)."""
    known = acting_viewer(actor)  # the request's user, read at its start: then the user's join finds no row
    if session.get_bind().dialect.name != "sqlite":
        return _lock_task_to_complete_elsewhere(session, task_id, actor, known)
    found = driver_sql.run(driver_sql.connection_of(session), TASK_TO_COMPLETE,
                           {"task_id": task_id, "username": None if known else actor}).all()
    width, after = len(TASK_COLUMNS), len(TASK_COLUMNS) + len(INSTANCE_COLUMNS)
    records: dict[int, TaskRecord] = {}  # one record per row, however often the statement returns it
    for r in found:
        if r[0] not in records:
            records[r[0]] = TaskRecord.from_row(r[:width])
    row = records.get(task_id)
    targets = [r for r in found if r[0] == task_id and r[width] is not None]
    if row is None or not targets:
        raise _task_missing(task_id)
    instance = _noted(session, _held_instance(session, targets[0][width:after]), targets[0][after],
                      targets[0][after + 1])
    _hold_open_rows(session, instance.id, [r for r in records.values() if r.state == HumanTaskState.READY])
    audit_buffer.read_head(session, audit.instance_stream(instance.id), targets[0].head_seq, targets[0].head_hash,
                           audit.GENESIS)
    return row, instance, known or viewer_of_rows(actor, targets)


def _lock_task_to_complete_elsewhere(session: Session, task_id: int, actor: str, known: Viewer | None
                                     ) -> tuple[TaskRecord, InstanceRecord, Viewer]:
    found = driver_sql.connection_of(session).execute(
        _INSTANCE_OF_TASK_AND_USER, {"task_id": task_id, "username": None if known else actor}).all()
    if not found:
        raise _task_missing(task_id)
    instance = lock_instance_record(session, found[0].instance_id)
    connection = driver_sql.connection_of(session)
    locked = connection.execute(_LOCK_TASK_AND_HEAD, {"task_id": task_id}).first()
    width = len(TASK_COLUMNS)
    if locked is None:  # the stream has no head row (yet): the task alone, the head read when appended
        row = TaskRecord.from_row(connection.execute(_LOCK_TASK_RECORD, {"task_id": task_id}).one())
    else:
        row = TaskRecord.from_row(locked[:width])
        audit_buffer.read_head(session, audit.instance_stream(instance.id), locked[width], locked[width + 1],
                               audit.GENESIS)
    return row, instance, known or viewer_of_rows(actor, found)


def open_tasks_read_with_lock(session: Session, instance_id: int) -> list[TaskRecord] | None:
    """The instance's open task rows as this transaction's lock statement read them (SQLite, a task's
    lock), or None: then the step reads them itself."""
    held = session.info.pop(_OPEN_AT_LOCK, None)
    if held is None or held[0] is not transaction_token(session) or held[1] != instance_id:
        return None
    return held[2]


def viewer_named(session: Session, username: str) -> Viewer:
    """The active user `username` as the policy sees them; NotAllowed if unknown or inactive."""
    if (known := acting_viewer(username)) is not None:  # the request's user, read at its start
        return known
    # On the connection: a read of columns, nothing for the ORM to make or flush first.
    found = driver_sql.connection_of(session).execute(_VIEWER, {"username": username}).all()
    return viewer_of_rows(username, found)


def viewer_of_rows(username: str, found) -> Viewer:
    """The viewer from rows of (active, attributes, role_id), one per role (`_VIEWER`'s shape, or a
    statement that joins it); NotAllowed if none names an active user."""
    viewer = access_viewer_of_rows(username, found)
    if viewer is None:
        raise NotAllowed(f"unknown or inactive user {username!r}", key="user.inactive", params={"user": username})
    return viewer


def iso(moment: datetime | None) -> str | None:
    """A stored moment as ISO 8601 UTC with a Z (None stays None)."""
    return iso_z(moment)


def instance_dict(instance: InstanceRow, version: int) -> dict[str, Any]:
    """An instance's summary; `version` is its deployment's (Runtime.deployed, cached)."""
    return {
        "id": instance.id,
        "process": instance.process_id,
        "version": version,
        "status": instance.status,
        "business_key": instance.business_key,
        "data": instance.data,
        "error": instance.error,
        "started_at": iso(instance.started_at),
        "started_by": instance.started_by,
        "ended_at": iso(instance.ended_at),
    }


def task_dict(row: TaskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "task": row.task,
        "name": row.name,
        "lane": row.lane,
        "routing": row.routing or {},
        "state": row.state,
        "assignee": row.assignee,
        "form": row.form_ref,
        "due_at": iso(row.due_at),
        "follow_up_at": iso(row.follow_up_at),
        "created_at": iso(row.created_at),
        "completed_at": iso(row.completed_at),
        "completed_by": row.completed_by,
        "summary": row.summary,
    }


def job_dict(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "state": job.state, "instance_id": job.instance_id,
            "deployment_id": job.deployment_id, "task": job.task, "due_at": iso(job.due_at),
            "attempts": job.attempts, "failures": job.failures, "locked_by": job.locked_by,
            "lease_until": iso(job.lease_until), "last_error": job.last_error}


__all__ = ["INSTANCE_RECORD_WITH_JOBS", "LOCK_INSTANCE_RECORD", "OPEN_TASK_RECORDS", "READY_IN_SQL", "TASK_TO_COMPLETE", "open_tasks_read_with_lock", "viewer_of_rows", "instance_dict", "instance_row", "iso", "job_dict", "lock_instance", "lock_instance_record", "lock_task", "lock_task_and_instance",
           "lock_task_to_complete",
           "reserve_after", "reserve_instance_id", "task_dict",
           "task_row", "viewer_named"]
