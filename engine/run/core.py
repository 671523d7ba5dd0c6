"""What every part of the Runtime shares: the database, the deployed models, the units of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from engine.bpmn.codec import WorkflowCodec
from engine.bpmn.specs import ProcessModel
from engine.clock import install_timer_patch
from engine.run.catalog import Catalog, Deployed, model_of
from engine.run.messaging import MessageRouter
from engine.run.unit import Tx, write_session
from engine.store.db import Database
from engine.store.models import Deployment


class EngineCore:
    """The base of engine/run/runtime.py's Runtime; its commands and reads build on these."""

    def __init__(self, db: Database):
        self.db = db
        self.codec = WorkflowCodec()
        self.router = MessageRouter()
        self.catalog = Catalog()
        install_timer_patch()

    # ---- units of work -----------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: queries (engine/run/queries.py, handlers/domain) take its session."""
        session = self.db.read()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction (engine/run/unit.py): committed at the end of the block, rolled back
        on an error; a lost optimistic-lock race becomes TaskConflict (409). Its session is `tx.session`."""
        with write_session(self.db) as session:
            yield Tx(session, self.catalog, self.codec, self.router, self.db.is_sqlite)

    # ---- deployed versions -------------------------------------------------------------
    def model_of(self, deployment: Deployment) -> ProcessModel:
        return model_of(deployment)

    def deployed(self, session: Session, deployment_id: int) -> Deployed:
        """A deployment's version, forms and parsed model; rows never change, so they are cached."""
        return self.catalog.deployed(session, deployment_id)

    def current_deployment(self, session: Session, process_id: str, version: int | None = None) -> Deployed:
        return self.catalog.current(session, process_id, version)


__all__ = ["EngineCore"]
