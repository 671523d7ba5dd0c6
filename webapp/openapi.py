"""The OpenAPI 3.1 document of /api/v1, built from the app's url rules so it cannot drift.

`paths` come from `app.url_map`: every rule of the `api` blueprint, its path parameters
(with their converters' types) and its methods. What a rule cannot say is written here, per
endpoint, in `OPERATIONS`: summary, who may call it, query parameters, request and response
schemas, and which errors it can answer. A rule without an entry here, or an entry without
a rule, makes `document()` fail, and the tests call it.

The error responses are added by rule as well: 401 unless public, 404 when the path names
something, 400 (CSRF, bad JSON) and 403 (auditors) for every change.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from engine.limits import (
    ID_MAX,
    JSON_BODY_MAX,
    JSON_DEPTH_MAX,
    KEY_MAX,
    MESSAGE_NAME_MAX,
    NAME_MAX,
    PAGE_MAX,
    REASON_MAX,
    TEXT_MAX,
    URI_MAX,
)
from engine.run.messaging import MAX_TTL
from engine.run.queries import INSTANCE_STATUSES, PER_PAGE_MAX

API_BLUEPRINT = "api"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")
_CONVERTER_SCHEMAS = {
    "int": {"type": "integer", "minimum": 0, "maximum": ID_MAX},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
    "default": {"type": "string"},
    "string": {"type": "string"},
    "path": {"type": "string"},
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def items_of(name: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": ref(name)}}}


DATE_TIME = {"type": "string", "format": "date-time"}
NULL_DATE_TIME = nullable("string", format="date-time")
OBJECT = {"type": "object"}
ROUTING: dict[str, Any] = {
    "type": "object", "additionalProperties": {"type": "string"}, "examples": [{"desk": "旅游", "branch": "HZ01"}],
    "description": "The process's routing keys with their values in the task's data: a user with attribute "
                   "desk (branch) works only the tasks of that desk (branch) or of none.",
}


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

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "Every error answer. `error` is a stable code: unauthorized, forbidden, not_found, "
                       "conflict, validation_error, csrf_failed, invalid_json, bad_request, "
                       "method_not_allowed, too_large, uri_too_long, internal_error, error.",
        "required": ["error", "message", "field"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "field": nullable("string", description="The input field at fault, when there is one."),
            "errors": {"type": "array", "description": "validation_error only: every bad field.",
                       "items": {"type": "object", "required": ["field", "message"],
                                 "properties": {"field": nullable("string"), "message": {"type": "string"},
                                                "item": {"type": "integer", "description":
                                                         "In a list field: the 0-based position of the bad item."}}}},
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
            "due_state": {"enum": ["ok", "due_soon", "overdue", "none"]},
        },
    },
    "InboxPage": {
        "type": "object",
        "required": ["items", "total", "page", "per_page", "pages", "counts"],
        "properties": {
            "items": {"type": "array", "items": ref("InboxItem")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
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
            "due_at": NULL_DATE_TIME,
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
                "description": "BPMN element ids by state (empty for a process version).",
                "required": ["completed", "active", "failed"],
                "properties": {k: {"type": "array", "items": {"type": "string"}}
                               for k in ("completed", "active", "failed")},
            },
        },
    },
    "StartableProcess": {
        "type": "object",
        "required": ["process_id", "name", "version", "lane"],
        "properties": {
            "process_id": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "integer", "description": "The newest version: the one a start runs."},
            "lane": {"type": "string", "description": "The start lane (a role the user holds)."},
        },
    },
    "Deployment": {
        "type": "object",
        "required": ["id", "process_id", "version", "name", "sha256", "filename", "deployed_at", "deployed_by",
                     "instances"],
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
        "required": ["items", "total"],
        "properties": {"items": {"type": "array", "items": ref("Incident")}, "total": {"type": "integer"}},
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
        "required": ["process_id", "version", "deployment_id", "created"],
        "properties": {"process_id": {"type": "string"}, "version": {"type": "integer"},
                       "deployment_id": {"type": "integer"}, "created": {"type": "boolean"}},
    },
    "DeployUpload": {
        "type": "object",
        "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    },
}

ERRORS: dict[int, str] = {
    400: "Bad request: CSRF token missing or wrong with cookie auth (`csrf_failed`), or a body that is "
         "not a JSON object (`invalid_json`: not JSON, NaN or Infinity, a number over 4,300 digits, "
         "nesting that exhausts the parser).",
    401: "Not logged in, or the bearer token is unknown or revoked (`unauthorized`).",
    403: "Not allowed (`forbidden`): auditors change nothing; one acts only in the lanes one's roles hold.",
    404: "No such thing (`not_found`).",
    409: "Conflict (`conflict`): completed already, claimed by someone else, no open incident (any more), "
         "or a lost race; reload and retry.",
    413: f"The body is too large (`too_large`): JSON bodies at most {JSON_BODY_MAX} bytes, uploads the "
         "server's MAX_CONTENT_LENGTH.",
    414: f"The URL is too long (`uri_too_long`): path and query string at most {URI_MAX} characters.",
    422: "Invalid input (`validation_error`): `field` names the first bad field, `errors` lists all. "
         f"Besides each field's own rules, no string in a body may hold a lone UTF-16 surrogate or exceed "
         f"{TEXT_MAX} characters, no key {NAME_MAX}, no integer exceed 64 bits, no number be infinite, "
         f"no nesting exceed {JSON_DEPTH_MAX} levels.",
}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


BOOL = {"type": "boolean"}
INBOX_PARAMETERS = [
    query("lane", {"type": "string"}, "Only this lane (role id)."),
    query("process", {"type": "string"}, "Only this process id."),
    query("desk", {"type": "string"}, "Only this desk."),
    query("overdue", BOOL, "Only tasks past their due time."),
    query("mine", BOOL, "Only tasks claimed by me."),
    query("unclaimed", BOOL, "Only unclaimed tasks (ignored with mine)."),
    query("page", {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 1}, "Page number."),
    query("per_page", {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX, "default": 25}, "Rows per page."),
    query("sort", {"enum": ["due", "age"], "default": "due"}, "due: earliest due first; age: oldest first."),
]


@dataclass(frozen=True)
class Op:
    """What the url rule cannot tell about one endpoint."""

    method: str
    summary: str
    tag: str
    ok: dict[str, Any] | None  # the success body's schema
    ok_status: int = 200
    description: str = ""
    roles: str = "any logged-in user"
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: str | None = None  # a component schema name
    body_required: bool = False
    errors: tuple[int, ...] = ()  # beyond those every rule of its kind gets
    public: bool = False
    headers: dict[str, Any] = field(default_factory=dict)
    body_type: str = "application/json"
    also_ok: tuple[int, ...] = ()  # further success statuses with the same body


OPERATIONS: dict[str, Op] = {
    "api.me": Op("GET", "Who am I: user, roles, read-only, how authenticated", "me", ref("Me")),
    "api.list_tasks": Op(
        "GET", "My inbox: the open tasks of my lanes (all lanes for auditors)", "tasks", ref("InboxPage"),
        description="The same filters, counts and pages as the inbox page. Unclaimed tasks and mine, "
                    "unless `mine` or `unclaimed` narrows them.",
        parameters=INBOX_PARAMETERS, errors=(422,)),
    "api.get_task": Op(
        "GET", "One task with its form schema and documentation", "tasks", ref("TaskDetail"),
        roles="who may work it (lane, routing: desk, branch), its assignee or completer, supervisors, auditors",
        errors=(403,)),
    "api.claim_task": Op(
        "POST", "Claim a task for myself", "tasks", ref("TaskDetail"),
        roles="who may work it: its lane, desk and branch", errors=(409,),
        description="Claiming a task one holds already is a no-op; one claimed by someone else is a 409."),
    "api.unclaim_task": Op(
        "POST", "Release a claimed task back to its lane", "tasks", ref("TaskDetail"),
        roles="its assignee, or any supervisor", errors=(409,)),
    "api.reassign_task": Op(
        "POST", "Hand a task to another user of its lane, with a reason", "tasks", ref("TaskDetail"),
        roles="who may work it while unclaimed or theirs, or any supervisor; the target must be able to work it",
        body="ReassignRequest", body_required=True, errors=(409, 422)),
    "api.complete_task": Op(
        "POST", "Complete a task with its form data", "tasks", ref("CompleteResult"),
        roles="who may work it: its lane, desk and branch (its assignee when claimed)",
        description="The body is the form data, validated against the task's form schema. "
                    "409 when completed already, claimed by someone else, or a lost race.",
        body="FormData", errors=(409, 422)),
    "api.list_startable": Op(
        "GET", "The processes I may start (newest version each)", "processes", items_of("StartableProcess")),
    "api.start_instance": Op(
        "POST", "Start the newest version of a process", "processes", ref("Instance"), ok_status=201,
        roles="holders of the process's start lane", body="StartRequest", errors=(422,),
        headers={"Location": {"description": "The new instance's URL.", "schema": {"type": "string"}}}),
    "api.process_diagram": Op(
        "GET", "One process version's BPMN XML, for bpmn-js", "processes", ref("Diagram"),
        roles="owner, auditor (it holds the scripts)", errors=(403,)),
    "api.process_heatmap": Op(
        "GET", "Heatmap of one process version: instances per node, median and p90 time spent", "processes",
        ref("Heatmap"), roles="owner, auditor, manager, supervisor", errors=(403,),
        description="Built from replays of the version's instances (newest 2,000): a node is entered at the "
                    "first event after which it is active, waiting or done, and left when it is done."),
    "api.list_deployments": Op(
        "GET", "Every deployed process version, with instance counts", "processes", items_of("Deployment"),
        roles="owner, auditor", errors=(403,)),
    "api.deploy": Op(
        "POST", "Deploy a process: one .bpmn plus its *.schema.json forms", "processes", ref("DeployResult"),
        ok_status=201, also_ok=(200,), roles="owner", body="DeployUpload", body_required=True,
        body_type="multipart/form-data", errors=(403, 422),
        description="multipart/form-data, field `files` (repeat it). Forms not uploaded are taken from the "
                    "newest deployed version. 201 for a new version, 200 when the content is unchanged; "
                    "422 `deployment_invalid` with `findings` (file:line:col, rule, message) when refused: "
                    "nothing is written then."),
    "api.list_instances": Op(
        "GET", "The instances I may see, newest first", "instances", ref("InstancePage"),
        roles="any logged-in user: instances they started or with a task in their lanes (supervisors, auditors: all)",
        parameters=[
            query("process", {"type": "string"}, "Only this process id."),
            query("status", {"enum": list(INSTANCE_STATUSES)}, "Only this status."),
            query("page", {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 1}, "Page number."),
            query("per_page", {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX, "default": 25}, "Rows per page."),
        ],
        errors=(422,)),
    "api.get_instance": Op(
        "GET", "One instance: process, version, status, data", "instances", ref("Instance"),
        roles="its starter, who may work or worked one of its tasks, who may see its incident; supervisors and "
              "auditors: every instance", errors=(403,)),
    "api.instance_events": Op(
        "GET", "The instance's audit events, in order", "instances", items_of("Event"),
        roles="as for the instance", errors=(403,)),
    "api.instance_tasks": Op(
        "GET", "Every task of the instance, open and finished, oldest first", "instances",
        items_of("InstanceTask"), roles="as for the instance", errors=(403,)),
    "api.instance_diagram": Op(
        "GET", "The instance's BPMN XML with completed, active and failed nodes", "instances", ref("Diagram"),
        roles="as for the instance", errors=(403,)),
    "api.list_incidents": Op(
        "GET", "Open incidents I may see, newest first", "incidents", ref("IncidentPage"),
        roles="any logged-in user: incidents of the lanes they hold (of their desk, branch); supervisors, "
              "owners and auditors: all",
        parameters=[query("process", {"type": "string"}, "Only this process id.")]),
    "api.get_incident": Op(
        "GET", "The open incident of an instance, with its attempts", "incidents", ref("IncidentDetail"),
        roles="as for the instance, or for its incident",
        description="404 also when the instance has no open incident.", errors=(403,)),
    "api.resolve_incident": Op(
        "POST", "Resolve an incident: run the failed step again, with corrected data if given", "incidents",
        ref("Instance"), roles="holders of the incident's lane (system lane: supervisors, owners); not auditors",
        body="ResolveIncidentRequest", body_required=True, errors=(409, 422),
        description="Records `incident_resolved` (reason, data) and runs the step. The answer is the instance "
                    "afterwards: `running`/`completed` when the step went through, `retrying` or `error` (a new "
                    "incident) when it failed again. 409 when the instance has no open incident."),
    "api.send_message": Op(
        "POST", "Send a message: deliver, start a process, or buffer it until an instance waits", "messages",
        ref("Message"), roles="supervisor, owner, integration (accounts of other systems)",
        body="MessageRequest", body_required=True, errors=(403, 404, 422), also_ok=(202,),
        description="200 when an instance waiting under `correlation_key` caught it or it started a process "
                    "(`delivered_to`); 202 when nobody waits yet: it stays in the buffer until an instance with "
                    "that key waits for it, or until `expires_at`. 404 when nobody takes a message that has no "
                    "correlation key. A repeated `message_ref` changes nothing."),
    "api.list_messages": Op(
        "GET", "Routed messages, newest first", "messages", items_of("Message"),
        roles="supervisor, owner, integration, auditor",
        parameters=[
            query("state", {"enum": ["buffered", "delivered", "expired"]}, "Only this state."),
            query("name", {"type": "string"}, "Only this message name."),
            query("key", {"type": "string"}, "Only this correlation key."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}, "At most this many."),
        ],
        errors=(403, 422)),
    "api.openapi": Op("GET", "This document", "meta", ref("OpenApiDocument"), roles="anyone", public=True),
}


def openapi_path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """`/tasks/<int:task_id>` -> (`/tasks/{task_id}`, [its path parameter])."""
    parameters = []

    def replace(match: re.Match) -> str:
        converter = match.group("converter") or "default"
        parameters.append({"name": match.group("name"), "in": "path", "required": True,
                           "schema": dict(_CONVERTER_SCHEMAS.get(converter, {"type": "string"}))})
        return "{" + match.group("name") + "}"

    return _ARGUMENT.sub(replace, rule.rule), parameters


def api_rules(app: Flask) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] == API_BLUEPRINT]


def rule_methods(rule: Rule) -> set[str]:
    return set(rule.methods or ()) - IGNORED_METHODS


def _response(description: str, schema: dict[str, Any] | None, headers: dict[str, Any] | None = None):
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    if headers:
        response["headers"] = headers
    return response


def _operation(endpoint: str, method: str, op: Op, path_parameters: list[dict[str, Any]]) -> dict[str, Any]:
    name = endpoint.split(".", 1)[1]
    mutating = method in MUTATING
    result: dict[str, Any] = {
        "operationId": name,
        "summary": op.summary,
        "description": (op.description + "\n\n" if op.description else "") + f"Who: {op.roles}.",
        "tags": [op.tag],
        "x-roles": op.roles,
    }
    parameters = [*path_parameters, *op.parameters]
    if parameters:
        result["parameters"] = parameters
    if op.body:
        result["requestBody"] = {"required": op.body_required,
                                 "content": {op.body_type: {"schema": ref(op.body)}}}
    statuses = set(op.errors) | {414, 422}  # 422: also a NUL character in any query parameter
    if not op.public:
        statuses.add(401)
    if path_parameters:
        statuses.add(404)
    if mutating:
        statuses |= {400, 403, 413, 422}
    responses = {str(status): _response("OK" if status == 200 else "Created", op.ok, op.headers)
                 for status in (op.ok_status, *op.also_ok)}
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    result["responses"] = responses
    if op.public:
        result["security"] = []
    elif mutating:
        result["security"] = [{"bearerAuth": []}, {"cookieAuth": [], "csrfHeader": []}]
    return result


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app's /api/v1 rules."""
    paths: dict[str, dict[str, Any]] = {}
    seen = set()
    for rule in sorted(api_rules(app), key=lambda r: r.rule):
        op = OPERATIONS.get(rule.endpoint)
        if op is None:
            raise LookupError(f"{rule.endpoint} ({rule.rule}) has no entry in webapp/openapi.py OPERATIONS")
        methods = rule_methods(rule)
        if methods != {op.method}:
            raise LookupError(f"{rule.endpoint}: the rule answers {sorted(methods)}, OPERATIONS says {op.method}")
        seen.add(rule.endpoint)
        path, path_parameters = openapi_path(rule)
        paths.setdefault(path, {})[op.method.lower()] = _operation(rule.endpoint, op.method, op, path_parameters)
    stale = sorted(set(OPERATIONS) - seen)
    if stale:
        raise LookupError(f"OPERATIONS describes endpoints with no route: {', '.join(stale)}")
    cookie = app.config.get("SESSION_COOKIE_NAME", "session")
    csrf_header = (app.config.get("WTF_CSRF_HEADERS") or ["X-CSRFToken"])[0]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tourflow API",
            "version": "1",
            "description": "The task inbox, tasks, processes, instances and incidents of tourflow, as JSON. "
                           "Every error is an `Error` body. Create a token with "
                           "`tourflow token create --user U`, or use a logged-in browser session "
                           f"(then send the page's CSRF token in `{csrf_header}` with every POST).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "tags": [{"name": t} for t in ("me", "tasks", "processes", "instances", "incidents", "messages", "audit", "reports", "meta")],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "responses": {f"E{status}": _response(text, ref("Error")) for status, text in ERRORS.items()},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A token from `tourflow token create --user U`."},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": cookie,
                               "description": "The session cookie of a logged-in browser."},
                "csrfHeader": {"type": "apiKey", "in": "header", "name": csrf_header,
                               "description": "With cookie auth, every POST carries the session's CSRF token."},
            },
        },
    }
