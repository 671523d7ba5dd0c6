"""/api/v1 due dates: a supervisor sets or extends a task's due and follow-up dates (with a reason),
and the supervisors' overdue list (docs/due-dates.md)."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from engine.access import policy
from engine.run.overdue import overdue_tasks
from webapp import privacy
from webapp.api_args import Routes, actor, invalid, json_body
from webapp.app_state import runtime
from webapp.due_input import due_change

FIELDS = ("due_at", "follow_up_at", "reason")
routes = Routes()


@routes.post("/tasks/<int:task_id>/due")
def change_due(task_id: int):
    body = json_body()
    task = policy.TaskFacts.of(runtime().task(task_id))
    policy.refuse_if(policy.due_change_refusal(current_user.viewer, task))  # 403 before the values
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise invalid(unknown[0], f"unknown field (expected: {', '.join(FIELDS)})")
    due_at, follow_up_at, reason = due_change(body)
    runtime().set_due(task_id, actor(), reason, due_at=due_at, follow_up_at=follow_up_at)
    changed = runtime().task(task_id)
    return privacy.task(changed, privacy.masker(changed["instance_id"]))


@routes.get("/tasks/overdue")
def list_overdue():
    with runtime().reading() as session:
        result = overdue_tasks(session, current_user.viewer)
    return jsonify({**result, "items": privacy.rows(result["items"], "instance_id")})
