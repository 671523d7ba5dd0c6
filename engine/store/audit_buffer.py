"""The audit events a write transaction appends, written in one batch rather than one by one.

A step appends several events (its task, its handlers, the state it left); going through the
ORM unit of work, each was an INSERT and each flush an UPDATE of the stream's head. Here they
wait in the session and are written with one multi-row INSERT, and each stream's head with one
statement, when the transaction commits, or earlier when something must see them:
* a statement that reads audit_event or audit_head (e.g. a handler asking who completed a task);
A savepoint rolled back takes back what was appended inside it: the buffer and the heads return
to what they were when it opened (rows written meanwhile were rolled back with it, so they wait again).
The hash chain is computed when an event is appended, exactly as before; only the moment of the
INSERT moves, always inside the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.util import find_tables

from engine.store import driver_sql
from engine.store.models import AuditEvent, AuditHead

_KEY = "tourflow_audit_buffer"
_EVENTS = AuditEvent.__table__
_HEADS = AuditHead.__table__
_AUDIT_TABLES = frozenset({_EVENTS, _HEADS})
# Built once: building a statement costs about as much as running it.
HEAD_OF_STREAM = select(AuditHead.seq, AuditHead.hash).where(AuditHead.stream == bindparam("stream")).with_for_update()
_EVENT_COLUMNS = ("stream", "instance_id", "seq", "at", "actor", "kind", "payload", "prev_hash", "hash")
INSERT_EVENTS = insert(_EVENTS).values({key: bindparam(key, type_=_EVENTS.c[key].type) for key in _EVENT_COLUMNS})
_UPDATE_HEAD = (update(_HEADS).where(_HEADS.c.stream == bindparam("head_stream"))
                .values(seq=bindparam("head_seq"), hash=bindparam("head_hash")))
_INSERT_HEAD = insert(_HEADS).values(stream=bindparam("head_stream"), seq=bindparam("head_seq"),
                                     hash=bindparam("head_hash"))
# Set in the info of sessions whose commit writes the buffer itself, after its own last event
# (engine/store/state_hash.py appends the state's hash when a write transaction commits).
WRITTEN_BY_OWNER = "tourflow_audit_written_by_owner"


@dataclass
class Head:
    seq: int
    hash: str
    stored: bool  # audit_head has a row for the stream (else the first write inserts it)
    dirty: bool = False


@dataclass
class Buffer:
    heads: dict[str, Head] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    batches: int = 0  # multi-row INSERTs written (tests count them)
    # per open savepoint: the pending rows and the heads when it opened
    savepoints: dict[int, tuple[list[dict[str, Any]], dict[str, Head]]] = field(default_factory=dict)


def buffer_of(session: Session) -> Buffer:
    buffer = session.info.get(_KEY)
    if buffer is None:
        buffer = session.info[_KEY] = Buffer()
    return buffer


def head_of(session: Session, stream: str, genesis: str) -> Head:
    """The stream's head as this transaction sees it; read (and locked) from the database once."""
    buffer = buffer_of(session)
    head = buffer.heads.get(stream)
    if head is None:
        # On the connection: no flush, and no write of the buffer first (it holds no event of this stream).
        row = driver_sql.run(driver_sql.connection_of(session), HEAD_OF_STREAM, {"stream": stream}).first()
        head = Head(row.seq, row.hash, True) if row is not None else Head(0, genesis, False)
        buffer.heads[stream] = head
    return head


def read_head(session: Session, stream: str, seq: int | None, hash_: str | None, genesis: str) -> None:
    """The stream's head as a statement of this transaction read it together with the lock that keeps it
    current (a task's lock for its completion: engine/run/rows.py), so `head_of` need not read it again;
    `seq` None: the stream has no head row. A head this transaction already holds is kept."""
    head = Head(seq, hash_, True) if seq is not None and hash_ is not None else Head(0, genesis, False)
    buffer_of(session).heads.setdefault(stream, head)


def new_stream(session: Session, stream: str, genesis: str) -> None:
    """A stream that starts in this transaction (a new instance's): its head is not read but inserted
    at the first write; were there a head already, that INSERT fails rather than fork the chain."""
    buffer_of(session).heads.setdefault(stream, Head(0, genesis, False))


