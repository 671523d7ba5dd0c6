"""The instance rules of engine/access/policy.py with the run layer's facts: an instance's open
incident (engine/run/incidents.py). The policy decides; this module only supplies the incident."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.access import policy
from engine.access.policy import Viewer
from engine.errors import NotAllowed, NotFound
from engine.run.incidents import incident_of
from engine.store.models import ProcessInstance


def may_view_instance(session: Session, viewer: Viewer, instance_id: int) -> bool:
    """The instance page, its data, tasks, diagram, events and audit record (policy.may_view_instance)."""
    return policy.may_view_instance(session, viewer, instance_id, incident_of)


def may_see_personal_data(session: Session, viewer: Viewer, instance_id: int,
                          known_task: policy.TaskLike | None = None, started_by: str | None = None) -> bool:
    """The instance's personal data unmasked (policy.may_see_personal_data; `known_task`: a task row
    of the instance the caller holds, `started_by`: its starter, either of which may answer without a query)."""
    return policy.may_see_personal_data(session, viewer, instance_id, incident_of, known_task, started_by)


def require_viewable(session: Session, viewer: Viewer | None, instance_id: int) -> None:
    """NotFound for an unknown instance; NotAllowed unless `viewer` may see it (None: a trusted caller,
    the CLI or the engine itself)."""
    if session.get(ProcessInstance, instance_id) is None:
        raise NotFound(f"instance {instance_id} does not exist", key="instance.missing", params={"id": instance_id})
    if viewer is not None and not may_view_instance(session, viewer, instance_id):
        raise NotAllowed(f"instance {instance_id} is not one of yours: it has no task in your lanes",
                         key="instance.not_yours", params={"id": instance_id})
