"""Which version of a process new instances start on.

A newly deployed version becomes current. An owner may activate any deployed version instead (a
rollback is one action); running instances stay on the version they started on. Deploying a file
whose content is already deployed changes nothing, not even which version is current: a restart
that deploys `processes/` again must not undo an owner's choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import policy
from engine.bpmn.diff import diff_versions
from engine.bpmn.specs import ProcessModel
from engine.errors import NotFound, TaskConflict
from engine.limits import ID_MAX, check_reason
from engine.run.catalog import model_of
from engine.run.rows import viewer_named
from engine.run.start_timers import schedule as schedule_start_timer
from engine.store import audit
from engine.store.models import CurrentVersion, Deployment


@dataclass(frozen=True)
class Activated:
    process_id: str
    version: int
    deployment_id: int
    previous_version: int | None


def current_row(session: Session, process_id: str) -> CurrentVersion | None:
    return session.get(CurrentVersion, process_id)


def version_row(session: Session, process_id: str, version: int) -> Deployment:
    """A deployed version; NotFound names the versions there are."""
    row = None if not 0 < version <= ID_MAX else session.execute(
        select(Deployment).where(Deployment.process_id == process_id, Deployment.version == version)
    ).scalar_one_or_none()
    if row is None:
        versions = session.execute(select(Deployment.version).where(Deployment.process_id == process_id)
                                   .order_by(Deployment.version)).scalars().all()
        if not versions:
            raise NotFound(f"process {process_id!r} is not deployed", key="process.not_deployed", params={"process": process_id})
        raise NotFound(f"process {process_id!r} has no version {version} (deployed: "
                       f"{', '.join(map(str, versions))})", key="process.no_version",
                       params={"process": process_id, "version": version})
    return row


def make_current(session: Session, deployment: Deployment, model: ProcessModel, actor: str, now: datetime) -> None:
    """Start new instances on `deployment`; its start timer (if any) replaces the other versions'."""
    row = current_row(session, deployment.process_id)
    if row is None:
        session.add(CurrentVersion(process_id=deployment.process_id, deployment_id=deployment.id,
                                   since=now, chosen_by=actor))
    else:
        row.deployment_id, row.since, row.chosen_by = deployment.id, now, actor
    session.flush()
    schedule_start_timer(session, deployment, model, now)


def activate(session: Session, process_id: str, version: int, actor: str, reason: str, now: datetime) -> Activated:
    """Make `version` the one new instances start on, audited with `reason`. The local operator
    (`system`) and users who may deploy may do it; activating the current version is a conflict."""
    if actor != audit.SYSTEM_ACTOR:
        policy.require_capability(viewer_named(session, actor), policy.Capability.DEPLOY)
    reason = check_reason(reason)
    target = version_row(session, process_id, version)
    row = current_row(session, process_id)
    previous = session.get(Deployment, row.deployment_id) if row is not None else None
    if previous is not None and previous.id == target.id:
        raise TaskConflict(f"version {version} of {process_id!r} is already the current version",
                           key="process.already_current", params={"process": process_id, "version": version})
    make_current(session, target, model_of(target), actor, now)
    audit.append(session, kind="process_activated", actor=actor, at=now,
                 payload={"process": process_id, "version": version, "deployment_id": target.id,
                          "previous_version": previous.version if previous else None, "reason": reason})
    return Activated(process_id, version, target.id, previous.version if previous else None)


def diff(session: Session, process_id: str, old: int, new: int) -> dict[str, Any]:
    """What changed from version `old` to version `new` (engine/bpmn/diff.py)."""
    before, after = version_row(session, process_id, old), version_row(session, process_id, new)
    changes = diff_versions(before.bpmn_xml.encode("utf-8"), before.forms, after.bpmn_xml.encode("utf-8"),
                            after.forms, after.filename)
    return {"process_id": process_id, "from": old, "to": new, **changes.as_dict()}


__all__ = ["Activated", "activate", "current_row", "diff", "make_current", "version_row"]
