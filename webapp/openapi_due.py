"""The OpenAPI entries of the due-date routes (webapp/api_due.py), merged into webapp/openapi.py's
SCHEMAS and OPERATIONS. docs/due-dates.md explains the dates."""

from __future__ import annotations

from typing import Any

from engine.limits import REASON_MAX
from webapp.openapi_spec import DATE_TIME, NULL_DATE_TIME, Op, ref

MOMENT = {"type": ["string", "null"], "maxLength": 40, "examples": ["2026-12-03T18:00:00+08:00"],
          "description": "ISO 8601; without an offset it is China time. Must be in the future; null or "
                         "absent: unchanged."}

DUE_SCHEMAS: dict[str, dict[str, Any]] = {
    "DueChangeRequest": {
        "type": "object",
        "required": ["reason"],
        "additionalProperties": False,
        "description": "At least one of due_at and follow_up_at.",
        "properties": {
            "due_at": MOMENT,
            "follow_up_at": MOMENT,
            "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX,
                       "description": "Recorded in the audit log with the old and new dates."},
        },
    },
    "OverdueItem": {
        "allOf": [ref("InboxItem"), {
            "type": "object",
            "required": ["reasons", "since", "follow_up_at"],
            "properties": {
                "reasons": {"type": "array", "items": {"enum": ["overdue", "follow_up"]}},
                "since": {**DATE_TIME, "description": "The earliest of its passed due and follow-up dates."},
                "follow_up_at": NULL_DATE_TIME,
            },
        }],
    },
    "OverdueList": {
        "type": "object",
        "required": ["items", "total", "now"],
        "properties": {
            "items": {"type": "array", "items": ref("OverdueItem")},
            "total": {"type": "integer", "minimum": 0},
            "now": DATE_TIME,
        },
    },
}

DUE_OPERATIONS: dict[str, Op] = {
    "api.change_due": Op(
        "POST", "Set or extend a task's due date and follow-up date, with a reason", "tasks", ref("TaskDetail"),
        roles="a supervisor of the task's lane (and routing)",
        description="Recorded as a task_due_changed event (old, new, reason, who). A boundary timer's job does "
                    "not move: the process's own deadline still escalates (docs/due-dates.md). 409 when the task "
                    "is no longer ready; 422 for a missing reason, a date that is not ISO 8601 or not in the future.",
        body="DueChangeRequest", body_required=True, errors=(403, 409, 422)),
    "api.list_overdue": Op(
        "GET", "Open tasks past their due or follow-up date, oldest first", "tasks", ref("OverdueList"),
        roles="supervisors (the lanes they supervise), auditors (every lane)", errors=(403,)),
}
