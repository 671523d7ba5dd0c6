"""What every part of the Runtime shares: the database, the deployed models, the units of work."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import TextClause, event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from engine.bpmn.codec import WorkflowCodec
from engine.bpmn.specs import ProcessModel
from engine.clock import install_timer_patch
from engine.config import live_workflows
from engine.run.catalog import Catalog, Deployed, model_of
from engine.run.live_workflows import LiveWorkflows
from engine.run.messaging import MessageRouter
from engine.run.unit import Tx, keep_session, take_session, write_session
from engine.store.db import Database
from engine.store.models import Deployment


class EngineCore:
    """The base of engine/run/runtime.py's Runtime; its commands and reads build on these."""

    def __init__(self, db: Database):
        self.db = db
        self.codec = WorkflowCodec()
        self.router = MessageRouter()
        self.catalog = Catalog()
        self.live = LiveWorkflows(live_workflows())
        install_timer_patch()
        _watch_read_writes(db)

    # ---- units of work -----------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: queries (engine/run/queries.py, handlers/domain) take its session."""
        session = take_session(self.db, "reader")
        try:
            yield session
            if not self.db.is_sqlite and session.in_transaction() and not (
                    session.info.get(WROTE) or session.new or session.dirty or session.deleted):
                # Nothing to undo: COMMIT ends a read as ROLLBACK would, and keeps the connection's prepared
                # statements (psycopg drops them all at every ROLLBACK, so none would ever be reused).
                # SQLite keeps its statement cache either way, and closing is cheaper than committing.
                session.commit()
        finally:
            session.close()
        keep_session(self.db, "reader", session)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction (engine/run/unit.py): committed at the end of the block, rolled back
        on an error; a lost optimistic-lock race becomes TaskConflict (409). Its session is `tx.session`."""
        with write_session(self.db) as session:
            tx = Tx(session, self.catalog, self.codec, self.router, self.db.is_sqlite, self.live)
            yield tx
            tx.write_back()
        self.live.keep(tx.steps)  # committed

    # ---- deployed versions -------------------------------------------------------------
    def model_of(self, deployment: Deployment) -> ProcessModel:
        return model_of(deployment)

    def deployed(self, session: Session, deployment_id: int) -> Deployed:
        """A deployment's version, forms and parsed model; rows never change, so they are cached."""
        return self.catalog.deployed(session, deployment_id)

    def current_deployment(self, session: Session, process_id: str, version: int | None = None) -> Deployed:
        return self.catalog.current(session, process_id, version)


WROTE = "tourflow_wrote"  # session.info key: this read session flushed or executed a change


def _watch_read_writes(db: Database) -> None:
    """Mark a read session that changed something, so that `reading` rolls it back as before; once per read
    factory. (Not by `event.contains`: SQLAlchemy answers it by the target's id(), so a factory made where a
    freed one was looked watched already, and on PostgreSQL a read that wrote then committed.)"""
    if db.reader in _WATCHED:
        return
    _WATCHED.add(db.reader)
    event.listen(db.reader, "after_flush", _flushed)
    event.listen(db.reader, "do_orm_execute", _executed)


_WATCHED: weakref.WeakSet[sessionmaker] = weakref.WeakSet()


def _flushed(session: Session, _flush_context) -> None:
    session.info[WROTE] = True


def _executed(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, TextClause):
        changes = statement.text.lstrip()[:6].upper() != "SELECT"
    else:
        changes = state.is_insert or state.is_update or state.is_delete
    if changes:
        state.session.info[WROTE] = True


__all__ = ["EngineCore"]
