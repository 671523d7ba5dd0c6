"""The audit events of the outbox, and how they are appended.

A message's events go to its instance's stream (the system stream when it has none). They
record what happened to a message and change nothing of the instance: replay skips them
(engine/history/replayer.py) and a delivery's events do not make the transaction record a new
state hash for the instance (nothing of its state changed).

The kinds are prefixed `outbox_` rather than `message_`: `message_sent` and `message_received`
already record BPMN messages thrown and caught between instances.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.store import audit
from engine.store.models import OutboxMessage

QUEUED = "outbox_queued"
SENT = "outbox_sent"
DELIVERED = "outbox_delivered"
FAILED = "outbox_failed"  # an attempt failed (payload `final`: no attempt follows)
RETRIED = "outbox_retried"  # a person sent a failed message again
CANCELLED = "outbox_cancelled"  # a person gave it up, with a reason

KINDS = frozenset({QUEUED, SENT, DELIVERED, FAILED, RETRIED, CANCELLED})


def record(session: Session, message: OutboxMessage, kind: str, *, at: datetime, actor: str = audit.SYSTEM_ACTOR,
           touches_state: bool = False, **payload: Any) -> None:
    """Append `kind` for `message` in the caller's transaction. `touches_state` False (a delivery, a
    report): the instance's state is unchanged, so no state hash is recorded for it on commit."""
    touched = session.info.get(audit.TOUCHED_KEY, {})
    was_touched = message.instance_id in touched
    audit.append(session, kind=kind, actor=actor, at=at, instance_id=message.instance_id,
                 payload={"message": message.id, "message_kind": message.kind, "channel": message.channel, **payload})
    if message.instance_id is not None and not touches_state and not was_touched:
        session.info.get(audit.TOUCHED_KEY, {}).pop(message.instance_id, None)


__all__ = ["QUEUED", "SENT", "DELIVERED", "FAILED", "RETRIED", "CANCELLED", "KINDS", "record"]
