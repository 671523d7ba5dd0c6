"""OpenAPI schemas of process versions: the diff of two versions and activating one."""

from __future__ import annotations

from typing import Any

from engine.limits import REASON_MAX

DIFF_ELEMENT = {
    "type": "object", "required": ["id", "kind", "name", "lane", "details"],
    "properties": {"id": {"type": "string"}, "kind": {"type": "string", "description": "userTask, sequenceFlow, ..."},
                   "name": {"type": "string"}, "lane": {"type": ["string", "null"]},
                   "details": {"type": "object", "additionalProperties": {"type": "string"}}},
}

MOVE = {"type": "object", "required": ["from", "to", "name", "state"],
        "properties": {"from": {"type": "string"}, "to": {"type": "string"}, "name": {"type": "string"},
                       "state": {"enum": ["waiting", "passed"]}}}

VERSION_SCHEMAS: dict[str, dict[str, Any]] = {
    "MigrationRequest": {
        "type": "object",
        "required": ["from", "to", "reason"],
        "additionalProperties": False,
        "properties": {
            "from": {"type": "integer", "minimum": 1, "description": "The version the instances run on."},
            "to": {"type": "integer", "minimum": 1, "description": "The version to move them to."},
            "mapping": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "Old node id → new node id, for waiting nodes the target renamed or removed."},
            "instances": {"type": "array", "items": {"type": "integer"},
                          "description": "Only these instances; absent: every running instance of `from`."},
            "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX},
            "dry_run": {"type": "boolean", "description": "Report only; nothing is written."},
        },
    },
    "MigrationReport": {
        "type": "object",
        "required": ["process_id", "from", "to", "dry_run", "mapping", "migrated", "instances"],
        "properties": {
            "process_id": {"type": "string"}, "from": {"type": "integer"}, "to": {"type": "integer"},
            "dry_run": {"type": "boolean"}, "mapping": {"type": "object"},
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