def write_pending(session: Session) -> None:
    """Write the buffered events (one INSERT) and the heads they moved (one statement per stream)."""
    buffer = session.info.get(_KEY)
    if buffer is None:
        return
    dirty = [(stream, head) for stream, head in buffer.heads.items() if head.dirty]
    if not buffer.rows and not dirty:
        return
    rows, buffer.rows = buffer.rows, []
    connection = driver_sql.connection_of(session)
    if rows:
        driver = driver_sql.driver_statement(connection.dialect, INSERT_EVENTS)
        if driver is None:
            connection.execute(INSERT_EVENTS, rows)
        else:
            driver_sql.execute(connection, driver.sql, _event_params(driver, rows))
        buffer.batches += 1
    for stream, head in dirty:
        driver_sql.run(connection, _UPDATE_HEAD if head.stored else _INSERT_HEAD,
                       {"head_stream": stream, "head_seq": head.seq, "head_hash": head.hash})
        head.stored = True
        head.dirty = False


def _event_params(driver: driver_sql.DriverStatement, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The batch's rows as the driver takes them (`DriverStatement.params` of each), a value its rows share
    (a step's events share their moment) processed once: ~0.05 ms of a ten-service-task step."""
    values = list(map(itemgetter(*driver.order), rows))
    for index, bind in driver.bound:
        last_in, last_out = _UNSET, None
        for i, row in enumerate(values):
            value = row[index]
            if value is not last_in:
                last_in, last_out = value, bind(value)
            values[i] = (*row[:index], last_out, *row[index + 1:])
    return values


_UNSET = object()


def _before_reading_audit(state: ORMExecuteState) -> None:
    if not state.is_select:  # the audit tables are never updated or deleted from
        return
    buffer = state.session.info.get(_KEY)
    if buffer is None or not (buffer.rows or any(h.dirty for h in buffer.heads.values())):
        return
    if _reads_audit(state.statement):
        write_pending(state.session)


def _reads_audit(statement) -> bool:
    """Whether a statement reads the audit tables; remembered for the statements built once (most of
    a step's), by identity, in a bounded table."""
    known = _READS_AUDIT.get(id(statement))
    if known is not None and known[0] is statement:
        return known[1]
    tables = find_tables(statement, check_columns=True, include_selects=True, include_crud=True)
    reads = bool(_AUDIT_TABLES.intersection(tables))
    if len(_READS_AUDIT) >= _READS_AUDIT_MAX:
        _READS_AUDIT.clear()
    _READS_AUDIT[id(statement)] = (statement, reads)
    return reads


_READS_AUDIT: dict[int, tuple[object, bool]] = {}
_READS_AUDIT_MAX = 512


def _before_commit(session: Session) -> None:
    if not session.info.get(WRITTEN_BY_OWNER):
        write_pending(session)


def _on_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        buffer = buffer_of(session)
        buffer.savepoints[id(transaction)] = (list(buffer.rows),
                                              {s: replace(h) for s, h in buffer.heads.items()})


def _on_rollback(session: Session, previous: SessionTransaction) -> None:
    buffer = session.info.get(_KEY)
    if buffer is None:
        return
    if not previous.nested:
        session.info.pop(_KEY, None)  # the whole transaction: nothing stays
        return
    saved = buffer.savepoints.pop(id(previous), None)
    if saved is not None:
        buffer.rows, buffer.heads = saved[0], saved[1]


def _on_end(session: Session, transaction: SessionTransaction) -> None:
    # (a savepoint's snapshot stays until then: SQLAlchemy ends a savepoint before it says it rolled back)
    if transaction.parent is None:
        session.info.pop(_KEY, None)


def _install() -> None:
    if event.contains(Session, "before_commit", _before_commit):
        return
    event.listen(Session, "do_orm_execute", _before_reading_audit)
    event.listen(Session, "after_transaction_create", _on_savepoint)
    event.listen(Session, "after_soft_rollback", _on_rollback)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_transaction_end", _on_end)


_install()

__all__ = ["HEAD_OF_STREAM", "INSERT_EVENTS", "WRITTEN_BY_OWNER", "Buffer", "Head", "buffer_of", "head_of", "new_stream", "read_head", "write_pending"]
