"""Commands on human tasks: complete, claim, unclaim, reassign."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Row
from sqlalchemy.orm import Session

from engine.access import policy
from engine.access.policy import Viewer
from engine.bpmn import forms
from engine.clock import iso_z, utcnow
from engine.errors import TaskConflict, TourflowError
from engine.limits import NAME_MAX, check_data, check_reason, check_text
from engine.run.core import EngineCore
from engine.run.rows import instance_dict, lock_task_to_complete, viewer_named
from engine.run.step_answer import step_answer
from engine.run.workflow_data import data_diff
from engine.sandbox.outcomes import lets_go_of_the_lock
from engine.sandbox.plain import deep_copy
from engine.store import audit
from engine.store.records import TaskRow
from engine.store.states import HumanTaskState


def _not_ready(row: TaskRow | Row) -> TaskConflict:
    if row.state == HumanTaskState.COMPLETED:
        return TaskConflict(f"task {row.id} was already completed by {row.completed_by} "
                            f"at {iso_z(row.completed_at, 'seconds')}")
    return TaskConflict(f"task {row.id} is {row.state}, not ready")


def _check_completable(viewer: Viewer, row: TaskRow | Row, actor: str) -> None:
    """The user may work the task (engine/access/policy.py: its lane and routing), it is ready,
    and nobody else has claimed it."""
    policy.refuse_if(policy.work_refusal(viewer, row))
    if row.state != HumanTaskState.READY:
        raise _not_ready(row)
    if row.assignee and row.assignee != actor:
        raise TaskConflict(f"task {row.id} is claimed by {row.assignee}; ask them or a supervisor to reassign it",
                           key="task.claimed_by_other", params={"id": row.id, "assignee": row.assignee})


def _task_event(session: Session, row: TaskRow, kind: str, actor: str, extra: dict[str, Any]) -> None:
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
        with self.transaction() as tx:
            row, instance, viewer_of_actor = lock_task_to_complete(tx.session, task_id, actor)
            _check_completable(viewer_of_actor, row, actor)
            # The form is checked here, under the write lock, right after who may complete the task (so
            # refusals come in order: 404, 403, 409, then 422, and a refused completion writes nothing). It
            # used to be checked in a read transaction before, so that nobody waited for the lock meanwhile;
            # that read cost a transaction and a statement per completion, and the check is bounded: the data
            # passed check_data's limits above, and validating takes ~0.02 ms for the bench's form and
            # 0.12-0.35 ms for the largest demo forms (docs/performance.md, "Round 4"). A task's form never changes.
            deployed = tx.deployed(instance.deployment_id)
            schema = deployed.forms.get(row.form_ref) if row.form_ref else None
            submitted = forms.validate(schema, data if data is not None else {})
            step = tx.open_step(instance, actor, utcnow())
            task = step.spiff_task(row.spiff_task_id)
            if task is None or task.state != TaskState.READY:
                raise TaskConflict(f"task {row.id} is no longer ready in its process", key="task.not_ready",
                                   params={"id": row.id})
            before = deep_copy(task.data)
            task.set_data(**deep_copy(submitted))
            failure = step.run_user_task(task)
            row.state = HumanTaskState.COMPLETED
            row.completed_at = step.now
            row.completed_by = actor
            step.close(row)
            step.event("task_completed", {"task_id": row.id, "task": row.task, "name": row.name, "lane": row.lane,
                                          "submitted": submitted, "diff": data_diff(before, task.data)})
            step.advance(failure)
            if answered:
                return step_answer(tx.session, instance, deployed, step.open_rows, viewer, row)
            return {"instance": instance_dict(instance, deployed.version)}

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
