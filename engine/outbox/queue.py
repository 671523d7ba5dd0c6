"""Adding messages to the outbox, in the caller's transaction, and reading them back.

`enqueue` is called by a handler or the engine while its step runs: the row and its
`outbox_queued` event commit with the step or not at all, so a message exists if and only if
the step committed. The idempotency key makes a second enqueue of the same message (a step run
again after a crash, a retried handler) return the first row and add nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.access.privacy import mask_email, mask_phone
from engine.clock import iso_z
from engine.errors import TourflowError
from engine.outbox import events
from engine.outbox.settings import CHANNELS
from engine.store.audit import SYSTEM_STREAM, instance_stream
from engine.store.models import AuditEvent, Deployment, OutboxMessage, ProcessInstance
from engine.store.states import OutboxStatus


def enqueue(session: Session, *, kind: str, channel: str, recipient: str, subject: str, body: str,
            payload: dict[str, Any] | None, idempotency_key: str, now: datetime, instance_id: int | None = None,
            task: str | None = None, lane: str | None = None, send_at: datetime | None = None) -> OutboxMessage:
    """Queue one message (due at `send_at`, else `now`); the same `idempotency_key` again returns the
    existing row. The caller's transaction commits it."""
    if channel not in CHANNELS:
        raise TourflowError(f"unknown outbox channel {channel!r} (one of {', '.join(CHANNELS)})",
                            key="outbox.unknown_channel", params={"channel": channel})
    existing = by_key(session, idempotency_key)
    if existing is not None:
        return existing
    if lane is None and instance_id is not None and task:
        lane = step_lane(session, instance_id, task)
    message = OutboxMessage(kind=kind, channel=channel, recipient=recipient, subject=subject or "", body=body or "",
                            payload=payload or {}, idempotency_key=idempotency_key, status=OutboxStatus.QUEUED,
                            attempts=0, next_attempt_at=send_at or now, instance_id=instance_id, task=task,
                            lane=lane, created_at=now)
    try:
        with session.begin_nested():  # a concurrent enqueue of the same key: keep theirs
            session.add(message)
            session.flush()
    except IntegrityError:
        existing = by_key(session, idempotency_key)
        if existing is None:
            raise
        return existing
    events.record(session, message, events.QUEUED, at=now, touches_state=True, recipient=recipient,
                  idempotency_key=idempotency_key, task=task, lane=lane,
                  send_at=iso_z(send_at) if send_at else None)
    return message


def step_lane(session: Session, instance_id: int, task: str) -> str | None:
    """The lane of BPMN node `task` in the instance's process version: who answers for its messages."""
    lanes = session.execute(select(Deployment.node_lanes).join(ProcessInstance, ProcessInstance.deployment_id
                                                               == Deployment.id)
                            .where(ProcessInstance.id == instance_id)).scalar()
    lane = (lanes or {}).get(task)
    return lane if isinstance(lane, str) else None


def by_key(session: Session, idempotency_key: str) -> OutboxMessage | None:
    return session.execute(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


def message_status(session: Session, ids: list[int]) -> dict[int, str]:
    """id -> status for the messages that exist among `ids`."""
    if not ids:
        return {}
    rows = session.execute(select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(ids)))
    return {row.id: str(row.status) for row in rows}


def messages_of(session: Session, instance_id: int, masked: bool = True) -> list[dict[str, Any]]:
    """An instance's messages in the order they were queued, with their status and timestamps."""
    rows = session.execute(select(OutboxMessage).where(OutboxMessage.instance_id == instance_id)
                           .order_by(OutboxMessage.id)).scalars()
    return [message_row(message, masked) for message in rows]


def mask_recipient(recipient: str) -> str:
    """A mail address as z***@example.com, a phone as 138****4567; a staff user name as it is."""
    if "@" in recipient:
        return mask_email(recipient)
    digits = recipient.lstrip("+")
    if digits.isdigit():
        return mask_phone(recipient)
    return recipient


def message_row(message: OutboxMessage, masked: bool = True) -> dict[str, Any]:
    """A message as pages, the API and the CLI show it (the recipient masked unless `masked` is False)."""
    return {
        "id": message.id, "kind": message.kind, "channel": message.channel,
        "recipient": mask_recipient(message.recipient) if masked else message.recipient,
        "subject": message.subject, "status": str(message.status), "attempts": message.attempts,
        "next_attempt_at": iso_z(message.next_attempt_at), "last_error": message.last_error,
        "provider_ref": message.provider_ref, "idempotency_key": message.idempotency_key,
        "instance_id": message.instance_id, "task": message.task, "lane": message.lane,
        "created_at": iso_z(message.created_at), "sent_at": iso_z(message.sent_at),
        "delivered_at": iso_z(message.delivered_at), "failed_at": iso_z(message.failed_at),
    }


def timeline(session: Session, message_id: int, masked: bool = True) -> dict[str, Any] | None:
    """One message with its audit events in order (queued, each attempt, sent, delivered or failed)."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return None
    stream = instance_stream(message.instance_id) if message.instance_id is not None else SYSTEM_STREAM
    rows = session.execute(
        select(AuditEvent).where(AuditEvent.stream == stream, AuditEvent.kind.in_(events.KINDS))
        .order_by(AuditEvent.seq)
    ).scalars()
    history = []
    for event in rows:
        payload = json.loads(event.payload)
        if payload.get("message") != message_id:
            continue
        if masked and "recipient" in payload:
            payload["recipient"] = mask_recipient(payload["recipient"])
        history.append({"at": iso_z(event.at), "kind": event.kind, "actor": event.actor, **payload})
    return {**message_row(message, masked), "body": message.body, "events": history}


__all__ = ["CHANNELS", "enqueue", "by_key", "message_status", "messages_of", "message_row", "mask_recipient",
           "timeline"]
