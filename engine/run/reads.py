"""Small reads of instances for the pages, the API and the CLI (beside queries.py's inbox and lists)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.access.policy import Viewer, instance_access
from engine.store.models import ProcessInstance
from engine.store.states import InstanceStatus


def instance_exists(session: Session, instance_id: int) -> bool:
    return session.get(ProcessInstance, instance_id) is not None


def instance_count(session: Session) -> int:
    """How many instances exist, in any status."""
    return session.execute(select(func.count(ProcessInstance.id))).scalar_one()


def instance_processes(session: Session, instance_ids: Collection[int]) -> dict[int, str]:
    """The process id of each of these instances that exists."""
    if not instance_ids:
        return {}
    return dict(session.execute(select(ProcessInstance.id, ProcessInstance.process_id)
                                .where(ProcessInstance.id.in_(instance_ids))).tuples().all())


def visible_instance_ids(session: Session, viewer: Viewer, instance_ids: Collection[int]) -> set[int]:
    """Those of these instances the viewer may see (engine/access/policy.py `instance_access`)."""
    if viewer.sees_every_instance or not instance_ids:
        return set(instance_ids)
    return set(session.execute(select(ProcessInstance.id).where(
        ProcessInstance.id.in_(instance_ids), instance_access(viewer))).scalars())


def failed_instances(session: Session) -> list[dict[str, Any]]:
    """Instances stopped in status `error`, oldest first: id, process and error."""
    rows = session.execute(select(ProcessInstance).where(ProcessInstance.status == InstanceStatus.ERROR)
                           .order_by(ProcessInstance.id)).scalars()
    return [{"instance_id": i.id, "process": i.process_id, "error": i.error} for i in rows]
