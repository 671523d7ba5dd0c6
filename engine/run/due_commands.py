"""Supervisors set or extend a task's due date and follow-up date, with a reason (docs/due-dates.md).

Each change is one `task_due_changed` event on the instance's stream: old and new due date, old
and new follow-up date, the reason; its actor is who. A boundary timer's job does not move: the
timer is the process's own rule (the 1-hour report, the promised time, the authority's deadline)
and its escalation stays; the event and the pages show that timer's moment next to the due date.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import policy
from engine.bpmn.specs import ProcessModel
from engine.clock import iso_z, utcnow
from engine.errors import TaskConflict
from engine.limits import check_reason, invalid
from engine.run.core import EngineCore
from engine.run.due_dates import due_source
from engine.run.rows import task_row, viewer_named
from engine.store import audit
from engine.store.models import HumanTask, Job, ProcessInstance
from engine.store.states import HumanTaskState, JobKind, JobState

DUE_CHANGED = "task_due_changed"


def timer_due_at(session: Session, model: ProcessModel, row: HumanTask) -> datetime | None:
    """When the earliest pending boundary timer of this task's step fires (None: it has none)."""
    timers = [t.id for t in model.timers.values() if t.attached_to == row.task]
    if not timers:
        return None
    return session.execute(
        select(Job.due_at).where(Job.instance_id == row.instance_id, Job.kind == JobKind.TIMER,
                                 Job.state == JobState.PENDING, Job.task.in_(timers)).order_by(Job.due_at)
    ).scalars().first()


def _future(field: str, value: datetime | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if moment <= now:
        raise invalid(field, f"must be in the future (now is {iso_z(now, 'seconds')})", "due.past",
                      now=iso_z(now, "seconds"))
    return moment


class DueCommands(EngineCore):
    def set_due(self, task_id: int, actor: str, reason: str, due_at: datetime | None = None,
                follow_up_at: datetime | None = None) -> dict[str, Any]:
        """Set the due date and/or the follow-up date of a ready task; returns the event's payload."""
        reason = check_reason(reason)
        now = utcnow()
        if due_at is None and follow_up_at is None:
            raise invalid("due_at", "give a new due date, a follow-up date or both", "due.nothing")
        due_at, follow_up_at = _future("due_at", due_at, now), _future("follow_up_at", follow_up_at, now)
        with self.transaction() as tx:
            row = tx.lock_task(task_id)
            policy.refuse_if(policy.due_change_refusal(viewer_named(tx.session, actor), row))
            if row.state != HumanTaskState.READY:
                raise TaskConflict(f"task {row.id} is {row.state}, not ready: its dates no longer change",
                                   key="due.task_closed", params={"id": row.id, "status": str(row.state)})
            instance = tx.session.get(ProcessInstance, row.instance_id)
            model = tx.deployed(instance.deployment_id).model
            payload = {"task_id": row.id, "task": row.task, "name": row.name, "lane": row.lane,
                       "old_due_at": iso_z(row.due_at), "new_due_at": iso_z(due_at or row.due_at),
                       "old_follow_up_at": iso_z(row.follow_up_at),
                       "new_follow_up_at": iso_z(follow_up_at or row.follow_up_at),
                       "timer_due_at": iso_z(timer_due_at(tx.session, model, row)), "reason": reason}
            if due_at is not None:
                row.due_at = due_at
            if follow_up_at is not None:
                row.follow_up_at = follow_up_at
            audit.append(tx.session, kind=DUE_CHANGED, actor=actor, at=now, instance_id=row.instance_id,
                         payload=payload)
            return payload

    def due_facts(self, task_id: int) -> dict[str, Any]:
        """Where a task's default due date came from (due_dates.due_source) and when its boundary
        timer fires (None: it has none), for the task page: the two may differ after a change."""
        with self.reading() as session:
            row = task_row(session, task_id)
            model = self.deployed(session, session.get(ProcessInstance, row.instance_id).deployment_id).model
            return {"source": due_source(model, row.task, row.lane),
                    "timer_due_at": iso_z(timer_due_at(session, model, row))}


__all__ = ["DUE_CHANGED", "DueCommands", "timer_due_at"]
