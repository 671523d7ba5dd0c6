"""A step's rows as plain records: the values of a human_task or process_instance row, no ORM object behind.

The ORM's object costs more than the statement that writes it (its constructor, instrumented attribute
sets, the unit of work's bookkeeping, `make_transient`/`add` to settle it after a write of its own): about
ten times a step's INSERT or UPDATE. A step reads and writes its task rows on the connection instead
(engine/run/row_writes.py) and holds them as `TaskRecord`s and its instance as an `InstanceRecord`, with the
same attribute names as the ORM classes, so what reads a row (policy, task_dict, instance_dict, step_answer,
staff alerts, handlers' reads) reads either.

A record remembers the values it was read or written with (`saved`): what changed since is what its
UPDATE writes (`changed_columns`). Commands that are not steps (claim, reassign, edits) keep ORM objects;
no transaction changes one row through both.
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy.orm import Session

from engine.store.models import HumanTask, ProcessInstance
from engine.store.unit_scope import transaction_token

# Every column of human_task, in the table's order (a record is built from a row of them).
TASK_COLUMNS: tuple[str, ...] = tuple(c.key for c in HumanTask.__table__.columns)
INSTANCE_COLUMNS: tuple[str, ...] = tuple(c.key for c in ProcessInstance.__table__.columns)
_INSTANCE_MUTABLE = ("deployment_id", "status", "business_key", "serialized", "data", "ended_at", "error")
# What a step or command may change on a stored row (the rest is fixed when it is inserted).
_MUTABLE = ("task", "name", "lane", "state", "assignee", "form_ref", "due_at", "follow_up_at", "completed_at",
            "completed_by", "search_text")

# What a new task row's INSERT writes: every column but the id and those the database computes.
_NOT_INSERTED = frozenset({"id"} | {c.key for c in HumanTask.__table__.columns if c.computed is not None})
INSERTED_COLUMNS: tuple[str, ...] = tuple(key for key in TASK_COLUMNS if key not in _NOT_INSERTED)


def _filler(columns: tuple[str, ...]):
    """fill(record, row): the row's values set on the record's attributes, in one unpacking (as namedtuple
    and dataclasses make their methods: made once from the column names; ~6x a loop of setattr)."""
    source = f"def fill(record, row):\n    ({', '.join(f'record.{key}' for key in columns)},) = row\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - the text is made of the table's column names alone
    return namespace["fill"]


class _Record:
    """A row's values under its columns' names; `saved`: the mutable ones as stored (None: not inserted yet)."""

    __slots__ = ()
    COLUMNS: tuple[str, ...] = ()  # every column of the table, in its order
    MUTABLE: tuple[str, ...] = ()  # what a step or command may change on a stored row
    saved: tuple[Any, ...] | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fill = staticmethod(_filler(cls.COLUMNS))
        cls._mutable_values = attrgetter(*cls.MUTABLE)  # a tuple of the MUTABLE values (two or more of them)

    def __init__(self, **values: Any) -> None:
        for key in self.COLUMNS:
            setattr(self, key, values.get(key))
        self.saved = None

    @classmethod
    def from_row(cls, row):
        """From a row of COLUMNS' values, in order, as stored."""
        record = cls.__new__(cls)
        cls._fill(record, row)  # a row of another length: ValueError
        record.saved = cls._mutable_values(record)
        return record

    def mark_saved(self) -> None:
        self.saved = self._mutable_values(self)

    def changed_columns(self) -> frozenset[str]:
        """The columns changed since the record was read or written (every mutable one if never written);
        a value still the very object stored is not compared (an instance's serialized state is large)."""
        if self.saved is None:
            return frozenset(self.MUTABLE)
        now = self._mutable_values(self)
        if now == self.saved:  # a tuple compares its items by identity first, then ==: as below
            return _NOTHING
        return frozenset([key for key, value, was in zip(self.MUTABLE, now, self.saved, strict=True)
                          if value is not was and value != was])

    def values(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.COLUMNS}


_NOTHING: frozenset[str] = frozenset()


class TaskRecord(_Record):
    """One human_task row's values."""

    __slots__ = (*TASK_COLUMNS, "saved")
    COLUMNS = TASK_COLUMNS
    MUTABLE = _MUTABLE
    id: int | None
    instance_id: int
    spiff_task_id: str
    process_id: str
    routing: dict[str, Any]
    route_desk: str | None
    route_branch: str | None
    task: str
    name: str
    lane: str
    state: str
    assignee: str | None
    form_ref: str | None
    due_at: datetime | None
    follow_up_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    summary: dict[str, Any]
    search_text: str | None

    def insert_values(self) -> dict[str, Any]:
        """The values its INSERT writes: every column but the id and those the database computes."""
        return {key: getattr(self, key) for key in INSERTED_COLUMNS}

    def __repr__(self) -> str:
        return f"TaskRecord(id={self.id}, instance_id={self.instance_id}, task={self.task!r}, state={self.state!r})"


class InstanceRecord(_Record):
    """One process_instance row's values. `lock_version` is the optimistic lock its UPDATE names
    (engine/run/row_writes.py)."""

    __slots__ = (*INSTANCE_COLUMNS, "saved")
    COLUMNS = INSTANCE_COLUMNS
    MUTABLE = _INSTANCE_MUTABLE
    id: int
    deployment_id: int
    process_id: str
    status: str
    business_key: str | None
    serialized: str
    data: dict[str, Any]
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    error: str | None
    lock_version: int

    def __repr__(self) -> str:
        return f"InstanceRecord(id={self.id}, process_id={self.process_id!r}, status={self.status!r})"


def hold_instance(session: Session, record: InstanceRecord) -> None:
    """The transaction holds `record` for its instance: the state hash at commit reads it (state_hash.py),
    the unit of work writes what changed on it (engine/run/row_writes.py, `write_held_instances`)."""
    held = session.info.get(_HELD)
    token = transaction_token(session)
    if held is None or held[0] is not token:
        held = session.info[_HELD] = (token, {})
    held[1][record.id] = record


def held_instances(session: Session) -> dict[int, InstanceRecord]:
    """The instance records this transaction holds, by id."""
    held = session.info.get(_HELD)
    return held[1] if held is not None and held[0] is transaction_token(session) else {}


_HELD = "tourflow_held_instance_records"

TaskRow = HumanTask | TaskRecord  # what a step's open rows are: records, or ORM objects a command holds
InstanceRow = ProcessInstance | InstanceRecord

__all__ = ["INSERTED_COLUMNS", "INSTANCE_COLUMNS", "TASK_COLUMNS", "InstanceRecord", "InstanceRow", "TaskRecord", "TaskRow",
           "held_instances", "hold_instance"]
