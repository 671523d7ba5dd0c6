"""The supervisors' list of outgoing messages (engine/outbox): by status, newest first, with each
recipient and body shown whole only to a viewer who may see that person's data (a customer's: the
instance rule of engine/access/policy.py; a staff member's address: supervisors)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.access import policy
from engine.access.policy import Viewer
from engine.errors import NotFound
from engine.outbox import queue
from engine.run.delivery_incidents import delivery_incident_of
from engine.run.instance_access import may_see_personal_data
from engine.store.models import OutboxMessage
from engine.store.states import OutboxStatus

LIST_MAX = 200
STATUSES = tuple(str(s) for s in OutboxStatus)


def _unmasked(session: Session, viewer: Viewer, message: OutboxMessage, seen: dict[int | None, bool]) -> bool:
    if message.instance_id not in seen:
        seen[message.instance_id] = (viewer.has(policy.PERSONAL_DATA_ALWAYS) and not viewer.read_only
                                     if message.instance_id is None
                                     else may_see_personal_data(session, viewer, message.instance_id))
    return seen[message.instance_id]


def newest_messages(status: str | None, kind: str | None, limit: int):
    """The newest `limit` messages of a status and kind (each optional)."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return query


def outbox_list(session: Session, viewer: Viewer, status: str | None = OutboxStatus.FAILED, kind: str | None = None,
                limit: int = LIST_MAX) -> dict[str, Any]:
    """{"items": [...], "counts": {status: n}, "status": ..., "kind": ...}; NotAllowed for who has no list."""
    policy.refuse_if(policy.outbox_page_refusal(viewer))
    query = newest_messages(status, kind, min(max(limit, 1), LIST_MAX))
    seen: dict[int | None, bool] = {}
    items = [queue.message_row(m, masked=not _unmasked(session, viewer, m, seen))
             for m in session.execute(query).scalars()]
    counts = {str(s): int(n) for s, n in session.execute(
        select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status))}
    return {"items": items, "counts": {s: counts.get(s, 0) for s in STATUSES}, "status": status, "kind": kind}


def outbox_message(session: Session, viewer: Viewer, message_id: int) -> dict[str, Any]:
    """One message with its timeline; the body only for a viewer who may see the person's data."""
    policy.refuse_if(policy.outbox_page_refusal(viewer))
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"message {message_id} does not exist", key="outbox.missing", params={"id": message_id})
    shown = _unmasked(session, viewer, message, {})
    answer = queue.timeline(session, message_id, masked=not shown) or {}
    if not shown:
        answer["body"] = None
    answer["personal_shown"] = shown
    incident = delivery_incident_of(session, message)
    answer["may_retry"] = (str(message.status) == OutboxStatus.FAILED
                           and policy.delivery_refusal(viewer, incident["lane"], incident["routing"]) is None)
    return answer


__all__ = ["STATUSES", "newest_messages", "outbox_list", "outbox_message"]
