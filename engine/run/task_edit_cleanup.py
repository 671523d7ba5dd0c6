"""When a task leaves the inbox, who had it open and their drafts of it go (table task_edit;
engine/run/task_edits.py keeps them). Called by the step (engine/run/step.py) and by migration."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, event, select
from sqlalchemy.orm import Session, object_session

from engine.store import driver_sql
from engine.store.models import HumanTask, TaskEdit
from engine.store.states import HumanTaskState

# Each task_edit row (open tasks only, a few) probes its task by id, rather than reading every task
# the instance ever had: a long loop closes one per pass. Built once (engine/run/rows.py says why).
_FORGET_CLOSED = delete(TaskEdit).where(
    select(HumanTask.id).where(HumanTask.id == TaskEdit.human_task_id, HumanTask.instance_id == bindparam("instance_id"),
                               HumanTask.state != HumanTaskState.READY).exists())


_NO_EDITS = "tourflow_instances_without_task_edits"  # session.info: instance ids (see know_no_edits)


def know_no_edits(session: Session, instance_id: int) -> None:
    """No open task of the instance has a task_edit row (on SQLite no other task has one), as read under
    the write lock that keeps it so (SQLite's BEGIN IMMEDIATE: no other writer until the commit).
    Forgotten when the transaction ends, and for every instance once the session writes a task_edit row."""
    session.info.setdefault(_NO_EDITS, set()).add(instance_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_NO_EDITS, None)


@event.listens_for(TaskEdit, "before_insert")
def _edit_written(_mapper, _connection, target: TaskEdit) -> None:
    if (session := object_session(target)) is not None:
        session.info.pop(_NO_EDITS, None)


def _has_no_edits(session: Session, instance_id: int) -> bool:
    known = session.info.get(_NO_EDITS)
    return bool(known) and instance_id in known and not any(isinstance(obj, TaskEdit) for obj in session.new)


def forget_closed(session: Session, instance_id: int) -> None:
    """Drop presence and drafts of the instance's tasks that are no longer open (no statement when the
    instance's lock found it has none)."""
    if _has_no_edits(session, instance_id):
        return
    session.flush()  # the tasks' closed states, which the DELETE reads
    # On the connection: the ORM's bulk-delete layer has nothing to do here (no session objects are
    # synchronized) and costs more than the statement.
    driver_sql.connection_of(session).execute(_FORGET_CLOSED, {"instance_id": instance_id})


def forget_instance(session: Session, instance_id: int) -> None:
    """Drop presence and drafts of every task of the instance (it moved to another version)."""
    tasks = select(HumanTask.id).where(HumanTask.instance_id == instance_id)
    session.execute(delete(TaskEdit).where(TaskEdit.human_task_id.in_(tasks)),
                    execution_options={"synchronize_session": False})


__all__ = ["forget_closed", "forget_instance", "know_no_edits"]
