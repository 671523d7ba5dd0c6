"""Delivery incidents: outbox messages that failed for good, for the incident pages and the API.

A message that fails its last attempt (or is refused for good, or reported failed by its
provider) does not stop its instance: the step that queued it committed, and the process goes
on. It is an incident of the lane that owns that step (the message's `lane`; none: the `system`
lane), seen and resolved by the same people as that lane's failed steps
(engine/access/policy.py): resolving is sending it again or giving it up, with a reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.policy import SYSTEM_LANE, Viewer, delivery_refusal, may_see_incident
from engine.clock import iso_z
from engine.outbox.queue import message_row
from engine.run.instance_access import may_see_personal_data
from engine.store.models import Deployment, OutboxMessage, ProcessInstance
from engine.store.states import OutboxStatus

TYPE = "delivery"


def _incident(message: OutboxMessage, process: str | None, process_name: str | None, version: int | None,
              business_key: str | None) -> dict[str, Any]:
    return {
        "type": TYPE, "message_id": message.id, "instance_id": message.instance_id, "process": process,
        "process_name": process_name, "version": version, "business_key": business_key, "task": message.task,
        "task_name": message.kind, "error": message.last_error or "", "attempts": message.attempts,
        "lane": message.lane or SYSTEM_LANE, "business": False, "routing": {}, "summary": {},
        "raised_at": iso_z(message.failed_at), "raised_count": 1,
        "message": message_row(message, masked=True),
    }


def delivery_incidents(session: Session, viewer: Viewer) -> list[dict[str, Any]]:
    """The failed messages this viewer may see, newest first; each says whether the viewer may resolve it.
    The recipient is whole only for viewers who may see the instance's personal data."""
    rows = session.execute(
        select(OutboxMessage, ProcessInstance.process_id, Deployment.name, Deployment.version,
               ProcessInstance.business_key)
        .outerjoin(ProcessInstance, ProcessInstance.id == OutboxMessage.instance_id)
        .outerjoin(Deployment, Deployment.id == ProcessInstance.deployment_id)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .order_by(OutboxMessage.failed_at.desc(), OutboxMessage.id.desc())
    ).all()
    items = []
    for message, process, name, version, key in rows:
        incident = _incident(message, process, name, version, key)
        if not may_see_incident(viewer, incident):
            continue
        incident["can_resolve"] = delivery_refusal(viewer, incident["lane"], incident.get("routing")) is None
        if message.instance_id is not None and may_see_personal_data(session, viewer, message.instance_id):
            incident["message"]["recipient"] = message.recipient
        items.append(incident)
    return items


def delivery_incident_of(session: Session, message: OutboxMessage) -> dict[str, Any]:
    """A message's incident as the policy judges it (lane, routing), whatever its state."""
    return _incident(message, None, None, None, None)


__all__ = ["TYPE", "delivery_incidents", "delivery_incident_of"]
