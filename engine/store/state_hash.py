"""The hash of an instance's stored state, recorded in its hash chain at the end of every write.

Every write transaction that changes an instance (a step, a claim, a job's scheduling) ends
with a `state_written` event on the instance's stream, appended when the transaction commits:
its payload holds `state_sha256`, the sha256 of the canonical JSON of `stored_state`. So the
newest `state_written` event vouches for the state the engine left, and `tourflow audit verify`
can tell a row edited around the engine from one the engine wrote (docs/engine.md, "Audit").

What is hashed (scheme 2), as the transaction leaves it (the instance from the session, where a
step holds it locked and just written; its task and job rows read back after the flush, or taken
from the session when the transaction knows every such row of the instance: see `know_tasks`):
* the instance row: deployment_id, status, business_key, error, ended_at, data, and the sha256
  of `serialized` (the string the step produced for the write, never serialized again);
* its open human_task rows (state "ready"): id, spiff_task_id, task, lane, routing,
  assignee, form_ref, due_at, state (scheme 1, before migration 0009, hashed the routing as the
  columns desk and branch: an instance whose last record is of scheme 1 is checked that way);
* its pending jobs: id, kind, spiff_task_id, task, due_at, attempts.
Not hashed: what only records the past (completed tasks, done jobs, summaries) and what the
scheduler changes on its own (job leases, failure counts).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, event, func, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from engine.clock import naive_utc_iso, utcnow
from engine.store import audit, audit_buffer, driver_sql
from engine.store.models import AuditEvent, HumanTask, Job, ProcessInstance
from engine.store.records import InstanceRecord, TaskRecord, TaskRow, held_instances
from engine.store.states import HumanTaskState, JobState

STATE_EVENT = audit.STATE_EVENT
SCHEME = 2
LEGACY_ROUTING_COLUMNS = ("desk", "branch")  # scheme 1: human_task's routing columns before 0009
_TOUCHED = audit.TOUCHED_KEY
_KNOWN = "tourflow_state_known_rows"
_ROW_TABLES = frozenset({HumanTask.__table__, Job.__table__})

_INSTANCE_COLUMNS = (ProcessInstance.id, ProcessInstance.deployment_id, ProcessInstance.status,
                     ProcessInstance.business_key, ProcessInstance.error, ProcessInstance.ended_at,
                     ProcessInstance.data)
_TASK_COLUMNS = (HumanTask.instance_id, HumanTask.id, HumanTask.spiff_task_id, HumanTask.task, HumanTask.lane,
                 HumanTask.routing, HumanTask.assignee, HumanTask.form_ref, HumanTask.due_at,
                 HumanTask.state)
_JOB_COLUMNS = (Job.instance_id, Job.id, Job.kind, Job.spiff_task_id, Job.task, Job.due_at, Job.attempts)


# ---- what is hashed ------------------------------------------------------------------------
def _iso(moment: datetime | None) -> str | None:
    return naive_utc_iso(moment, timespec="microseconds") if moment else None


def _instance_part(row, serialized: str) -> dict[str, Any]:
    return {"deployment_id": row.deployment_id, "status": row.status, "business_key": row.business_key,
            "error": row.error, "ended_at": _iso(row.ended_at), "data": row.data,
            "serialized_sha256": hashlib.sha256(serialized.encode()).hexdigest()}


def _task_part(row, scheme: int = SCHEME) -> dict[str, Any]:
    routing = row.routing or {}
    routed = ({"routing": routing} if scheme >= 2
              else {column: routing.get(column) for column in LEGACY_ROUTING_COLUMNS})
    return {"id": row.id, "spiff_task_id": row.spiff_task_id, "task": row.task, "lane": row.lane, **routed,
            "assignee": row.assignee, "form_ref": row.form_ref, "due_at": _iso(row.due_at), "state": row.state}


def _job_part(row) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "spiff_task_id": row.spiff_task_id, "task": row.task,
            "due_at": _iso(row.due_at), "attempts": row.attempts}


def state_sha256(instance: dict[str, Any], tasks: list[dict[str, Any]], jobs: list[dict[str, Any]],
                 scheme: int = SCHEME) -> str:
    state = {"scheme": scheme, "instance": instance, "tasks": tasks, "jobs": jobs}  # its parts: rows' values, once each
    return hashlib.sha256(audit.canonical_plain_json(state).encode()).hexdigest()


_OPEN_TASKS = (select(*_TASK_COLUMNS).where(HumanTask.state == HumanTaskState.READY)
               .order_by(HumanTask.instance_id, HumanTask.id))
_PENDING_JOBS = (select(*_JOB_COLUMNS).where(Job.state == JobState.PENDING, Job.instance_id.is_not(None))
                 .order_by(Job.instance_id, Job.id))
# Each with its one instance's, built once (a claim or a scheduler write reads them at every commit).
_TASKS_READ = (_OPEN_TASKS, _OPEN_TASKS.where(HumanTask.instance_id == bindparam("instance_id")), HumanTask.instance_id)
_JOBS_READ = (_PENDING_JOBS, _PENDING_JOBS.where(Job.instance_id == bindparam("instance_id")), Job.instance_id)


def _read(session: Session, read: tuple, ids: Iterable[int] | int | None):
    every, one_of, instance_id = read
    if isinstance(ids, int):  # at a commit, after its last flush: on the connection (no ORM transaction begun)
        return driver_sql.run(driver_sql.connection_of(session), one_of, {"instance_id": ids}).all()
    return session.execute(every if ids is None else every.where(instance_id.in_(list(ids))))


def live_hashes(session: Session, instance_ids: list[int] | None = None,
                schemes: dict[int, int] | None = None) -> dict[int, str]:
    """The hash of each instance's state as stored now (all instances, or those named), in three reads;
    by `schemes` (instance id -> scheme, SCHEME when not named)."""
    schemes = schemes or {}
    tasks: dict[int, list[dict[str, Any]]] = {}
    for row in _read(session, _TASKS_READ, instance_ids):
        tasks.setdefault(row.instance_id, []).append(_task_part(row, schemes.get(row.instance_id, SCHEME)))
    jobs: dict[int, list[dict[str, Any]]] = {}
    for row in _read(session, _JOBS_READ, instance_ids):
        jobs.setdefault(row.instance_id, []).append(_job_part(row))
    query = select(*_INSTANCE_COLUMNS, ProcessInstance.serialized).execution_options(yield_per=200)
    if instance_ids is not None:
        query = query.where(ProcessInstance.id.in_(instance_ids))
    return {row.id: state_sha256(_instance_part(row, row.serialized), tasks.get(row.id, []), jobs.get(row.id, []),
                                 schemes.get(row.id, SCHEME))
            for row in session.execute(query)}


# ---- rows the transaction knows -------------------------------------------------------------
@dataclass
class KnownRows:
    """Every task row (`tasks`) or job row (`jobs`) of one instance that can be open or pending when
    the transaction commits, as objects of its session; None: not known, read back at commit.

    Known from a read under the instance's lock (all its open tasks, or that it has no pending job) or
    because the instance was created in this transaction; rows the session adds later join the set at
    their flush (`_collect`). A row of the instance the set does not hold that the session changes, or
    any bulk statement on task or job rows, makes the set unknown again."""

    tasks: dict[int, TaskRow] | None = None  # by the Python identity of each row's object, in the order known
    jobs: set[Job] | None = None


def _known(session: Session, instance_id: int) -> KnownRows:
    return session.info.setdefault(_KNOWN, {}).setdefault(instance_id, KnownRows())


def know_new_instance(session: Session, instance_id: int) -> None:
    """The instance was inserted by this transaction: it has no task or job rows but those it adds."""
    known = _known(session, instance_id)
    known.tasks, known.jobs = {}, set()


def know_tasks(session: Session, instance_id: int, rows: Iterable[TaskRow]) -> None:
    """`rows` are all the instance's open task rows, just read under its lock (ORM objects or a step's
    records: engine/store/records.py); the newest object of a row (a second step's) stands for it."""
    known = _known(session, instance_id)
    tasks = known.tasks = {} if known.tasks is None else known.tasks
    for row in rows:  # last: the newest of the objects of one row
        tasks[id(row)] = tasks.pop(id(row), row)


def know_no_pending_jobs(session: Session, instance_id: int) -> None:
    """The instance had no pending job when it was locked (rows added since are in the session)."""
    _known(session, instance_id).jobs = set()


def know_jobs(session: Session, instance_id: int, rows: Iterable[Job]) -> None:
    """`rows` are all the instance's pending jobs, just read under its lock."""
    known = _known(session, instance_id)
    known.jobs = set(rows) if known.jobs is None else known.jobs | set(rows)


def _account(known: dict[int, KnownRows], obj: object, new: bool) -> None:
    """A task or job row the step did not read: a new one joins the known set, any other unsets it."""
    if isinstance(obj, HumanTask | TaskRecord):
        field = "tasks"
    elif isinstance(obj, Job) and obj.instance_id is not None:
        field = "jobs"
    else:
        return
    rows = known.get(obj.instance_id)
    held = getattr(rows, field) if rows is not None else None
    if held is not None and (id(obj) not in held if field == "tasks" else obj not in held):
        if not new:
            setattr(rows, field, None)
        elif field == "tasks":
            held[id(obj)] = obj
        else:
            held.add(obj)


def note_written(session: Session, objects: Iterable[object], new: bool) -> None:
    """Rows a flush writes (`_collect`), or a statement of their own (engine/run/row_writes.py): their
    instances are to be recorded at commit, and the known sets stay exact."""
    touched = session.info.setdefault(_TOUCHED, {})
    known = session.info.get(_KNOWN)
    for obj in objects:
        if isinstance(obj, ProcessInstance | InstanceRecord):
            if obj.id is not None:
                touched.setdefault(obj.id, None)
        elif isinstance(obj, HumanTask | TaskRecord | Job) and obj.instance_id is not None:
            touched.setdefault(obj.instance_id, None)
            if known:
                _account(known, obj, new=new)


def _forget_known_on_bulk_write(state: ORMExecuteState) -> None:
    """An UPDATE, DELETE or INSERT statement on task or job rows: no set of rows is known any more."""
    if state.is_select or _KNOWN not in state.session.info:
        return
    table = getattr(state.statement, "table", None)
    if table is None or table in _ROW_TABLES:
        state.session.info.pop(_KNOWN, None)


def _known_parts(session: Session, instance_id: int):
    known = session.info.get(_KNOWN, {}).get(instance_id)
    if known is None:
        return None, None
    tasks = jobs = None
    if known.tasks is not None:
        newest = {r.id: r for r in known.tasks.values() if _present(r)}  # a row's newest object speaks for it
        rows = sorted((r for r in newest.values() if r.state == HumanTaskState.READY), key=_by_id)
        tasks = [_task_part(r) for r in rows]
    if known.jobs is not None:
        rows = sorted((r for r in known.jobs if _present(r) and r.state == JobState.PENDING), key=_by_id)
        jobs = [_job_part(r) for r in rows]
    return tasks, jobs


def _present(obj: object) -> bool:
    return isinstance(obj, TaskRecord) or inspect(obj).persistent  # not deleted, nor rolled back (a savepoint)


def _by_id(row) -> int:
    return row.id


# ---- recording, at the end of every write transaction --------------------------------------
def _collect(session: Session, _flush_context, _instances) -> None:
    """Instances whose rows this flush writes (audit.append marks those it appends events for)."""
    note_written(session, session.new, new=True)
    note_written(session, (*session.dirty, *session.deleted), new=False)


def _record(session: Session) -> None:
    if not session.in_nested_transaction():  # (a savepoint: the step goes on)
        record_written_states(session)


def record_written_states(session: Session) -> None:
    """A write transaction's end (its Session's commit, or its unit's): each written instance's state hashed."""
    session.flush()  # the step's last writes, and `_collect` sees them
    touched = session.info.pop(_TOUCHED, None)
    for instance_id, last in sorted((touched or {}).items()):
        actor, at = last if last is not None else (audit.SYSTEM_ACTOR, utcnow())
        record_state(session, instance_id, actor, at)
    audit_buffer.write_pending(session)  # the transaction's events, the state's last, in one batch


def record_state(session: Session, instance_id: int, actor: str, at: datetime) -> None:
    # A step's instance record or a claim's object, locked: the row as written (serialized once).
    instance = held_instances(session).get(instance_id) or session.identity_map.get(
        session.identity_key(ProcessInstance, instance_id))
    if instance is None:
        # A scheduler write (a job moved or cancelled): lock the instance first, as every step does,
        # so the state read below is the one this transaction leaves.
        instance = session.execute(
            select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
        ).scalar_one_or_none()
        if instance is None:
            return
    tasks, jobs = _known_parts(session, instance_id)
    if tasks is None:
        tasks = [_task_part(r) for r in _read(session, _TASKS_READ, instance_id)]
    if jobs is None:
        jobs = [_job_part(r) for r in _read(session, _JOBS_READ, instance_id)]
    digest = state_sha256(_instance_part(instance, instance.serialized), tasks, jobs)
    audit.append(session, kind=STATE_EVENT, actor=actor, at=at, instance_id=instance_id,
                 payload={"state_sha256": digest, "scheme": SCHEME}, plain=True)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_TOUCHED, None)
        session.info.pop(_KNOWN, None)


