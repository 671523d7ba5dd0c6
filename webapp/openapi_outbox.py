"""The OpenAPI entries of the outbox routes (webapp/api_outbox.py) and of a delivery incident, merged into
webapp/openapi.py's SCHEMAS and OPERATIONS. docs/outbox.md describes the outbox."""

from __future__ import annotations

from typing import Any

from engine.limits import REASON_MAX
from engine.run.outbox_commands import REPORT_ITEMS_MAX, REPORT_STATUSES, RESOLUTIONS
from engine.store.states import OutboxStatus
from webapp.openapi_spec import NULL_DATE_TIME, Op, nullable, ref

STATUSES = [str(s) for s in OutboxStatus]

OUTBOX_SCHEMAS: dict[str, dict[str, Any]] = {
    "OutboxMessage": {
        "type": "object",
        "description": "A message for a customer or a staff member. `recipient` is masked (z***@example.com, "
                       "138****5678) unless you may see the instance's personal data.",
        "required": ["id", "kind", "channel", "recipient", "subject", "status", "attempts", "next_attempt_at",
                     "last_error", "provider_ref", "idempotency_key", "instance_id", "task", "lane", "created_at",
                     "sent_at", "delivered_at", "failed_at"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "examples": ["booking.confirmation"]},
            "channel": {"enum": ["email", "webhook", "log"]},
            "recipient": {"type": "string"},
            "subject": {"type": "string"},
            "status": {"enum": STATUSES},
            "attempts": {"type": "integer", "minimum": 0},
            "next_attempt_at": NULL_DATE_TIME,
            "last_error": nullable("string"),
            "provider_ref": nullable("string", description="The channel's own id of the message."),
            "idempotency_key": {"type": "string"},
            "instance_id": nullable("integer"),
            "task": nullable("string"),
            "lane": nullable("string"),
            "created_at": {"type": "string", "format": "date-time"},
            "sent_at": NULL_DATE_TIME,
            "delivered_at": NULL_DATE_TIME,
            "failed_at": NULL_DATE_TIME,
        },
    },
    "DeliveryIncident": {
        "type": "object",
        "description": "A message that failed for good (its last attempt, a permanent refusal, or a provider's "
                       "failure report). Its instance keeps running; the lane that owns the step resolves it.",
        "required": ["type", "message_id", "instance_id", "process", "process_name", "version", "business_key",
                     "task", "task_name", "error", "attempts", "lane", "raised_at", "can_resolve", "message"],
        "properties": {
            "type": {"const": "delivery"},
            "message_id": {"type": "integer"},
            "instance_id": nullable("integer"),
            "process": nullable("string"),
            "process_name": nullable("string"),
            "version": nullable("integer"),
            "business_key": nullable("string"),
            "task": nullable("string"),
            "task_name": {"type": "string", "description": "The message kind."},
            "error": {"type": "string"},
            "attempts": {"type": "integer"},
            "lane": {"type": "string"},
            "raised_at": NULL_DATE_TIME,
            "can_resolve": {"type": "boolean"},
            "message": ref("OutboxMessage"),
        },
    },
    "DeliveryReport": {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {"items": {
            "type": "array", "minItems": 1, "maxItems": REPORT_ITEMS_MAX,
            "items": {
                "type": "object",
                "required": ["status"],
                "additionalProperties": False,
                "description": "One of `id` (ours) and `provider_ref` (the channel's, e.g. the Message-ID).",
                "properties": {
                    "id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                    "provider_ref": {"type": "string", "minLength": 1, "maxLength": 200},
                    "status": {"enum": list(REPORT_STATUSES)},
                    "at": {"type": ["string", "null"], "format": "date-time",
                           "description": "When it happened (ISO 8601); absent: now."},
                    "error": {"type": ["string", "null"], "maxLength": 2000},
                },
            },
        }},
    },
    "DeliveryResults": {
        "type": "object",
        "required": ["results"],
        "properties": {"results": {"type": "array", "items": {
            "type": "object",
            "required": ["result"],
            "description": "Per item, in order: `updated`, `unchanged` (the same report again), `not_found` "
                           "(no such message) or `refused` (a message not sent yet, or given up).",
            "properties": {
                "id": {"type": "integer"},
                "provider_ref": {"type": "string"},
                "status": {"enum": STATUSES},
                "result": {"enum": ["updated", "unchanged", "not_found", "refused"]},
            },
        }}},
    },
    "ResolveDeliveryRequest": {
        "type": "object",
        "required": ["action", "reason"],
        "additionalProperties": False,
        "properties": {
            "action": {"enum": list(RESOLUTIONS), "description": "retry: send it again now, attempts counted "
                                                                 "afresh; give_up: it will not be sent."},
            "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX},
        },
    },
}

OUTBOX_OPERATIONS: dict[str, Op] = {
    "api.report_deliveries": Op(
        "POST", "Delivery reports: mark outbox messages delivered or failed", "messages", ref("DeliveryResults"),
        roles="integration (the providers' accounts)", body="DeliveryReport", body_required=True,
        errors=(403, 422),
        description="All items are checked first (a bad item is a 422 naming it, and nothing changes); then "
                    "each is applied in one transaction. An unknown id or provider_ref is a per-item "
                    "`not_found`, not a 404, so one stale id does not hold back the rest of a batch. A failed "
                    "report raises a delivery incident."),
    "api.resolve_delivery": Op(
        "POST", "Resolve a delivery incident: send the message again, or give it up", "incidents",
        ref("OutboxMessage"), roles="holders of the message's lane (system lane: supervisors, owners); "
                                    "not auditors",
        body="ResolveDeliveryRequest", body_required=True, errors=(403, 409, 422),
        description="Recorded as outbox_retried or outbox_cancelled with the reason. 409 when the message is "
                    "not failed (retry also takes a cancelled one; give_up also a queued one)."),
}
