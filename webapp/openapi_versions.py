"""OpenAPI schemas of process versions: the diff of two versions and activating one."""

from __future__ import annotations

from typing import Any

from engine.bpmn.xmlsafe import MAX_BPMN_BYTES
from engine.limits import ID_MAX, NAME_MAX, REASON_MAX
from engine.run.deployments import MAX_UPLOAD_FILES

DIFF_ELEMENT = {
    "type": "object", "required": ["id", "kind", "name", "lane", "details"],
    "properties": {"id": {"type": "string"}, "kind": {"type": "string", "description": "userTask, sequenceFlow, ..."},
                   "name": {"type": "string"}, "lane": {"type": ["string", "null"]},
                   "details": {"type": "object", "additionalProperties": {"type": "string"}}},
}

MOVE = {"type": "object", "required": ["from", "to", "name", "state"],
        "properties": {"from": {"type": "string"}, "to": {"type": "string"}, "name": {"type": "string"},
                       "state": {"enum": ["waiting", "passed"]}}}

FINDING = {"type": "object", "required": ["severity", "rule", "line", "col", "message", "message_en", "message_zh"],
           "properties": {"severity": {"enum": ["error", "warning"]}, "rule": {"type": "string"},
                          "line": {"type": "integer"}, "col": {"type": "integer"},
                          "message": {"type": "string", "description": "POST /lint and refused deploys: in the "
                                      "user's language (Chinese unless the session chose English at /lang/en); "
                                      "a draft preview: English, as `tourflow lint` prints it."},
                          "message_en": {"type": "string"}, "message_zh": {"type": "string"},
                          "element": {"type": ["string", "null"],
                                      "description": "The BPMN element id it is about, when known."}}}