def install(factory: sessionmaker) -> None:
    """Record the state hash in every write session made by `factory`."""
    factory.configure(info={**(factory.kw.get("info") or {}), audit_buffer.WRITTEN_BY_OWNER: True})
    event.listen(factory, "before_flush", _collect)
    event.listen(factory, "before_commit", _record)
    event.listen(factory, "after_transaction_end", _forget)
    event.listen(factory, "do_orm_execute", _forget_known_on_bulk_write)


# ---- checking ------------------------------------------------------------------------------
UNRECORDED = "no state hash recorded (before state hash scheme 1)"


@dataclass(frozen=True)
class StateCheck:
    """One instance's live state against its last recorded state hash.

    verdict: "ok", "differs" (edited around the engine) or "unrecorded" (its events predate state hashes).
    """

    instance_id: int
    verdict: str
    seq: int | None
    message: str


def recorded_hashes(session: Session,
                    instance_ids: list[int] | None = None) -> dict[int, tuple[int, str | None, int]]:
    """Each instance's newest state_written event: (seq, its state_sha256, its scheme); by the streams of
    those named (the unique (stream, seq) index; no index by kind: audit_kinds.py), else from every event."""
    which = AuditEvent.instance_id.is_not(None) if instance_ids is None else \
        AuditEvent.stream.in_([audit.instance_stream(i) for i in instance_ids])
    newest = select(AuditEvent.stream, func.max(AuditEvent.seq).label("seq")).where(
        AuditEvent.kind == STATE_EVENT, which).group_by(AuditEvent.stream).subquery()
    rows = session.execute(select(AuditEvent.instance_id, AuditEvent.seq, AuditEvent.payload).join(
        newest, and_(AuditEvent.stream == newest.c.stream, AuditEvent.seq == newest.c.seq)))
    return {row.instance_id: (row.seq, *_recorded_digest(row.payload)) for row in rows}


