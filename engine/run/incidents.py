"""Open incidents: instances stopped in status "error", for the incident pages and the API.

An instance is in error when a service task's handler failed its last retry, or raised
`BusinessError(message, lane)` (then at once). The engine records `incident_raised`
(task, error, attempts, business, lane) and keeps the failed step in the workflow;
`Runtime.resolve_incident` runs it again. Reads only: rows and audit events, never a
serialized workflow.

Who is responsible: the lane the BusinessError named, else the failed node's lane in the
deployment. Who sees and who resolves an incident is engine/access/policy.py's: supervisors, process
owners and auditors see all of them; everyone else those of the lanes they hold (and of their
routing: the process's routing keys in the instance's data); a holder of that lane resolves it
(never an auditor). A failure in the `system` lane (a handler that kept failing: a supplier down, a bug) belongs to nobody's lane;
supervisors and process owners resolve those.
"""

from __future__ import annotations

import json
import keyword
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.policy import SYSTEM_LANE, Viewer, may_resolve_incident, may_see_incident
from engine.bpmn.specs import ProcessModel
from engine.clock import iso_z
from engine.run.queries import deployed_models
from engine.store.audit import READ_BY_KIND_TERM, instance_stream
from engine.store.models import AuditEvent, Deployment, ProcessInstance
from engine.store.states import InstanceStatus


@dataclass(frozen=True)
class _Row:
    instance: ProcessInstance
    version: int
    process_name: str
    node_lanes: dict[str, Any]
    model: ProcessModel


def _rows(session: Session, instance_id: int | None = None, process: str | None = None) -> list[_Row]:
    query = (select(ProcessInstance, Deployment.version, Deployment.name, Deployment.node_lanes)
             .join(Deployment, Deployment.id == ProcessInstance.deployment_id)
             .where(ProcessInstance.status == InstanceStatus.ERROR))
    if instance_id is not None:
        query = query.where(ProcessInstance.id == instance_id)
    if process:
        query = query.where(ProcessInstance.process_id == process)
    rows = session.execute(query).all()
    models = deployed_models(session, {i.deployment_id for i, *_ in rows})
    return [_Row(i, v, n, lanes or {}, models[i.deployment_id]) for i, v, n, lanes in rows]


def _raised(session: Session, instance_ids: list[int]) -> dict[int, tuple[AuditEvent, int]]:
    """instance id -> (its newest incident_raised event, how many it has)."""
    found: dict[int, tuple[AuditEvent, int]] = {}
    if not instance_ids:
        return found
    events = session.execute(
        select(AuditEvent).where(READ_BY_KIND_TERM, AuditEvent.kind == "incident_raised",
                                 AuditEvent.instance_id.in_(instance_ids))
        .order_by(AuditEvent.instance_id, AuditEvent.seq)
    ).scalars()
    for event in events:
        count = found.get(event.instance_id, (None, 0))[1]
        found[event.instance_id] = (event, count + 1)
    return found


def _incident(row: _Row, raised: tuple[AuditEvent, int] | None) -> dict[str, Any]:
    instance = row.instance
    event, count = raised if raised else (None, 0)
    payload = json.loads(event.payload) if event else {}
    task = payload.get("task")
    data = instance.data or {}
    return {
        "instance_id": instance.id,
        "process": instance.process_id,
        "process_name": row.process_name,
        "version": row.version,
        "business_key": instance.business_key,
        "task": task,
        "task_name": payload.get("name") or task,
        "error": payload.get("error") or instance.error or "",
        "attempts": int(payload.get("attempts") or 0),
        "lane": payload.get("lane") or row.node_lanes.get(task or "") or SYSTEM_LANE,
        "business": bool(payload.get("business")),
        "routing": row.model.routing_of(data),
        "summary": row.model.summary_of(data),
        "raised_at": _iso(event.at) if event else None,
        "raised_count": count,
    }


def open_incidents(session: Session, viewer: Viewer, process: str | None = None) -> list[dict[str, Any]]:
    """The incidents this viewer may see, newest first; each says whether the viewer may resolve it."""
    rows = _rows(session, process=process)
    raised = _raised(session, [r.instance.id for r in rows])
    items = []
    for row in rows:
        incident = _incident(row, raised.get(row.instance.id))
        if may_see_incident(viewer, incident):
            incident["can_resolve"] = may_resolve_incident(viewer, incident)
            items.append(incident)
    items.sort(key=lambda i: (i["raised_at"] or "", i["instance_id"]), reverse=True)
    return items


def incident_count(session: Session, viewer: Viewer) -> int:
    return len(open_incidents(session, viewer))


def incident_of(session: Session, instance_id: int, viewer: Viewer | None = None) -> dict[str, Any] | None:
    """The open incident of one instance (None if it is not in error), with the failed step's
    attempts since it last succeeded and `inputs`: the data its handler's parameters read."""
    rows = _rows(session, instance_id=instance_id)
    if not rows:
        return None
    row = rows[0]
    incident = _incident(row, _raised(session, [instance_id]).get(instance_id))
    incident["can_resolve"] = (viewer is not None and may_see_incident(viewer, incident)
                                and may_resolve_incident(viewer, incident))
    events = session.execute(
        select(AuditEvent).where(AuditEvent.stream == instance_stream(instance_id),
                                 AuditEvent.kind.in_(("handler_called", "incident_resolved")))
        .order_by(AuditEvent.seq)
    ).scalars()
    history: list[dict[str, Any]] = []
    handler, last_input = None, {}
    for event in events:
        payload = json.loads(event.payload)
        if payload.get("task") != incident["task"]:
            continue
        if event.kind == "handler_called" and not payload.get("error"):
            history = []  # it succeeded then: what failed since is this incident's story
            continue
        if event.kind == "handler_called":
            handler, last_input = payload.get("handler"), payload.get("input") or {}
        history.append({"at": _iso(event.at), "kind": event.kind, "actor": event.actor,
                        "attempt": payload.get("attempt"), "error": payload.get("error"),
                        "reason": payload.get("reason")})
    incident["handler"] = handler
    incident["history"] = history
    incident["inputs"] = _inputs(session, row, incident["task"], last_input)
    return incident


def _inputs(session: Session, row: _Row, task: str | None, last_input: dict[str, Any]) -> dict[str, Any]:
    """{data key: value} for each handler parameter that reads one data key (`value="hotel_code"`):
    what a person corrects to make the step run with other data."""
    if not task:
        return {}
    model = row.model
    data = row.instance.data or {}
    inputs = {}
    for spec in (model.spec, *model.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) != task:
                continue
            for name, param in (getattr(task_spec, "operation_params", None) or {}).items():
                source = str(param.get("value", "")).strip()
                if source.isidentifier() and not keyword.iskeyword(source):
                    if name in last_input:
                        inputs[source] = last_input[name]
                    elif source in data:
                        inputs[source] = data[source]
            return inputs
    return inputs


def _iso(moment: datetime | None) -> str | None:
    return iso_z(moment)
