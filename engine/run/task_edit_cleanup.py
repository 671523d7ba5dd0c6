"""When a task leaves the inbox, who had it open and their drafts of it go (table task_edit;
engine/run/task_edits.py keeps them). Called by the step (engine/run/step.py) and by migration."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from engine.store.models import HumanTask, TaskEdit
from engine.store.states import HumanTaskState

# Each task_edit row (open tasks only, a few) probes its task by id, rather than reading every task
# the instance ever had: a long loop closes one per pass. Built once (engine/run/rows.py says why).
_FORGET_CLOSED = delete(TaskEdit).where(
    select(HumanTask.id).where(HumanTask.id == TaskEdit.human_task_id, HumanTask.instance_id == bindparam("instance_id"),
                               HumanTask.state != HumanTaskState.READY).exists())


def forget_closed(session: Session, instance_id: int) -> None:
    """Drop presence and drafts of the instance's tasks that are no longer open."""
    session.flush()  # the tasks' closed states, which the DELETE reads
    # On the connection: the ORM's bulk-delete layer has nothing to do here (no session objects are
    # synchronized) and costs more than the statement.
    session.connection().execute(_FORGET_CLOSED, {"instance_id": instance_id})


def forget_instance(session: Session, instance_id: int) -> None:
    """Drop presence and drafts of every task of the instance (it moved to another version)."""
    tasks = select(HumanTask.id).where(HumanTask.instance_id == instance_id)
    session.execute(delete(TaskEdit).where(TaskEdit.human_task_id.in_(tasks)),
                    execution_options={"synchronize_session": False})


__all__ = ["forget_closed", "forget_instance"]