def _recorded_digest(payload: str) -> tuple[str | None, int]:
    try:
        value = json.loads(payload)
    except ValueError:
        return None, SCHEME
    if not isinstance(value, dict):
        return None, SCHEME
    scheme = value.get("scheme")
    return value.get("state_sha256"), scheme if isinstance(scheme, int) else SCHEME


def check_states(session: Session, instance_ids: list[int]) -> dict[int, StateCheck]:
    """The live state of each instance (that has events) against the state its record last vouched for."""
    recorded = recorded_hashes(session, instance_ids)
    live = live_hashes(session, instance_ids, {i: scheme for i, (_seq, _digest, scheme) in recorded.items()})
    result = {}
    for instance_id in instance_ids:
        seq, digest, _scheme = recorded.get(instance_id, (None, None, SCHEME))
        if seq is None:
            result[instance_id] = StateCheck(instance_id, "unrecorded", None, UNRECORDED)
        elif live.get(instance_id) is None or live[instance_id] != digest:
            gone = "" if instance_id in live else " (its process_instance row is gone)"
            result[instance_id] = StateCheck(instance_id, "differs", seq, f"live state of instance {instance_id} "
                                             f"differs from the state recorded at seq {seq}{gone}")
        else:
            result[instance_id] = StateCheck(instance_id, "ok", seq, f"live state matches the state recorded at "
                                                                     f"seq {seq}")
    return result


