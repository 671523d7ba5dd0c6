"""The unit of work of every command: one write transaction, and what a command does in it.

`Runtime.transaction()` opens one and yields a `Tx`; commands (engine/run/*_commands.py), the
job runner and the message router act through it: lock an instance, open a step on it,
start an instance. Everything they write commits together at the end of the block, or
nothing does. The instance row is locked for the step (BEGIN IMMEDIATE on SQLite, SELECT
... FOR UPDATE elsewhere) and carries an optimistic lock (`lock_version`), so two people
completing one task cannot both win.
"""

from __future__ import annotations

import copy
import functools
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.bpmn.codec import WorkflowCodec
from engine.bpmn.specs import ProcessModel
from engine.clock import iso_z, utcnow
from engine.errors import TaskConflict
from engine.run import rows
from engine.run.catalog import Catalog, Deployed
from engine.run.live_workflows import LiveWorkflows
from engine.run.message_events import deliver, skip_plain_starts
from engine.run.row_writes import write_held_instances
from engine.run.spiff_tasks import fire_start_timer
from engine.run.step import Step
from engine.run.workflow_data import json_safe
from engine.store import audit, audit_buffer, state_hash
from engine.store.db import Database
from engine.store.models import HumanTask, Job, ProcessInstance
from engine.store.records import InstanceRecord, hold_instance
from engine.store.states import InstanceStatus
from engine.store.unit_scope import UNIT, UnitConnection


class MessageHooks(Protocol):
    """What a step asks of messaging (engine/run/messaging.py's MessageRouter) at its end."""

    def send_thrown(self, tx: Tx, step: Step, outgoing: list[tuple[str, dict[str, Any]]]) -> None:
        """Route the messages the step's instance threw, in the same transaction."""

    def take_buffered(self, tx: Tx, step: Step) -> None:
        """Hand the step's instance a buffered message it now waits for."""


class UnitSource(Protocol):
    """Who opens units of work (the Runtime): what the job runner needs of it."""

    db: Database

    def transaction(self) -> AbstractContextManager[Tx]: ...


@dataclass
class Tx:
    """One open write transaction of a command, with the engine's parts it acts through."""

    session: Session
    catalog: Catalog
    codec: WorkflowCodec
    messages: MessageHooks
    is_sqlite: bool
    live: LiveWorkflows
    steps: list[Step] = field(default_factory=list)  # every step opened in it, kept by `live` after the commit

    def deployed(self, deployment_id: int) -> Deployed:
        return self.catalog.deployed(self.session, deployment_id)

    def current_deployments(self) -> list[Deployed]:
        """The version of every deployed process that new instances start on."""
        return self.catalog.current_of_each(self.session)

    def lock_instance(self, instance_id: int) -> InstanceRecord:
        """The instance row, locked until the transaction ends, as the record a step acts on (what changes
        on it is written by the step, or at the end of the unit: `write_back`); NotFound if there is none."""
        return rows.lock_instance_record(self.session, instance_id)

    def lock_task(self, task_id: int) -> HumanTask:
        """The task row, locked after its instance (the order every step locks in)."""
        return rows.lock_task(self.session, task_id)

    def lock_task_and_instance(self, task_id: int) -> tuple[HumanTask, ProcessInstance]:
        """The task row and its instance row, both locked (the instance first)."""
        return rows.lock_task_and_instance(self.session, task_id)

    def open_step(self, instance: InstanceRecord, actor: str, now: datetime) -> Step:
        """A step on a locked instance: its workflow (the one its last step in this process kept while the stored
        text is still that step's, else loaded from the text), scripts and handlers wired."""
        model = self.deployed(instance.deployment_id).model
        workflow = self.live.take(instance.id, instance.serialized, model)
        if workflow is None:
            workflow = self.codec.loads(instance.serialized, model)
        return self.new_step(instance, model, workflow, actor, now)

    def new_step(self, instance: InstanceRecord, model: ProcessModel, workflow: BpmnWorkflow,
                 actor: str, now: datetime) -> Step:
        """A step on a workflow in memory (one just created, or loaded by open_step)."""
        step = Step(self.session, instance, model, workflow, actor, now, self.codec,
                    send_messages=functools.partial(self.messages.send_thrown, self),
                    take_buffered=functools.partial(self.messages.take_buffered, self))
        step.install_script_engine()
        self.steps.append(step)
        return step

    def begin(self, deployment: Deployed, data: dict[str, Any], actor: str, business_key: str | None,
              message: dict[str, Any] | None = None, timer_start: Job | None = None) -> InstanceRecord:
        """Start an instance of `deployment` with `data` and run it until it waits.

        `message`: it starts on this message (a message start event); `timer_start`: on this
        due start_timer job (a timer start event).
        """
        return self.begin_step(deployment, data, actor, business_key, message, timer_start).instance

    def begin_step(self, deployment: Deployed, data: dict[str, Any], actor: str, business_key: str | None,
                   message: dict[str, Any] | None = None, timer_start: Job | None = None,
                   instance_id: int | None = None) -> Step:
        """`begin`, returning its step (its instance, and the open task rows it wrote: `open_rows`);
        `instance_id`: already reserved by the caller (rows.reserve_instance_id's rule)."""
        model = deployment.model
        workflow = BpmnWorkflow(model.spec, model.subprocess_specs)
        now = utcnow()
        # A record (engine/store/records.py), inserted whole by the step's write-back: its id is known before.
        instance = InstanceRecord(
            id=instance_id or rows.reserve_instance_id(self.session), deployment_id=deployment.id,
            process_id=deployment.process_id, status=InstanceStatus.RUNNING, business_key=business_key,
            serialized="", data=json_safe(data), started_at=now, started_by=actor,
        )
        hold_instance(self.session, instance)
        # A new instance has no task or job rows yet, and its audit stream starts here: nothing to read.
        state_hash.know_new_instance(self.session, instance.id)
        audit_buffer.new_stream(self.session, audit.instance_stream(instance.id), audit.GENESIS)
        step = self.new_step(instance, model, workflow, actor, now)
        # the start task found once the step gave the workflow its faster walk (SpiffWorkflow's answer)
        workflow.get_tasks(state=TaskState.READY)[0].data.update(copy.deepcopy(data))
        step.open_rows = []
        step.event("instance_started", {"process": deployment.process_id, "version": deployment.version,
                                        "deployment_id": deployment.id, "data": data,
                                        "business_key": business_key})
        if message is not None:
            step.event("message_received", message)
            skip_plain_starts(workflow)
            workflow.do_engine_steps()  # the message start event begins waiting only now
            deliver(workflow, message["name"], message["data"])
        if timer_start is not None:
            step.event("timer_fired", {"timer": timer_start.task, "due_at": iso_z(timer_start.due_at),
                                       "name": model.node_names.get(timer_start.task, timer_start.task)})
            workflow.do_engine_steps()  # the timer start event begins waiting only now
            fire_start_timer(workflow, timer_start.task, now)
        step.advance()
        return step

    def write_back(self) -> None:
        """The end of the unit: what changed on the instance records it holds since their step wrote them."""
        write_held_instances(self.session)


