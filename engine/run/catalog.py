"""Deployed process versions, parsed once: their rows never change, so they are cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn.specs import ProcessModel, load_model
from engine.errors import NotFound
from engine.limits import DEPLOYED_CACHE_MAX, BoundedCache
from engine.store.models import Deployment


@dataclass(frozen=True)
class Deployed:
    id: int
    process_id: str
    version: int
    forms: dict[str, Any]
    model: ProcessModel


def model_of(deployment: Deployment) -> ProcessModel:
    return load_model(deployment.bpmn_xml.encode("utf-8"), deployment.filename)


class Catalog:
    """Deployments by id, each read and parsed once per process."""

    def __init__(self) -> None:
        self._by_id: BoundedCache[int, Deployed] = BoundedCache(DEPLOYED_CACHE_MAX)

    def deployed(self, session: Session, deployment_id: int) -> Deployed:
        """A deployment's version, forms and parsed model."""
        def make() -> Deployed:
            row = session.get(Deployment, deployment_id)
            return Deployed(row.id, row.process_id, row.version, row.forms, model_of(row))
        return self._by_id.get_or_make(deployment_id, make)

    def latest(self, session: Session, process_id: str) -> Deployed:
        """The newest version of a process; NotFound if it is not deployed."""
        deployment_id = session.execute(
            select(Deployment.id).where(Deployment.process_id == process_id)
            .order_by(Deployment.version.desc()).limit(1)
        ).scalar_one_or_none()
        if deployment_id is None:
            raise NotFound(f"process {process_id!r} is not deployed")
        return self.deployed(session, deployment_id)

    def latest_of_each(self, session: Session) -> list[Deployed]:
        """The newest version of every deployed process."""
        newest = select(func.max(Deployment.id)).group_by(Deployment.process_id)
        return [self.deployed(session, i) for i in session.execute(newest).scalars()]


__all__ = ["Catalog", "Deployed", "model_of"]