def state_break(check: StateCheck) -> audit.ChainBreak | None:
    """A live state that differs, as the break `tourflow audit verify` and the pages report."""
    if check.verdict != "differs":
        return None
    return audit.ChainBreak(audit.instance_stream(check.instance_id), check.seq or 0, check.message,
                            audit.STATE_MISMATCH)


@dataclass(frozen=True)
class Verification:
    """`tourflow audit verify`: the chain breaks, then the live states that differ (instances whose
    chain is intact), the instances without a recorded state, and how many states matched."""

    breaks: list[audit.ChainBreak]
    unrecorded: list[StateCheck]
    matching: int
    streams: int


def verify(session: Session, streams: list[str] | None = None) -> Verification:
    streams = streams or audit.all_streams(session)
    breaks = audit.verify(session, streams)
    broken = {b.stream for b in breaks}
    ids = [i for s in streams if s not in broken and (i := audit.stream_instance_id(s)) is not None]
    checks = check_states(session, ids) if ids else {}
    differ = [b for c in checks.values() if (b := state_break(c)) is not None]
    return Verification(breaks + differ, [c for c in checks.values() if c.verdict == "unrecorded"],
                        sum(c.verdict == "ok" for c in checks.values()), len(streams))


def with_states(session: Session, statuses: list[audit.StreamStatus]) -> list[audit.StreamStatus]:
    """Stream verdicts (audit.stream_statuses) with each intact instance stream's live state checked:
    a state that differs becomes the stream's break (problem state_mismatch)."""
    ids = [s.instance_id for s in statuses if s.instance_id is not None and s.brk is None and s.events]
    checks = check_states(session, ids) if ids else {}
    result = []
    for status in statuses:
        check = checks.get(status.instance_id)
        if check is None:
            result.append(status)
        else:
            result.append(replace(status, brk=state_break(check), state=check.verdict, state_seq=check.seq,
                                  state_message=check.message))
    return result


__all__ = ["STATE_EVENT", "UNRECORDED", "KnownRows", "StateCheck", "Verification", "check_states", "install",
           "know_jobs", "know_new_instance", "know_no_pending_jobs", "know_tasks", "live_hashes", "note_written",
           "record_written_states", "state_break", "verify", "with_states"]
