"""The OpenAPI entries of staff alert preferences and message templates (webapp/api_alerts.py),
merged into webapp/openapi.py's SCHEMAS and OPERATIONS. docs/messages.md explains both."""

from __future__ import annotations

from typing import Any

from webapp.openapi_spec import Op, ref

EVENTS = ["new_task", "overdue", "incident"]

ALERT_SCHEMAS: dict[str, dict[str, Any]] = {
    "AlertPreferenceRequest": {
        "type": "object",
        "required": ["channel"],
        "additionalProperties": False,
        "properties": {
            "channel": {"enum": ["none", "email", "webhook"]},
            "address": {"type": "string", "maxLength": 200,
                        "description": "An e-mail address (email), the recipient's number or id (webhook)."},
            "events": {"type": "array", "items": {"enum": EVENTS}, "maxItems": 3,
                       "description": "What to be told of; absent: all three."},
        },
    },
    "AlertPreference": {
        "type": "object",
        "required": ["username", "channel", "address", "events", "window_minutes"],
        "properties": {
            "username": {"type": "string"},
            "channel": {"enum": ["none", "email", "webhook"]},
            "address": {"type": "string"},
            "events": {"type": "array", "items": {"enum": EVENTS}},
            "window_minutes": {"type": "number", "description": "At most one digest per this many minutes."},
        },
    },
    "MessageKindList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {
            "type": "object", "required": ["kind", "title", "files", "problems"],
            "properties": {"kind": {"type": "string"}, "title": {"type": "string"},
                           "files": {"type": "array", "items": {"type": "string"}},
                           "problems": {"type": "array", "items": {"type": "string"},
                                        "description": "file:line: what is wrong; empty when the files render"}}}}},
    },
    "MessagePreview": {
        "type": "object",
        "required": ["kind", "title", "channel", "subject", "body", "template", "problem", "data"],
        "properties": {
            "kind": {"type": "string"}, "title": {"type": "string"}, "channel": {"type": "string"},
            "subject": {"type": ["string", "null"]}, "body": {"type": ["string", "null"]},
            "template": {"type": "string"}, "problem": {"type": ["string", "null"]},
            "data": {"type": "object", "description": "The sample data rendered, personal values masked."},
        },
    },
}

ALERT_OPERATIONS: dict[str, Op] = {
    "api.my_alerts": Op("GET", "My staff alert preference (none, email or webhook; which events)", "me",
                        ref("AlertPreference")),
    "api.set_my_alerts": Op(
        "POST", "Set my staff alert preference", "me", ref("AlertPreference"), roles="any user but auditors",
        description="New tasks of my lanes, my overdue tasks and incidents I resolve are collected and sent as one "
                    "digest at most every TOURFLOW_STAFF_ALERT_MINUTES (docs/messages.md). 422 names the field: "
                    "an e-mail alert without an e-mail address, an unknown channel or event.",
        body="AlertPreferenceRequest", body_required=True, errors=(403, 422)),
    "api.list_message_templates": Op(
        "GET", "The message kinds, their template files and what is wrong with them", "messages",
        ref("MessageKindList"), roles="supervisors, process owners", errors=(403,)),
    "api.preview_message_template": Op(
        "GET", "A message kind rendered with its sample data, the customer's data masked", "messages",
        ref("MessagePreview"), roles="supervisors, process owners",
        parameters=[{"name": "channel", "in": "query", "required": False,
                     "schema": {"enum": ["email", "webhook", "log"], "default": "email"}}],
        errors=(403, 404, 422)),
}
