"""What a person or a provider does to a message after it left the queue.

* `retry`: a failed (or cancelled) message is queued again now, its attempts counted afresh
  (`outbox_retried`, with the person and the reason). The idempotency key stays: a receiver that
  did get it after all still applies it once.
* `give_up`: a failed or queued message will not be sent (`cancelled`, `outbox_cancelled` with
  the reason). Either closes the delivery incident.
* `report`: a provider's delivery report (POST /api/v1/deliveries) marks a sent message
  `delivered` or `failed`; a failed report opens a delivery incident like a last failed attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound, TaskConflict
from engine.outbox import events
from engine.store.models import OutboxMessage
from engine.store.states import OutboxStatus

RETRYABLE = (OutboxStatus.FAILED, OutboxStatus.CANCELLED)
GIVE_UP_FROM = (OutboxStatus.FAILED, OutboxStatus.QUEUED)
REPORTABLE = (OutboxStatus.SENDING, OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.FAILED)


def locked(session: Session, message_id: int) -> OutboxMessage:
    message = session.execute(select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()
    if message is None:
        raise NotFound(f"message {message_id} does not exist", key="outbox.missing", params={"id": message_id})
    return message


def _refuse(message: OutboxMessage, action: str) -> TaskConflict:
    return TaskConflict(f"message {message.id} is {message.status}: it cannot be {action}",
                        key="outbox.state", params={"id": message.id, "status": str(message.status), "action": action})


def retry(session: Session, message: OutboxMessage, *, actor: str, reason: str, now: datetime) -> None:
    if message.status not in RETRYABLE:
        raise _refuse(message, "retried")
    before = str(message.status)
    message.status, message.attempts, message.next_attempt_at = OutboxStatus.QUEUED, 0, now
    message.failed_at, message.locked_by, message.lease_until = None, None, None
    events.record(session, message, events.RETRIED, at=now, actor=actor, reason=reason, was=before)


def give_up(session: Session, message: OutboxMessage, *, actor: str, reason: str, now: datetime) -> None:
    if message.status not in GIVE_UP_FROM:
        raise _refuse(message, "given up")
    before = str(message.status)
    message.status, message.next_attempt_at, message.locked_by, message.lease_until = (
        OutboxStatus.CANCELLED, None, None, None)
    events.record(session, message, events.CANCELLED, at=now, actor=actor, reason=reason, was=before)


def report(session: Session, message: OutboxMessage, *, status: str, at: datetime, error: str | None,
           actor: str) -> dict[str, Any]:
    """Apply one delivery report; the same report again changes nothing (`changed` False)."""
    if message.status not in REPORTABLE:
        raise _refuse(message, f"reported {status}")
    if status == "delivered":
        if message.status == OutboxStatus.DELIVERED:
            return {"id": message.id, "status": "delivered", "changed": False}
        message.status, message.delivered_at, message.last_error = OutboxStatus.DELIVERED, at, None
        message.locked_by = message.lease_until = message.next_attempt_at = None
        events.record(session, message, events.DELIVERED, at=at, actor=actor, by="report")
    else:
        if message.status == OutboxStatus.FAILED and message.last_error == (error or "reported failed"):
            return {"id": message.id, "status": "failed", "changed": False}
        message.status, message.failed_at = OutboxStatus.FAILED, at
        message.last_error = (error or "reported failed")[:2000]
        message.locked_by = message.lease_until = message.next_attempt_at = None
        events.record(session, message, events.FAILED, at=at, actor=actor, by="report", error=message.last_error,
                      permanent=True, final=True, attempt=message.attempts, lane=message.lane)
    return {"id": message.id, "status": str(message.status), "changed": True}


__all__ = ["locked", "retry", "give_up", "report", "RETRYABLE", "GIVE_UP_FROM"]
