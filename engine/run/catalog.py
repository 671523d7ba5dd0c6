"""Deployed process versions, parsed once: their rows never change, so they are cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.bpmn.specs import ProcessModel, load_model
from engine.errors import NotFound
from engine.limits import DEPLOYED_CACHE_MAX, ID_MAX, BoundedCache
from engine.run.spiff_tasks import quiet_workflows_of
from engine.store import driver_sql
from engine.store.models import CurrentVersion, Deployment

_CURRENT = select(CurrentVersion.deployment_id).where(CurrentVersion.process_id == bindparam("process_id"))


@dataclass(frozen=True)
class Deployed:
    id: int
    process_id: str
    version: int
    forms: dict[str, Any]
    model: ProcessModel


def model_of(deployment: Deployment) -> ProcessModel:
    """The ONE way to a deployment row's parsed process: its process of its file, with the files
    its call activities were resolved against at deploy time."""
    return load_model(deployment.bpmn_xml.encode("utf-8"), deployment.filename, deployment.process_id,
                      deployment.called_files or {})


class Catalog:
    """Deployments by id, each read and parsed once per process."""

    def __init__(self) -> None:
        self._by_id: BoundedCache[int, Deployed] = BoundedCache(DEPLOYED_CACHE_MAX)

    def deployed(self, session: Session, deployment_id: int) -> Deployed:
        """A deployment's version, forms and parsed model."""
        def make() -> Deployed:
            row = session.get(Deployment, deployment_id)
            model = model_of(row)
            quiet_workflows_of(model.spec, model.subprocess_specs)  # engine/run/spiff_tasks.py says why
            return Deployed(row.id, row.process_id, row.version, row.forms, model)
        return self._by_id.get_or_make(deployment_id, make)

    def current(self, session: Session, process_id: str, version: int | None = None) -> Deployed:
        """The version new instances of a process start on (engine/run/versions.py), or the
        given `version`; NotFound if there is none."""
        if version is not None:
            deployment_id = None if not 0 < version <= ID_MAX else session.execute(select(Deployment.id).where(
                Deployment.process_id == process_id, Deployment.version == version)).scalar_one_or_none()
            if deployment_id is None:
                raise no_version(process_id, version)
        else:
            # on the connection: a column read needs none of the ORM's execution (autoflush, entities)
            connection = driver_sql.connection_of(session)
            deployment_id = connection.execute(_CURRENT, {"process_id": process_id}).scalar_one_or_none()
            if deployment_id is None:
                raise not_deployed(process_id)
        return self.deployed(session, deployment_id)

    def current_of_each(self, session: Session) -> list[Deployed]:
        """The current version of every deployed process."""
        chosen = select(CurrentVersion.deployment_id).order_by(CurrentVersion.process_id)
        return [self.deployed(session, i) for i in session.execute(chosen).scalars()]


def no_version(process_id: str, version: int) -> NotFound:
    return NotFound(f"process {process_id!r} has no version {version}", key="process.no_version",
                    params={"process": process_id, "version": version})


def not_deployed(process_id: str) -> NotFound:
    return NotFound(f"process {process_id!r} is not deployed", key="process.not_deployed", params={"process": process_id})


__all__ = ["Catalog", "Deployed", "model_of", "no_version", "not_deployed"]
