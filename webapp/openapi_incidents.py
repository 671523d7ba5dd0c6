"""The component schemas of an incident (a listed one, and one in detail with its attempts)."""

from __future__ import annotations

from typing import Any

from webapp.openapi_spec import DATE_TIME, NULL_DATE_TIME, OBJECT, ROUTING, nullable

INCIDENT: dict[str, Any] = {
    "type": "object",
    "description": "An instance stopped in status `error` by a failed step: a handler that failed its last "
                   "retry, or refused the step (`business`: no capacity, a supplier refused).",
    "required": ["instance_id", "process", "process_name", "version", "business_key", "task", "task_name", "error",
                 "attempts", "lane", "business", "routing", "summary", "raised_at", "raised_count", "can_resolve"],
    "properties": {
        "instance_id": {"type": "integer"},
        "process": {"type": "string"},
        "process_name": {"type": "string"},
        "version": {"type": "integer"},
        "business_key": nullable("string"),
        "task": nullable("string", description="The BPMN id of the failed step."),
        "task_name": nullable("string"),
        "error": {"type": "string", "description": "The handler's own exception, e.g. `ConnectionError: ...`."},
        "attempts": {"type": "integer", "description": "Calls of the handler before the incident was raised."},
        "lane": {"type": "string", "description": "The lane that resolves it: the one the handler named, else the "
                                                  "step's lane (`system`: supervisors and process owners)."},
        "business": {"type": "boolean", "description": "Refused by the handler (no retries), not a technical failure."},
        "routing": ROUTING,
        "summary": OBJECT,
        "raised_at": NULL_DATE_TIME,
        "raised_count": {"type": "integer", "description": "Incidents this instance has had, this one included."},
        "can_resolve": {"type": "boolean", "description": "Whether I may resolve it."},
    },
}
INCIDENT_DETAIL: dict[str, Any] = {
    **INCIDENT,
    "description": "One open incident, with the failed step's attempts and the data its handler reads.",
    "required": [*INCIDENT["required"], "handler", "history", "inputs"],
    "properties": {
        **INCIDENT["properties"],
        "handler": nullable("string", description="The handler the failed step calls."),
        "history": {
            "type": "array",
            "description": "Failed calls of the step since it last succeeded, and the resolutions between them.",
            "items": {
                "type": "object",
                "required": ["at", "kind", "actor", "attempt", "error", "reason"],
                "properties": {
                    "at": DATE_TIME,
                    "kind": {"enum": ["handler_called", "incident_resolved"]},
                    "actor": {"type": "string"},
                    "attempt": nullable("integer"),
                    "error": nullable("string"),
                    "reason": nullable("string"),
                },
            },
        },
        "inputs": {"type": "object", "description": "The data keys the handler's parameters read, with the values "
                                                    "it was last called with: a starting point for `data`."},
    },
}