@contextmanager
def write_session(db: Database) -> Iterator[Session]:
    """One write transaction: committed at the end of the block, rolled back on an error; a lost
    optimistic-lock race becomes TaskConflict (409).

    The unit begins a Connection of its own at its first statement (BEGIN IMMEDIATE on SQLite), and its
    Session is bound to it (engine/store/unit_scope.py); the Session joins that transaction only when
    something asks it for the ORM (`join_transaction_mode="rollback_only"`: its commit leaves the unit's
    transaction to the unit, its rollback ends it). A step that writes only through the driver
    (engine/run/row_writes.py) never begins one: the unit calls what the Session's commit would run itself
    (docs/performance.md, "Round 8")."""
    session = take_session(db, "writer")
    unit = session.info[UNIT] = UnitConnection(db.writes, db.kept_connections)
    try:
        try:
            yield session
            if not session.in_transaction():
                state_hash.record_written_states(session)  # what a Session's commit would run first
            if session.in_transaction():
                session.commit()  # its last flush and its commit's hooks (state_hash.install)
            fault_point()
            unit.commit()
        except StaleDataError:
            raise TaskConflict("the instance was changed by someone else at the same time; reload and retry",
                               key="instance.changed") from None
        finally:
            if session.in_transaction():
                session.rollback()  # and the unit's transaction with it
            if len(session.identity_map) or session.new:  # else nothing to close: it never used the ORM
                session.close()
    finally:
        unit.close()
    keep_session(db, "writer", session)


def take_session(db: Database, factory: str) -> Session:
    """This thread's idle session of `db.<factory>` ("writer" or "reader"), else a new one; give it back with
    `keep_session` once closed. Taken out while in use: a unit opened inside another on the same thread gets
    its own; one found in a transaction (used again after its unit ended) is left to whoever did that."""
    idle = db.idle_sessions
    session = getattr(idle, factory, None)
    if session is None or session.in_transaction():
        return getattr(db, factory)()
    setattr(idle, factory, None)
    return session


def keep_session(db: Database, factory: str, session: Session) -> None:
    """Keep a session for this thread's next unit of work, once it ended: closed (no connection, no objects)
    and with the `info` a new session starts with (engine/store/state_hash.py `install` puts a key in)."""
    session.info.clear()
    session.info.update(getattr(db, factory).kw.get("info") or {})
    setattr(db.idle_sessions, factory, session)


def fault_point() -> None:
    """Crash tests pause here, with the whole step written but not committed, to be killed.

    Inert unless TOURFLOW_FAULT_PAUSE_BEFORE_COMMIT names a marker file to create.
    """
    marker = os.environ.get("TOURFLOW_FAULT_PAUSE_BEFORE_COMMIT")
    if marker:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(120)


__all__ = ["MessageHooks", "Tx", "UnitSource", "fault_point", "keep_session", "take_session", "write_session"]
