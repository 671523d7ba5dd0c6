"""OpenAPI notes and schemas of who has a task's form open and one's own draft of it
(webapp/api_task_edits.py)."""

from __future__ import annotations

from typing import Any

from engine.run.task_edits import DRAFT_BYTES_MAX, PRESENCE_SECONDS
from webapp.openapi_spec import DATE_TIME, Op, ref

ROLES = "who may open the task page (its workers, its assignee or completer, supervisors); not auditors"
GONE = "409 once the task has left the inbox (completed, cancelled)."
DRAFT_VALUES = {
    "type": "object", "description": "The form's fields as the page holds them: a text, a list of texts "
                                     "(check boxes) or null each; only fields of the task's form.",
    "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "null"},
                                       {"type": "array", "items": {"type": "string"}}]},
}

TASK_EDIT_OPERATIONS: dict[str, Op] = {
    "api.task_presence": Op(
        "POST", "Say I have the task's form open; learn who else has", "tasks", ref("TaskEditors"), roles=ROLES,
        errors=(403, 409, 422),
        description=f"Send every ~10 s while the form is open. `editors`: the others who sent it within the last "
                    f"{PRESENCE_SECONDS} s, most recent first. Not audited (scratch data, not process state). "
                    + GONE),
    "api.get_task_draft": Op(
        "GET", "My draft of the task's form (null if none)", "tasks", ref("TaskDraftAnswer"), roles=ROLES,
        errors=(403, 409), description="Only one's own draft: nobody sees another's. " + GONE),
    "api.save_task_draft": Op(
        "POST", "Keep what I typed into the task's form as my draft", "tasks", ref("TaskDraftAnswer"),
        roles=ROLES, body="TaskDraftRequest", body_required=True, errors=(403, 409, 422),
        description=f"Replaces my previous draft. At most {DRAFT_BYTES_MAX} bytes of JSON; 422 for a key that "
                    "is not a field of the task's form. Not audited; dropped when the task leaves the inbox. "
                    + GONE),
    "api.discard_task_draft": Op(
        "POST", "Discard my draft of the task's form", "tasks", ref("TaskDraftDiscarded"), roles=ROLES,
        errors=(403, 409, 422), description="`discarded` false when there was none. " + GONE),
}

TASK_DRAFT = {
    "type": "object", "required": ["data", "saved_at"], "additionalProperties": False,
    "properties": {"data": DRAFT_VALUES, "saved_at": DATE_TIME},
}

TASK_EDIT_SCHEMAS: dict[str, dict[str, Any]] = {
    "TaskEditors": {
        "type": "object", "required": ["editors", "now"], "additionalProperties": False,
        "properties": {
            "editors": {"type": "array", "items": {
                "type": "object", "required": ["username", "display_name", "seen_at"], "additionalProperties": False,
                "properties": {"username": {"type": "string"}, "display_name": {"type": "string"},
                               "seen_at": {**DATE_TIME, "description": "When their page last said so."}}}},
            "now": {**DATE_TIME, "description": "The server's time, to say how long ago."},
        },
    },
    "TaskDraftRequest": {
        "type": "object", "required": ["data"], "additionalProperties": False, "properties": {"data": DRAFT_VALUES},
    },
    "TaskDraftAnswer": {
        "type": "object", "required": ["draft"], "additionalProperties": False,
        "properties": {"draft": {"anyOf": [TASK_DRAFT, {"type": "null"}]}},
    },
    "TaskDraftDiscarded": {
        "type": "object", "required": ["discarded"], "additionalProperties": False,
        "properties": {"discarded": {"type": "boolean"}},
    },
}
