"""The instance rules of engine/access/policy.py with the run layer's facts: an instance's open
incident (engine/run/incidents.py). The policy decides; this module only supplies the incident."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.access import policy
from engine.access.policy import Viewer
from engine.run.incidents import incident_of


def may_view_instance(session: Session, viewer: Viewer, instance_id: int) -> bool:
    """The instance page, its data, tasks, diagram, events and audit record (policy.may_view_instance)."""
    return policy.may_view_instance(session, viewer, instance_id, incident_of)


def may_see_personal_data(session: Session, viewer: Viewer, instance_id: int) -> bool:
    """The instance's personal data unmasked (policy.may_see_personal_data)."""
    return policy.may_see_personal_data(session, viewer, instance_id, incident_of)
