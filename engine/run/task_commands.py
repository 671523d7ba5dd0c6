"""Commands on human tasks: complete, claim, unclaim, reassign."""

from __future__ import annotations

import copy
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from engine.access import policy
from engine.access.policy import Viewer
from engine.access.viewer import acting_viewer
from engine.bpmn import forms
from engine.clock import iso_z, utcnow
from engine.errors import TaskConflict, TourflowError
from engine.limits import NAME_MAX, check_data, check_reason, check_text
from engine.run.core import EngineCore
from engine.run.rows import instance_dict, task_row, viewer_named, viewer_of_rows
from engine.run.step_answer import step_answer
from engine.run.workflow_data import data_diff
from engine.sandbox.outcomes import lets_go_of_the_lock
from engine.store import audit
from engine.store.models import HumanTask, ProcessInstance, User, UserRole
from engine.store.states import HumanTaskState

# The task row's columns, its instance's deployment and the acting user's rows (one per role) in one
# statement, built once (engine/run/rows.py says why), run on the connection: the read needs the values.
_FORM_CHECK = (select(*HumanTask.__table__.columns, ProcessInstance.deployment_id, User.active, User.attributes,
                      UserRole.role_id)
               .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
               .outerjoin(User, User.username == bindparam("username"))
               .outerjoin(UserRole, UserRole.user_id == User.id)
               .where(HumanTask.id == bindparam("task_id")))


def _not_ready(row: HumanTask | Row) -> TaskConflict:
    if row.state == HumanTaskState.COMPLETED:
        return TaskConflict(f"task {row.id} was already completed by {row.completed_by} "
                            f"at {iso_z(row.completed_at, 'seconds')}")
    return TaskConflict(f"task {row.id} is {row.state}, not ready")


def _check_completable(viewer: Viewer, row: HumanTask | Row, actor: str) -> None:
    """The user may work the task (engine/access/policy.py: its lane and routing), it is ready,
    and nobody else has claimed it."""
    policy.refuse_if(policy.work_refusal(viewer, row))
    if row.state != HumanTaskState.READY:
        raise _not_ready(row)
    if row.assignee and row.assignee != actor:
        raise TaskConflict(f"task {row.id} is claimed by {row.assignee}; ask them or a supervisor to reassign it",
                           key="task.claimed_by_other", params={"id": row.id, "assignee": row.assignee})


def _task_event(session: Session, row: HumanTask, kind: str, actor: str, extra: dict[str, Any]) -> None:
    audit.append(session, kind=kind, actor=actor, at=utcnow(), instance_id=row.instance_id,
                 payload={"task_id": row.id, "task": row.task, "name": row.name, **extra})


class TaskCommands(EngineCore):
    @lets_go_of_the_lock
    def complete(self, task_id: int, actor: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Complete a ready user task with validated form data; returns the instance summary."""
        return self._complete(task_id, actor, data, None, answered=False)["instance"]

    @lets_go_of_the_lock
    def complete_answered(self, task_id: int, actor: str, data: dict[str, Any] | None, viewer: Viewer | None
                          ) -> dict[str, Any]:
        """`complete`, answered from its own write transaction (no read transaction after it): the
        instance summary, its ready tasks, its forms, and whether `viewer` sees its personal data."""
        return self._complete(task_id, actor, data, viewer, answered=True)

    def _complete(self, task_id: int, actor: str, data: dict[str, Any] | None, viewer: Viewer | None,
                  answered: bool) -> dict[str, Any]:
        check_data(data, text_max=None)  # texts' lengths: the form's check, which honours maxLength
        # The form is checked before the write transaction opens, so however long the check takes,
        # nobody waits for the write lock meanwhile. A task's form never changes (its row names it in
        # a deployment, which never changes); who may complete it may, so that is checked again.
        submitted = forms.validate(self._form_to_complete(task_id, actor), data if data is not None else {})
        with self.transaction() as tx:
            row, instance = tx.lock_task_and_instance(task_id)
            _check_completable(viewer_named(tx.session, actor), row, actor)
            step = tx.open_step(instance, actor, utcnow())
            task = step.spiff_task(row.spiff_task_id)
            if task is None or task.state != TaskState.READY:
                raise TaskConflict(f"task {row.id} is no longer ready in its process", key="task.not_ready",
                                   params={"id": row.id})
            before = copy.deepcopy(task.data)
            task.set_data(**copy.deepcopy(submitted))
            failure = step.run_user_task(task)
            row.state = HumanTaskState.COMPLETED
            row.completed_at = step.now
            row.completed_by = actor
            step.closed_tasks.add(row.id)
            step.event("task_completed", {"task_id": row.id, "task": row.task, "name": row.name, "lane": row.lane,
                                          "submitted": submitted, "diff": data_diff(before, task.data)})
            step.advance(failure)
            deployed = tx.deployed(instance.deployment_id)
            if answered:
                return step_answer(tx.session, instance, deployed, step.open_rows, viewer, row)
            return {"instance": instance_dict(instance, deployed.version)}

    def _form_to_complete(self, task_id: int, actor: str) -> dict[str, Any] | None:
        """A short read: the task's form schema, once the actor may complete the task as it stands
        (so refusals come in the same order as under the lock)."""
        with self.reading() as session:
            found = session.connection().execute(_FORM_CHECK, {"task_id": task_id, "username": actor}).all()
            if not found:
                task_row(session, task_id)  # NotFound, worded as everywhere
            row = found[0]
            _check_completable(acting_viewer(actor) or viewer_of_rows(actor, found), row, actor)
            if not row.form_ref:
                return None
            return self.deployed(session, row.deployment_id).forms.get(row.form_ref)

    def claim(self, task_id: int, actor: str) -> None:
        with self.transaction() as tx:
            row = tx.lock_task(task_id)
            policy.refuse_if(policy.work_refusal(viewer_named(tx.session, actor), row))
            if row.state != HumanTaskState.READY:
                raise _not_ready(row)
            if row.assignee == actor:
                return
            if row.assignee:
                raise TaskConflict(f"task {row.id} is already claimed by {row.assignee}", key="task.already_claimed",
                                   params={"id": row.id, "assignee": row.assignee})
            row.assignee = actor
            _task_event(tx.session, row, "task_claimed", actor, {"assignee": actor})

    def unclaim(self, task_id: int, actor: str) -> None:
        with self.transaction() as tx:
            row = tx.lock_task(task_id)
            policy.refuse_if(policy.assignment_refusal(viewer_named(tx.session, actor), row, "release"))
            if row.state != HumanTaskState.READY:
                raise _not_ready(row)
            if row.assignee is None:
                return
            previous, row.assignee = row.assignee, None
            _task_event(tx.session, row, "task_unclaimed", actor, {"previous_assignee": previous})

    def reassign(self, task_id: int, actor: str, to_user: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to reassign a task", key="reason.reassign")
        reason = check_reason(reason)
        check_text("to", to_user, NAME_MAX)
        with self.transaction() as tx:
            row = tx.lock_task(task_id)
            policy.refuse_if(policy.assignment_refusal(viewer_named(tx.session, actor), row, "reassign"))
            if row.state != HumanTaskState.READY:
                raise _not_ready(row)
            # the target must be able to work it: else the task is in nobody's inbox
            policy.refuse_if(policy.reassign_target_refusal(viewer_named(tx.session, to_user), row))
            previous, row.assignee = row.assignee, to_user
            _task_event(tx.session, row, "task_reassigned", actor,
                        {"from": previous, "to": to_user, "reason": reason.strip()})


__all__ = ["TaskCommands"]
