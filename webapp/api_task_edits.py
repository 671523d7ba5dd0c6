"""/api/v1 who has a task's form open, and one's own draft of it (engine/run/task_edits.py).

The task page (webapp/static/js/task-edit.js) calls these with its session cookie and CSRF header:
it says every ~10 s that the form is open (and learns who else has it open), and autosaves what
was typed. Who may: who may open the task page, except auditors (engine/access/policy.py
`task_edit_refusal`); 409 once the task has left the inbox."""

from __future__ import annotations

from engine.clock import iso_z, utcnow
from webapp.api_args import Routes, actor, invalid, json_body
from webapp.app_state import runtime

routes = Routes()


def _body(task_id: int, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
    """The JSON body with only `allowed` fields and the `required` ones; a bad one is a 422, but only
    after who asks may act on the task (403, 404 and 409 come first, as for every other check)."""
    body = json_body()
    unknown = sorted(set(body) - allowed)
    missing = [name for name in required if name not in body]
    if unknown or missing:
        runtime().check_task_edit(task_id, actor())
    if unknown:
        raise invalid(unknown[0], f"unknown field (expected: {', '.join(sorted(allowed)) or 'none'})")
    if missing:
        raise invalid(missing[0], "the form's values to keep are required")
    return body


@routes.post("/tasks/<int:task_id>/presence")
def task_presence(task_id: int):
    _body(task_id, set())
    return {"editors": runtime().task_heartbeat(task_id, actor()), "now": iso_z(utcnow())}


@routes.get("/tasks/<int:task_id>/draft")
def get_task_draft(task_id: int):
    return {"draft": runtime().task_draft(task_id, actor())}


@routes.post("/tasks/<int:task_id>/draft")
def save_task_draft(task_id: int):
    body = _body(task_id, {"data"}, required=("data",))
    return {"draft": runtime().save_task_draft(task_id, actor(), body["data"])}


@routes.post("/tasks/<int:task_id>/draft/discard")
def discard_task_draft(task_id: int):
    _body(task_id, set())
    return {"discarded": runtime().discard_task_draft(task_id, actor())}
