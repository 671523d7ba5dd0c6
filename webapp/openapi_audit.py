"""The OpenAPI entries of the auditor's endpoints (webapp/api_audit.py), merged into webapp/openapi.py's
SCHEMAS and OPERATIONS."""

from __future__ import annotations

from typing import Any

from engine.limits import PAGE_MAX
from engine.run.queries import INSTANCE_STATUSES, PER_PAGE_MAX
from webapp.openapi_spec import DATE_TIME, NULL_DATE_TIME, OBJECT, Op, nullable, query, ref

PROBLEMS = ["hash_mismatch", "seq_gap", "prev_hash_mismatch", "tail_missing", "head_mismatch", "state_mismatch"]
IDS = {"type": "array", "items": {"type": "string"}}
PAGE = {"total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
        "pages": {"type": "integer"}}

AUDIT_SCHEMAS: dict[str, dict[str, Any]] = {
    "ChainBreak": {
        "type": "object",
        "description": "The first broken link of a hash chain: where, and what is wrong. hash_mismatch: the "
                       "event at `seq` was altered; seq_gap: `seq` is missing (`found_seq` follows: a row "
                       "deleted or renumbered); prev_hash_mismatch: the event at `seq` does not chain onto the "
                       "one before (swapped, inserted); tail_missing: events from `seq` on were deleted "
                       "(audit_head records more); head_mismatch: audit_head disagrees otherwise; "
                       "state_mismatch: the chain is intact, but the instance's live state (workflow, open "
                       "tasks, pending jobs) is not the state its state_written event at `seq` recorded.",
        "required": ["seq", "problem", "reason", "found_seq"],
        "properties": {
            "seq": {"type": "integer"},
            "problem": {"enum": PROBLEMS},
            "reason": {"type": "string", "description": "In words, as `tourflow audit verify` prints it."},
            "found_seq": nullable("integer"),
        },
    },
    "CheckedEvent": {
        "type": "object",
        "description": "One audit event with its chain verdict. `computed_hash` is sha256(prev_hash + canonical "
                       "row), recomputed now; `chain`: ok, broken (the first event the break shows at) or "
                       "after_break (it follows a broken link, so nothing vouches for it).",
        "required": ["seq", "at", "actor", "kind", "payload", "prev_hash", "hash", "computed_hash", "chain_ok",
                     "chain"],
        "properties": {
            "seq": {"type": "integer"},
            "at": DATE_TIME,
            "actor": {"type": "string"},
            "kind": {"type": "string"},
            "payload": OBJECT,
            "prev_hash": {"type": "string"},
            "hash": {"type": "string"},
            "computed_hash": {"type": "string"},
            "chain_ok": {"type": "boolean"},
            "chain": {"enum": ["ok", "broken", "after_break"]},
        },
    },
    "StateCheck": {
        "type": "object",
        "description": "An instance's live state against the hash its newest state_written event recorded "
                       "(docs/engine.md, Audit). verdict ok, differs, or unrecorded (its events predate state "
                       "hashes).",
        "required": ["verdict", "seq", "message"],
        "properties": {
            "verdict": {"enum": ["ok", "differs", "unrecorded"]},
            "seq": nullable("integer", description="The state_written event compared with."),
            "message": {"type": "string"},
        },
    },
    "AuditTrail": {
        "type": "object",
        "required": ["instance_id", "stream", "ok", "head_seq", "broken", "events"],
        "properties": {
            "instance_id": {"type": "integer"},
            "stream": {"type": "string", "examples": ["instance:12"]},
            "ok": {"type": "boolean", "description": "The whole chain verifies, up to audit_head."},
            "head_seq": nullable("integer", description="The last seq audit_head records for the stream."),
            "broken": {"oneOf": [ref("ChainBreak"), {"type": "null"}]},
            "state": {"oneOf": [ref("StateCheck"), {"type": "null"}],
                      "description": "Checked only while the chain is intact."},
            "events": {"type": "array", "items": ref("CheckedEvent")},
        },
    },
    "ReplaySnapshot": {
        "type": "object",
        "description": "The replayed instance right after one audit event.",
        "required": ["seq", "at", "kind", "completed", "active", "waiting", "data"],
        "properties": {
            "seq": {"type": "integer"},
            "at": {"type": "string"},
            "kind": {"type": "string"},
            "completed": IDS,
            "active": IDS,
            "waiting": IDS,
            "data": OBJECT,
        },
    },
    "Replay": {
        "type": "object",
        "required": ["instance_id", "identical", "difference", "snapshots"],
        "properties": {
            "instance_id": {"type": "integer"},
            "identical": {"type": "boolean", "description": "The replay ends in exactly the stored state."},
            "difference": nullable("string", description="Where and how the replay and the record disagree."),
            "snapshots": {"type": "array", "items": ref("ReplaySnapshot")},
        },
    },
    "ChainStatus": {
        "type": "object",
        "required": ["stream", "instance_id", "ok", "events", "last_seq", "head_seq", "broken", "process",
                     "process_name", "can_view"],
        "properties": {
            "stream": {"type": "string", "examples": ["system", "instance:12"]},
            "instance_id": nullable("integer"),
            "ok": {"type": "boolean"},
            "events": {"type": "integer"},
            "last_seq": nullable("integer"),
            "head_seq": nullable("integer"),
            "broken": {"oneOf": [ref("ChainBreak"), {"type": "null"}]},
            "state": {"oneOf": [ref("StateCheck"), {"type": "null"}],
                      "description": "Instance streams whose chain is intact; null otherwise."},
            "process": nullable("string"),
            "process_name": nullable("string"),
            "can_view": {"type": "boolean", "description": "Whether I may open the instance's audit trail."},
        },
    },
    "ChainReport": {
        "type": "object",
        "required": ["checked", "broken_count", "events", "broken", "items", *PAGE],
        "properties": {
            "checked": {"type": "integer", "description": "Chains verified: the system stream and one per instance."},
            "broken_count": {"type": "integer"},
            "events": {"type": "integer", "description": "Events verified."},
            "broken": {"type": "array", "items": ref("ChainStatus"), "description": "Every broken chain."},
            "items": {"type": "array", "items": ref("ChainStatus"), "description": "This page of the chains."},
            **PAGE,
        },
    },
    "SearchHit": {
        "type": "object",
        "required": ["id", "process", "process_name", "version", "status", "business_key", "customer_name",
                     "phone", "tour_id", "started_at", "started_by", "ended_at"],
        "properties": {
            "id": {"type": "integer"},
            "process": {"type": "string"},
            "process_name": {"type": "string"},
            "version": {"type": "integer"},
            "status": {"type": "string"},
            "business_key": nullable("string"),
            "customer_name": nullable("string"),
            "phone": nullable("string"),
            "tour_id": nullable("string"),
            "started_at": DATE_TIME,
            "started_by": {"type": "string"},
            "ended_at": NULL_DATE_TIME,
        },
    },
    "SearchPage": {
        "type": "object",
        "required": ["items", *PAGE],
        "properties": {"items": {"type": "array", "items": ref("SearchHit")}, **PAGE},
    },
}

