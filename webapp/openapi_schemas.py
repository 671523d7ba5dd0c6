"""The component schemas of the core /api/v1 endpoints (the audit and report ones are in
webapp/openapi_audit.py and webapp/openapi_reports.py)."""

from __future__ import annotations

from typing import Any

from engine.limits import ID_MAX, KEY_MAX, MESSAGE_NAME_MAX, NAME_MAX, REASON_MAX
from engine.run.messaging import MAX_TTL
from webapp.openapi_incidents import INCIDENT, INCIDENT_DETAIL
from webapp.openapi_spec import DATE_TIME, NULL_DATE_TIME, OBJECT, ROUTING, nullable, ref
from webapp.openapi_versions import FINDING, VERSION_SCHEMAS

SCHEMAS: dict[str, dict[str, Any]] = {
    **VERSION_SCHEMAS,
    "Error": {
        "type": "object",
        "description": "Every error answer. `error` is a stable code: unauthorized, forbidden, not_found, "
                       "conflict, validation_error, csrf_failed, invalid_json, bad_request, "
                       "method_not_allowed, too_large, uri_too_long, internal_error, error. `message` is in "
                       "the answer's language (Accept-Language zh or en; else the session's; else Chinese), "
                       "never mixed with the other.",
        "required": ["error", "message", "field"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "field": nullable("string", description="The input field at fault, when there is one."),
            "errors": {"type": "array", "description": "validation_error only: every bad field.",
                       "items": {"type": "object", "required": ["field", "message"],
                                 "properties": {"field": nullable("string"), "message": {"type": "string"},
                                                "item": {"type": "integer", "description":
                                                         "In a list field: the 0-based position of the bad item."},
                                                "hint": {"type": "string", "description":
                                                         "A refused pattern's rule in words, in the answer's language (the "
                                                         "form's x-pattern-hint, or x-pattern-hint-en)."}}}},
            "findings": {"type": "array", "description": "deployment_invalid only: the lint findings.",
                         "items": {**FINDING, "required": [*FINDING["required"], "file", "text"],
                                   "properties": {**FINDING["properties"], "file": {"type": "string"},
                                                  "text": {"type": "string", "description":
                                                           "file:line:col: severity rule: message"}}}},
        },
    },
    "Me": {
        "type": "object",
        "required": ["username", "display_name", "roles", "read_only", "auth"],
        "additionalProperties": False,
        "properties": {
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "roles": {"type": "array", "items": {"type": "string"}, "description": "Roles = the lanes one may act in."},
            "read_only": {"type": "boolean", "description": "Auditors: read everything, change nothing."},
            "auth": {"enum": ["token", "session"]},
        },
    },
    "InboxItem": {
        "type": "object",
        "required": ["id", "instance_id", "process", "process_name", "task", "name", "lane", "routing", "assignee",
                     "summary", "created_at", "age_seconds", "due_at", "due_state"],
        "properties": {
            "id": {"type": "integer"},
            "instance_id": {"type": "integer"},
            "process": {"type": "string"},
            "process_name": {"type": "string"},
            "task": {"type": "string", "description": "The BPMN id of the user task."},
            "name": {"type": "string"},
            "lane": {"type": "string"},
            "routing": ROUTING,
            "assignee": nullable("string"),
            "summary": OBJECT,
            "created_at": DATE_TIME,
            "age_seconds": {"type": "integer"},
            "due_at": NULL_DATE_TIME,
            "due_state": {"enum": ["ok", "due_soon", "overdue", "waiting_long", "none"]},
            "follow_up_at": NULL_DATE_TIME,
        },
    },
    "InboxPage": {
        "type": "object",
        "required": ["items", "total", "page", "per_page", "pages", "next", "counts"],
        "properties": {
            "items": {"type": "array", "items": ref("InboxItem")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
            "next": nullable("string", description="The cursor of the page after this one (pass it as "
                                                   "`after`); null at the end."),
            "counts": {
                "type": "object",
                "required": ["by_lane", "overdue", "mine", "all"],
                "properties": {
                    "by_lane": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "overdue": {"type": "integer"},
                    "mine": {"type": "integer"},
                    "all": {"type": "integer"},
                },
            },
        },
    },
    "TaskDetail": {
        "type": "object",
        "required": ["id", "instance_id", "task", "name", "lane", "state", "assignee", "form", "due_at",
                     "created_at", "completed_at", "completed_by", "summary", "documentation"],
        "properties": {
            "id": {"type": "integer"},
            "instance_id": {"type": "integer"},
            "task": {"type": "string"},
            "name": {"type": "string"},
            "lane": {"type": "string"},
            "routing": ROUTING,
            "state": {"type": "string", "examples": ["ready", "completed", "cancelled"]},
            "assignee": nullable("string"),
            "form": nullable("object", description="The form's JSON Schema (draft 2020-12); null: no form."),
            "ui_schema": nullable("object", description="SpiffArena's UI schema of the form (ui:order, ui:widget, "
                                                        "ui:help, ...); null: none."),
            "due_at": NULL_DATE_TIME,
            "follow_up_at": NULL_DATE_TIME,
            "created_at": DATE_TIME,
            "completed_at": NULL_DATE_TIME,
            "completed_by": nullable("string"),
            "summary": OBJECT,
            "documentation": {"type": "string", "description": "What to do and how (the SOP text), Markdown."},
        },
    },
    "InstanceTask": {
        "type": "object",
        "required": ["id", "task", "name", "lane", "state", "assignee", "due_at", "created_at",
                     "completed_at", "completed_by"],
        "properties": {
            "id": {"type": "integer"},
            "task": {"type": "string"},
            "name": {"type": "string"},
            "lane": {"type": "string"},
            "state": {"type": "string"},
            "assignee": nullable("string"),
            "due_at": NULL_DATE_TIME,
            "created_at": DATE_TIME,
            "completed_at": NULL_DATE_TIME,
            "completed_by": nullable("string"),
        },
    },
    "Instance": {
        "type": "object",
        "required": ["id", "process", "version", "status", "business_key", "data", "error", "started_at",
                     "started_by", "ended_at"],
        "properties": {
            "id": {"type": "integer"},
            "process": {"type": "string"},
            "version": {"type": "integer"},
            "status": {"type": "string", "examples": ["running", "completed", "cancelled", "error"]},
            "business_key": nullable("string"),
            "data": OBJECT,
            "error": nullable("string"),
            "started_at": DATE_TIME,
            "started_by": {"type": "string"},
            "ended_at": NULL_DATE_TIME,
        },
    },
    "InstanceSummary": {
        "type": "object",
        "required": ["id", "process", "process_name", "version", "status", "business_key", "summary",
                     "started_at", "started_by", "ended_at"],
        "properties": {
            "id": {"type": "integer"},
            "process": {"type": "string"},
            "process_name": {"type": "string"},
            "version": {"type": "integer"},
            "status": {"type": "string"},
            "business_key": nullable("string"),
            "summary": OBJECT,
            "started_at": DATE_TIME,
            "started_by": {"type": "string"},
            "ended_at": NULL_DATE_TIME,
        },
    },
    "InstancePage": {
        "type": "object",
        "required": ["items", "total", "page", "per_page", "pages"],
        "properties": {
            "items": {"type": "array", "items": ref("InstanceSummary")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    },
    "Event": {
        "type": "object",
        "description": "One audit fact; `hash` = sha256(prev_hash + canonical JSON of the row).",
        "required": ["seq", "at", "actor", "kind", "payload", "prev_hash", "hash"],
        "properties": {
            "seq": {"type": "integer"},
            "at": DATE_TIME,
            "actor": {"type": "string"},
            "kind": {"type": "string", "examples": ["instance_started", "task_completed", "instance_completed"]},
            "payload": OBJECT,
            "prev_hash": {"type": "string"},
            "hash": {"type": "string"},
        },
    },
    "Heatmap": {
        "type": "object",
        "required": ["process", "version", "instances", "max_instances", "heat", "bpmn_xml"],
        "properties": {
            "process": {"type": "string"},
            "version": {"type": "integer"},
            "instances": {"type": "integer", "description": "Instances looked at."},
            "max_instances": {"type": "integer", "description": "The most instances any node saw."},
            "bpmn_xml": {"type": "string"},
            "heat": {
                "type": "object",
                "description": "BPMN element id -> its figures.",
                "additionalProperties": {
                    "type": "object",
                    "required": ["name", "instances", "median_s", "p90_s"],
                    "properties": {"name": {"type": "string"}, "instances": {"type": "integer"},
                                   "median_s": {"type": "number"}, "p90_s": {"type": "number"}},
                },
            },
        },
    },
    "Diagram": {
        "type": "object",
        "required": ["process", "version", "bpmn_xml", "nodes"],
        "properties": {
            "process": {"type": "string"},
            "version": {"type": "integer"},
            "bpmn_xml": {"type": "string"},
            "nodes": {
                "type": "object",
                "description": "BPMN element ids by state (empty for a process version); a version asked "
                               "`against` another also lists what is only in this one (`added`, or `removed` "
                               "when this is the older) and what `changed`.",
                "required": ["completed", "active", "failed"],
                "properties": {k: {"type": "array", "items": {"type": "string"}}
                               for k in ("completed", "active", "failed", "added", "removed", "changed")},
            },
        },
    },
    "StartableProcess": {
        "type": "object",
        "required": ["process_id", "name", "version", "lane"],
        "properties": {
            "process_id": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "integer", "description": "The current version: the one a start runs."},
            "lane": {"type": "string", "description": "The start lane (a role the user holds)."},
        },
    },
    "Deployment": {
        "type": "object",
        "required": ["id", "process_id", "version", "name", "sha256", "filename", "deployed_at", "deployed_by",
                     "instances", "running", "current"],
        "properties": {
            "id": {"type": "integer"},
            "process_id": {"type": "string"},
            "version": {"type": "integer"},
            "name": {"type": "string"},
            "sha256": {"type": "string"},
            "filename": {"type": "string"},
            "deployed_at": DATE_TIME,
            "deployed_by": {"type": "string"},
            "instances": {"type": "integer"},
            "running": {"type": "integer", "description": "Instances of this version not yet finished."},
            "current": {"type": "boolean", "description": "New instances start on this version."},
        },
    },
    "CompleteResult": {
        "type": "object",
        "required": ["instance", "open_tasks"],
        "additionalProperties": False,
        "properties": {
            "instance": ref("Instance"),
            "open_tasks": {"type": "array", "items": ref("InstanceTask"),
                           "description": "The instance's ready tasks after this step."},
        },
    },
    "StartResult": {"allOf": [ref("Instance"), {
        "type": "object", "required": ["open_tasks"],
        "properties": {"open_tasks": {"type": "array", "items": ref("InstanceTask"), "description":
                                      "The new instance's ready tasks that its starter may complete now, oldest first "
                                      "(open the first to land on its form); masked as the instance."}}}]},
    "FormData": {
        "type": "object",
        "description": "The task's form fields; validated against the task's form schema (TaskDetail.form).",
    },
    "StartRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "data": {"type": "object", "description": "Start data of the instance."},
            "business_key": {"type": "string", "minLength": 1, "maxLength": KEY_MAX,
                             "description": "Correlation key for messages."},
            "version": {"type": "integer", "minimum": 1, "maximum": ID_MAX,
                        "description": "Start this deployed version; absent: the current version."},
        },
    },
    "ReassignRequest": {
        "type": "object",
        "required": ["to", "reason"],
        "additionalProperties": False,
        "properties": {
            "to": {"type": "string", "minLength": 1, "maxLength": NAME_MAX,
                   "description": "A user who holds the task's lane."},
            "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX,
                       "description": "Recorded in the audit log."},
        },
    },
    "Incident": INCIDENT,
    "IncidentDetail": INCIDENT_DETAIL,
    "IncidentPage": {
        "type": "object",
        "required": ["items", "total", "deliveries"],
        "properties": {"items": {"type": "array", "items": ref("Incident")}, "total": {"type": "integer"},
                       "deliveries": {"type": "array", "items": ref("DeliveryIncident"),
                                      "description": "Messages that failed for good (docs/outbox.md); their "
                                                     "instances keep running, so they are not in `items`."}},
    },
    "MessageRequest": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": MESSAGE_NAME_MAX,
                     "description": "The BPMN message name."},
            "correlation_key": {"type": "string", "minLength": 1, "maxLength": KEY_MAX,
                                "description": "The business key of the instance it is for (tour id, customer "
                                               "id, complaint id...). Without it, a message can only start a "
                                               "process."},
            "data": {"type": "object", "description": "Merged into the catching instance's data."},
            "message_ref": {"type": "string", "minLength": 1, "maxLength": KEY_MAX,
                            "description": "Your own id for this message: sending it again delivers nothing "
                                           "twice and answers with the first outcome (`duplicate`: true)."},
            "ttl_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": int(MAX_TTL.total_seconds()),
                            "description": "How long it may wait in the buffer for an instance (default a day, "
                                           "at most 366 days)."},
        },
    },
    "Message": {
        "type": "object",
        "required": ["message_id", "name", "key", "message_ref", "state", "delivered_to", "started", "buffered",
                     "expires_at", "created_at", "delivered_at", "sender_instance_id", "duplicate"],
        "properties": {
            "message_id": {"type": "integer"},
            "name": {"type": "string"},
            "key": nullable("string"),
            "message_ref": nullable("string"),
            "state": {"enum": ["buffered", "delivered", "expired"]},
            "delivered_to": nullable("integer", description="The instance that caught it or that it started."),
            "started": {"type": "boolean", "description": "It started delivered_to."},
            "buffered": {"type": "boolean"},
            "expires_at": nullable("string", format="date-time"),
            "created_at": {"type": "string", "format": "date-time"},
            "delivered_at": nullable("string", format="date-time"),
            "sender_instance_id": nullable("integer", description="Set when an instance threw it."),
            "duplicate": {"type": "boolean", "description": "This message_ref was sent before."},
        },
    },
    "ResolveIncidentRequest": {
        "type": "object",
        "required": ["reason"],
        "additionalProperties": False,
        "properties": {
            "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX,
                       "description": "Why and what was done; recorded in the "
                                                                        "audit log (`incident_resolved`)."},
            "data": nullable("object", description="Corrected data, written into the failed step before it runs "
                                                   "again; null or absent: run it again as it is."),
        },
    },
    "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
    "DeployResult": {
        "type": "object",
        "required": ["process_id", "version", "deployment_id", "created", "current"],
        "properties": {"process_id": {"type": "string"}, "version": {"type": "integer"},
                       "deployment_id": {"type": "integer"}, "created": {"type": "boolean"},
                       "current": {"type": "boolean",
                                   "description": "New instances start on this version (false: the content "
                                                  "matches an older version that is not current)."},
                       "deployments": {"type": "array", "items": {"type": "object"},
                                       "description": "Every process the upload deployed (several files, a "
                                                      "file with several processes, a zip), each with the "
                                                      "fields above; those fields are the first one's."}},
    },
    "DeployUpload": {
        "type": "object",
        "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    },
}