VERSION_SCHEMAS: dict[str, dict[str, Any]] = {
    "Handler": {
        "type": "object", "required": ["name", "summary", "parameters", "results", "writes", "module", "used_by"],
        "properties": {
            "name": {"type": "string", "description": "The service task's operator id."},
            "summary": {"type": "string"},
            "parameters": {"type": "array", "items": {
                "type": "object", "required": ["name", "required", "default", "type"],
                "properties": {"name": {"type": "string"}, "required": {"type": "boolean"}, "default": {},
                               "type": {"type": ["string", "null"]}}}},
            "results": {"type": ["array", "null"], "items": {"type": "string"},
                        "description": "The keys of the dict it returns (stored under the task's resultVariable), "
                                       "read from its source; null when they cannot be read (see its summary)."},
            "writes": {"type": "boolean", "description": "False: it only reads (no savepoint)."},
            "module": {"type": "string"},
            "used_by": {"type": "array", "items": {"type": "string"},
                        "description": "The processes whose current version calls it."},
        },
    },
    "LintRequest": {
        "type": "object",
        "required": ["bpmn_xml"],
        "additionalProperties": False,
        "properties": {
            "bpmn_xml": {"type": "string", "minLength": 1,
                         "description": f"The diagram, at most {MAX_BPMN_BYTES} bytes (UTF-8)."},
            "process_id": {"type": ["string", "null"], "minLength": 1, "maxLength": NAME_MAX,
                           "description": "Whose current version's forms the form rules check against "
                                          "(default: the diagram's own process id)."},
            "forms": {"type": "object", "maxProperties": MAX_UPLOAD_FILES,
                      "additionalProperties": {"type": "object"},
                      "description": "Forms being edited, by file name (`*.schema.json`): they replace the "
                                     "current version's forms of the same name for this check."},
        },
    },
    "WaitingNodes": {
        "type": "object", "required": ["process_id", "version", "items"],
        "properties": {"process_id": {"type": "string"}, "version": {"type": "integer"},
                       "items": {"type": "array", "items": {
                           "type": "object", "required": ["node", "name", "waiting"],
                           "properties": {"node": {"type": "string"}, "name": {"type": "string"},
                                          "waiting": {"type": "integer", "minimum": 1}}}}},
    },
    "FormPreviewRequest": {
        "type": "object", "required": ["schema"], "additionalProperties": False,
        "properties": {"schema": {"type": "object", "description": "The form's JSON Schema (draft 2020-12)."}},
    },
    "FormPreview": {
        "type": "object", "required": ["valid", "problems", "html", "fields"],
        "properties": {
            "valid": {"type": "boolean"},
            "problems": {"type": "array", "items": {"type": "string"}},
            "html": {"type": "string", "description": "The form's fields as HTML (escaped, no scripts)."},
            "fields": {"type": "array", "items": {
                "type": "object", "required": ["name", "label", "widget", "required"],
                "properties": {"name": {"type": "string"}, "label": {"type": "string"}, "widget": {"type": "string"},
                               "required": {"type": "boolean"}}}},
        },
    },
    "LintResult": {
        "type": "object", "required": ["process_id", "findings", "errors", "warnings"],
        "properties": {"process_id": {"type": ["string", "null"]},
                       "findings": {"type": "array", "items": {**FINDING, "required": [*FINDING["required"], "element"]}},
                       "errors": {"type": "integer"}, "warnings": {"type": "integer"}},
    },
    "DraftSummary": {
        "type": "object", "required": ["id", "process_id", "filename", "saved_by", "saved_at", "size"],
        "properties": {"id": {"type": "integer"}, "process_id": {"type": ["string", "null"]},
                       "filename": {"type": "string"}, "saved_by": {"type": "string"},
                       "saved_at": {"type": "string"}, "size": {"type": "integer"}},
    },
    "DraftPreview": {
        "type": "object",
        "required": ["id", "process_id", "filename", "saved_by", "saved_at", "current_version", "findings",
                     "deployable", "diff", "waiting"],
        "properties": {
            "id": {"type": "integer"}, "process_id": {"type": ["string", "null"]}, "filename": {"type": "string"},
            "saved_by": {"type": "string"}, "saved_at": {"type": "string"},
            "current_version": {"type": ["integer", "null"], "description": "The version it is compared with."},
            "findings": {"type": "array", "items": FINDING},
            "deployable": {"type": "boolean", "description": "No lint error: it can be deployed."},
            "diff": {"oneOf": [{"type": "null"}, {"type": "object"}],
                     "description": "As GET /processes/{id}/diff, against the current version (null: first "
                                    "version, or a file that does not parse)."},
            "waiting": {"type": "object", "additionalProperties": {"type": "integer"},
                        "description": "Changed or removed node id -> running instances waiting there."},
        },
    },
    "DraftDiscarded": {"type": "object", "required": ["discarded"], "properties": {"discarded": {"type": "integer"}}},
    "MigrationRequest": {
        "type": "object",
        "required": ["from", "to", "reason"],
        "additionalProperties": False,
        "properties": {
            "from": {"type": "integer", "minimum": 1, "maximum": ID_MAX, "description": "The version they run on."},
            "to": {"type": "integer", "minimum": 1, "maximum": ID_MAX, "description": "The version to move them to."},
            "mapping": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "Old node id → new node id, for waiting nodes the target renamed or removed."},
            "instances": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
                          "description": "Only these instances; absent: every running instance of `from`."},
            "waiting_at": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 200,
                           "description": "Only instances with an open task or a pending timer on one of these "
                                          "nodes of `from`."},
            "started_before": {"type": "string", "format": "date-time",
                               "description": "Only instances started before this moment (no offset: UTC)."},
            "started_after": {"type": "string", "format": "date-time",
                              "description": "Only instances started at or after this moment (no offset: UTC)."},
            "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX},
            "dry_run": {"type": "boolean", "description": "Report only; nothing is written."},
        },
    },
    "MigrationReport": {
        "type": "object",
        "required": ["process_id", "from", "to", "dry_run", "mapping", "filter", "migrated", "instances"],
        "properties": {
            "process_id": {"type": "string"}, "from": {"type": "integer"}, "to": {"type": "integer"},
            "dry_run": {"type": "boolean"}, "mapping": {"type": "object"},
            "filter": {"type": "object", "required": ["waiting_at", "started_before", "started_after", "instances"],
                       "description": "The filter used (parts combine with AND; empty or null: not filtered).",
                       "properties": {"waiting_at": {"type": "array", "items": {"type": "string"}},
                                      "started_before": {"type": ["string", "null"]},
                                      "started_after": {"type": ["string", "null"]},
                                      "instances": {"type": ["array", "null"], "items": {"type": "integer"}}}},
            "migrated": {"type": "integer", "description": "How many moved (would move, in a dry run)."},
            "instances": {"type": "array", "items": {
                "type": "object", "required": ["instance_id", "ok", "moved", "tasks", "reason"],
                "properties": {"instance_id": {"type": "integer"}, "ok": {"type": "boolean"},
                               "moved": {"type": "array", "items": MOVE},
                               "tasks": {"type": "array", "items": {"type": "object"}},
                               "reason": {"type": ["string", "null"]}}}},
        },
    },
    "VersionDiff": {
        "type": "object",
        "required": ["process_id", "from", "to", "added", "removed", "changed", "forms", "moved"],
        "properties": {
            "process_id": {"type": "string"}, "from": {"type": "integer"}, "to": {"type": "integer"},
            "added": {"type": "array", "items": DIFF_ELEMENT}, "removed": {"type": "array", "items": DIFF_ELEMENT},
            "changed": {"type": "array", "items": {
                "type": "object", "required": ["id", "kind", "name", "fields"],
                "properties": {"id": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"},
                               "fields": {"type": "array", "items": {
                                   "type": "object", "required": ["field", "label", "old", "new"],
                                   "properties": {"field": {"type": "string"}, "label": {"type": "string"},
                                                  "old": {"type": ["string", "null"]},
                                                  "new": {"type": ["string", "null"]}}}}}}},
            "forms": {"type": "array", "items": {
                "type": "object", "required": ["form", "change"],
                "properties": {"form": {"type": "string"}, "change": {"enum": ["added", "removed", "changed"]}}}},
            "moved": {"type": "array", "items": {"type": "string"}, "description": "Ids drawn elsewhere."},
        },
    },
    "ActivateRequest": {
        "type": "object",
        "required": ["reason"],
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX,
                                  "description": "Recorded in the audit log."}},
    },
    "Activated": {
        "type": "object",
        "required": ["process_id", "version", "deployment_id", "previous_version"],
        "properties": {"process_id": {"type": "string"}, "version": {"type": "integer"},
                       "deployment_id": {"type": "integer"},
                       "previous_version": {"type": ["integer", "null"],
                                            "description": "The version that was current before."}},
    },
}