PAGING = [
    query("page", {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 1}, "Page number."),
    query("per_page", {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX, "default": 25}, "Rows per page."),
]
DATE = {"type": "string", "format": "date"}

AUDIT_OPERATIONS: dict[str, Op] = {
    "api.instance_audit": Op(
        "GET", "The instance's audit trail, each event with its hash-chain verdict", "audit", ref("AuditTrail"),
        roles="as for the instance (supervisors, auditors: every instance)", errors=(403,),
        description="Each event's hash is recomputed from its prev_hash and canonical row, as `tourflow audit "
                    "verify` does; the first broken event and every event after it have `chain_ok` false."),
    "api.instance_replay": Op(
        "GET", "The instance re-run from its record: a snapshot of nodes and data per event", "audit",
        ref("Replay"), roles="as for the instance (supervisors, auditors: every instance)", errors=(403,),
        description="Nothing is written. `identical` is false, with the reason in `difference`, when the record "
                    "does not explain the stored state."),
    "api.audit_chains": Op(
        "GET", "Tamper evidence: the verdict on every hash chain (system and each instance)", "audit",
        ref("ChainReport"), roles="auditor, supervisor, owner", errors=(403, 422),
        parameters=[query("broken", {"type": "boolean"}, "Only the broken chains."), *PAGING]),
    "api.search_instances": Op(
        "GET", "Find instances by process, customer, tour, status, start date and actor", "audit",
        ref("SearchPage"), roles="any logged-in user: the instances they may see (supervisors, auditors: all)", errors=(422,),
        description="Newest first. Filters combine (AND); text matches a part, case-insensitively.",
        parameters=[
            query("process", {"type": "string"}, "Only this process id."),
            query("customer", {"type": "string", "maxLength": 120},
                  "A customer's name (or part of it) or phone: the whole number, part of it, or its last 4 digits."),
            query("tour", {"type": "string", "maxLength": 120}, "A tour id, booking code or business key (part)."),
            query("status", {"enum": list(INSTANCE_STATUSES)}, "Only this status."),
            query("started_from", DATE, "Started on or after this day (China time)."),
            query("started_to", DATE, "Started on or before this day (China time)."),
            query("actor", {"type": "string", "maxLength": 120},
                  "Someone who acted on the instance (any of its audit events' actor)."),
            *PAGING,
        ]),
}
