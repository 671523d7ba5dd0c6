"""The OpenAPI 3.1 document of /api/v1, built from the app's url rules so it cannot drift.

`paths` come from `app.url_map`: every rule of the `api` blueprint, its path parameters
(with their converters' types) and its methods. What a rule cannot say is written per endpoint
in `OPERATIONS` (webapp/openapi_operations.py, openapi_audit.py, openapi_reports.py): summary, who may call it, query parameters, request and response
schemas, and which errors it can answer. A rule without an entry here, or an entry without
a rule, makes `document()` fail, and the tests call it.

The error responses are added by rule as well: 401 unless public, 404 when the path names
something, 400 (CSRF, bad JSON) and 403 (auditors) for every change.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from engine.limits import ID_MAX
from webapp import (
    openapi_alerts,
    openapi_audit,
    openapi_due,
    openapi_inbox,
    openapi_operations,
    openapi_outbox,
    openapi_reports,
    openapi_schemas,
    openapi_task_edits,
)
from webapp.openapi_spec import ERRORS, MUTATING, Op, ref

__all__ = ["MUTATING", "OPERATIONS", "SCHEMAS", "Op", "api_rules", "document", "openapi_path", "rule_methods"]

API_BLUEPRINT = "api"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")
_CONVERTER_SCHEMAS = {
    "int": {"type": "integer", "minimum": 0, "maximum": ID_MAX},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
    "default": {"type": "string"},
    "string": {"type": "string"},
    "path": {"type": "string"},
}

# Every endpoint's note and every component schema: the core ones, the auditor's, the KPI report's.
OPERATIONS: dict[str, Op] = {**openapi_operations.OPERATIONS, **openapi_audit.AUDIT_OPERATIONS,
                             **openapi_reports.REPORT_OPERATIONS, **openapi_inbox.INBOX_OPERATIONS,
                             **openapi_task_edits.TASK_EDIT_OPERATIONS, **openapi_due.DUE_OPERATIONS,
                             **openapi_alerts.ALERT_OPERATIONS, **openapi_outbox.OUTBOX_OPERATIONS}
SCHEMAS: dict[str, dict[str, Any]] = {**openapi_schemas.SCHEMAS, **openapi_audit.AUDIT_SCHEMAS,
                                      **openapi_reports.REPORT_SCHEMAS, **openapi_inbox.INBOX_SCHEMAS,
                                      **openapi_task_edits.TASK_EDIT_SCHEMAS, **openapi_due.DUE_SCHEMAS,
                                      **openapi_alerts.ALERT_SCHEMAS, **openapi_outbox.OUTBOX_SCHEMAS}


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
                 for status in (op.ok_status, *op.also_ok) if status != 304}
    if 304 in op.also_ok:  # a conditional GET: unchanged, no body
        responses["304"] = _response("Not Modified: unchanged since the stamp given", None, op.headers)
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
                           f"(then send the page's CSRF token in `{csrf_header}` with every POST). "
                           "Language: messages (`message` of errors and findings, `errors[].message` and "
                           "`hint`) are in the language `Accept-Language` names (zh or en, by its weights), "
                           "else the session's language switch, else Chinese; send `Accept-Language: en` "
                           "for English. The `error` code never changes with the language: match it, "
                           "not the message.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "tags": [{"name": t} for t in ("me", "tasks", "processes", "drafts", "instances", "incidents", "messages", "audit", "reports", "meta")],
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
