"""The engine's public API: deploy, start, complete, claim, tick, message, cancel, query.

Joins the specs (XML, SpiffWorkflow) and the store (database). Every mutating call is one
write transaction; the instance row carries an optimistic lock (`lock_version`) and is
also locked for the step (BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE elsewhere),
so two people completing one task cannot both win.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from engine.access import policy
from engine.access.policy import SYSTEM_LANE, Viewer, lane_access, viewer_of
from engine.bpmn import forms
from engine.bpmn.codec import WorkflowCodec
from engine.bpmn.specs import ProcessModel, load_model
from engine.clock import frozen_at, install_timer_patch, iso_z, utcnow
from engine.errors import FormInvalid, NotAllowed, NotFound, TaskConflict, TourflowError
from engine.history import audit
from engine.history.audit import SYSTEM_ACTOR
from engine.limits import (
    DEPLOYED_CACHE_MAX,
    KEY_MAX,
    MESSAGE_NAME_MAX,
    NAME_MAX,
    BoundedCache,
    check_data,
    check_reason,
    check_text,
)
from engine.run.jobs import JobRunner, worker_name
from engine.run.messaging import MAX_TTL as MAX_MESSAGE_TTL
from engine.run.messaging import MessageRouter, deliver, message_dict
from engine.run.step import Step, data_diff, json_safe
from engine.sandbox.outcomes import lets_go_of_the_lock
from engine.store.db import Database
from engine.store.models import Deployment, HumanTask, Job, Message, ProcessInstance, User
from engine.store.states import FINISHED, HumanTaskState, InstanceStatus, JobKind, JobState


@dataclass(frozen=True)
class Deployed:
    id: int
    process_id: str
    version: int
    forms: dict[str, Any]
    model: ProcessModel


class Runtime:
    def __init__(self, db: Database):
        self.db = db
        self.codec = WorkflowCodec()
        self.router = MessageRouter(self)
        self._deployed: BoundedCache[int, Deployed] = BoundedCache(DEPLOYED_CACHE_MAX)
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
    def transaction(self) -> Iterator[Session]:
        """One write transaction: committed at the end of the block, rolled back on an error; a lost
        optimistic-lock race becomes TaskConflict (409)."""
        session = self.db.write()
        try:
            with session.begin():
                yield session
                session.flush()
                _fault_point()
        except StaleDataError:
            raise TaskConflict("the instance was changed by someone else at the same time; reload and retry") from None
        finally:
            session.close()

    def model_of(self, deployment: Deployment) -> ProcessModel:
        return load_model(deployment.bpmn_xml.encode("utf-8"), deployment.filename)

    def deployed(self, session: Session, deployment_id: int) -> Deployed:
        """A deployment's version, forms and parsed model; rows never change, so they are cached."""
        def make() -> Deployed:
            row = session.get(Deployment, deployment_id)
            return Deployed(row.id, row.process_id, row.version, row.forms, self.model_of(row))
        return self._deployed.get_or_make(deployment_id, make)

    def _lock_instance(self, session: Session, instance_id: int) -> ProcessInstance:
        instance = session.execute(
            select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update(of=ProcessInstance)
        ).scalar_one_or_none()
        if instance is None:
            raise NotFound(f"instance {instance_id} does not exist")
        return instance

    def _open_step(self, session: Session, instance: ProcessInstance, actor: str, now: datetime) -> Step:
        model = self.deployed(session, instance.deployment_id).model
        workflow = self.codec.loads(instance.serialized, model)
        return self._new_step(session, instance, model, workflow, actor, now)

    def _new_step(self, session: Session, instance: ProcessInstance, model: ProcessModel, workflow: BpmnWorkflow,
                  actor: str, now: datetime) -> Step:
        step = Step(session, instance, model, workflow, actor, now, self.codec,
                    send_messages=self.router.send_thrown, take_buffered=self.router.take_buffered)
        step.install_script_engine()
        return step

    def _user(self, session: Session, username: str) -> User:
        user = session.execute(
            select(User).options(joinedload(User.roles)).where(User.username == username)
        ).unique().scalar_one_or_none()
        if user is None or not user.active:
            raise NotAllowed(f"unknown or inactive user {username!r}")
        return user

    def _viewer(self, session: Session, username: str) -> Viewer:
        return viewer_of(self._user(session, username))

    def _check_task_access(self, session: Session, username: str, row: HumanTask) -> Viewer:
        """The user may work the task (engine/access/policy.py: its lane, desk and branch)."""
        viewer = self._viewer(session, username)
        policy.refuse_if(policy.work_refusal(viewer, row))
        return viewer

    def latest_deployment(self, session: Session, process_id: str) -> Deployed:
        deployment_id = session.execute(
            select(Deployment.id).where(Deployment.process_id == process_id)
            .order_by(Deployment.version.desc()).limit(1)
        ).scalar_one_or_none()
        if deployment_id is None:
            raise NotFound(f"process {process_id!r} is not deployed")
        return self.deployed(session, deployment_id)

    # ---- starting ----------------------------------------------------------------------
    @lets_go_of_the_lock
    def start(self, process_id: str, data: dict[str, Any] | None = None, actor: str = SYSTEM_ACTOR,
              business_key: str | None = None) -> int:
        """Start the newest version of a process; returns the instance id."""
        if data is not None and not isinstance(data, dict):
            raise TourflowError("start data must be a JSON object")
        check_data(data, "data")
        check_text("business_key", business_key, KEY_MAX, required=False)
        with self.transaction() as session:
            deployment = self.latest_deployment(session, process_id)
            model = deployment.model
            if actor != SYSTEM_ACTOR:
                policy.refuse_if(policy.start_refusal(self._viewer(session, actor), model.start_lane))
            workflow = BpmnWorkflow(model.spec, model.subprocess_specs)
            if business_key is None and isinstance((data or {}).get("correlation_key"), str | int):
                business_key = str(data["correlation_key"])  # e.g. the tour id of a follow-up started by hand
            message = None
            if not model.plain_start and len(model.message_starts) == 1:
                # Starting by hand a process that starts on a message: deliver that message.
                name = next(iter(model.message_starts))
                message = {"name": name, "key": business_key, "data": data or {}, "from_instance": None}
            return self._begin(session, deployment, workflow, data or {}, actor, business_key, message).id

    def _begin(self, session: Session, deployment: Deployed, workflow: BpmnWorkflow, data: dict[str, Any],
               actor: str, business_key: str | None, message: dict[str, Any] | None = None,
               timer_start: Job | None = None) -> ProcessInstance:
        model = deployment.model
        now = utcnow()
        start_task = workflow.get_tasks(state=TaskState.READY)[0]
        start_task.data.update(copy.deepcopy(data))
        instance = ProcessInstance(
            deployment_id=deployment.id, process_id=deployment.process_id, status=InstanceStatus.RUNNING,
            business_key=business_key, serialized="", data=json_safe(data), started_at=now,
            started_by=actor,
        )
        session.add(instance)
        session.flush()
        step = self._new_step(session, instance, model, workflow, actor, now)
        step.event("instance_started", {"process": deployment.process_id, "version": deployment.version,
                                        "deployment_id": deployment.id, "data": data,
                                        "business_key": business_key})
        if message is not None:
            step.event("message_received", message)
            workflow.do_engine_steps()  # the message start event begins waiting only now
            deliver(workflow, message["name"], message["data"])
        if timer_start is not None:
            step.event("timer_fired", {"timer": timer_start.task, "due_at": iso_z(timer_start.due_at),
                                       "name": model.node_names.get(timer_start.task, timer_start.task)})
            workflow.do_engine_steps()  # the timer start event begins waiting only now
            _fire_start_event(workflow, timer_start.task, now)
        step.advance()
        return instance

    # ---- human tasks -------------------------------------------------------------------
    def _task_row(self, session: Session, task_id: int) -> HumanTask:
        row = session.execute(select(HumanTask).where(HumanTask.id == task_id)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        return row

    def _locked_task(self, session: Session, task_id: int) -> HumanTask:
        """Lock the task's instance, then the task: the same order as every step, so no deadlock."""
        row = self._task_row(session, task_id)
        self._lock_instance(session, row.instance_id)
        query = select(HumanTask).where(HumanTask.id == task_id).with_for_update()
        return session.execute(query.execution_options(populate_existing=True)).scalar_one()

    @staticmethod
    def _not_ready(row: HumanTask) -> TaskConflict:
        if row.state == HumanTaskState.COMPLETED:
            return TaskConflict(f"task {row.id} was already completed by {row.completed_by} "
                                f"at {iso_z(row.completed_at, 'seconds')}")
        return TaskConflict(f"task {row.id} is {row.state}, not ready")

    @lets_go_of_the_lock
    def complete(self, task_id: int, actor: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Complete a ready user task with validated form data; returns the instance summary."""
        check_data(data, text_max=None)  # texts' lengths: the form's check, which honours maxLength
        # The form is checked before the write transaction opens, so however long the check takes,
        # nobody waits for the write lock meanwhile. A task's form never changes (its row names it in
        # a deployment, which never changes); who may complete it may, so that is checked again.
        submitted = forms.validate(self._form_to_complete(task_id, actor), data if data is not None else {})
        with self.transaction() as session:
            row = self._locked_task(session, task_id)
            self._check_completable(session, row, actor)
            instance = session.get(ProcessInstance, row.instance_id)  # locked by _locked_task
            step = self._open_step(session, instance, actor, utcnow())
            task = step.spiff_task(row.spiff_task_id)
            if task is None or task.state != TaskState.READY:
                raise TaskConflict(f"task {row.id} is no longer ready in its process")
            before = copy.deepcopy(task.data)
            task.set_data(**copy.deepcopy(submitted))
            failure = step.run_user_task(task)
            row.state = HumanTaskState.COMPLETED
            row.completed_at = step.now
            row.completed_by = actor
            step.event("task_completed", {"task_id": row.id, "task": row.task, "name": row.name, "lane": row.lane,
                                          "submitted": submitted, "diff": data_diff(before, task.data)})
            step.advance(failure)
            return self._instance_dict(session, instance)

    def _check_completable(self, session: Session, row: HumanTask, actor: str) -> None:
        self._check_task_access(session, actor, row)
        if row.state != HumanTaskState.READY:
            raise self._not_ready(row)
        if row.assignee and row.assignee != actor:
            raise TaskConflict(f"task {row.id} is claimed by {row.assignee}; ask them or a supervisor to reassign it")

    def _form_to_complete(self, task_id: int, actor: str) -> dict[str, Any] | None:
        """A short read: the task's form schema, once the actor may complete the task as it stands
        (so refusals come in the same order as under the lock)."""
        with self.db.read() as session:
            row = self._task_row(session, task_id)
            self._check_completable(session, row, actor)
            if not row.form_ref:
                return None
            deployment_id = session.get(ProcessInstance, row.instance_id).deployment_id
            return self.deployed(session, deployment_id).forms.get(row.form_ref)

    def claim(self, task_id: int, actor: str) -> None:
        with self.transaction() as session:
            row = self._locked_task(session, task_id)
            self._check_task_access(session, actor, row)
            if row.state != HumanTaskState.READY:
                raise self._not_ready(row)
            if row.assignee == actor:
                return
            if row.assignee:
                raise TaskConflict(f"task {row.id} is already claimed by {row.assignee}")
            row.assignee = actor
            self._task_event(session, row, "task_claimed", actor, {"assignee": actor})

    def unclaim(self, task_id: int, actor: str) -> None:
        with self.transaction() as session:
            row = self._locked_task(session, task_id)
            policy.refuse_if(policy.assignment_refusal(self._viewer(session, actor), row, "release"))
            if row.state != HumanTaskState.READY:
                raise self._not_ready(row)
            if row.assignee is None:
                return
            previous, row.assignee = row.assignee, None
            self._task_event(session, row, "task_unclaimed", actor, {"previous_assignee": previous})

    def reassign(self, task_id: int, actor: str, to_user: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to reassign a task")
        reason = check_reason(reason)
        check_text("to", to_user, NAME_MAX)
        with self.transaction() as session:
            row = self._locked_task(session, task_id)
            policy.refuse_if(policy.assignment_refusal(self._viewer(session, actor), row, "reassign"))
            if row.state != HumanTaskState.READY:
                raise self._not_ready(row)
            # the target must be able to work it: else the task is in nobody's inbox
            policy.refuse_if(policy.reassign_target_refusal(self._viewer(session, to_user), row))
            previous, row.assignee = row.assignee, to_user
            self._task_event(session, row, "task_reassigned", actor,
                             {"from": previous, "to": to_user, "reason": reason.strip()})

    def _task_event(self, session, row: HumanTask, kind: str, actor: str, extra: dict[str, Any]) -> None:
        audit.append(session, kind=kind, actor=actor, at=utcnow(), instance_id=row.instance_id,
                     payload={"task_id": row.id, "task": row.task, "name": row.name, **extra})

    # ---- time and messages -------------------------------------------------------------
    def tick(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Fire every job due up to `at` (now by default), each in its own transaction."""
        moment = at or utcnow()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return JobRunner(self, owner=worker_name("tick")).run_due(moment)

    @lets_go_of_the_lock
    def resolve_incident(self, instance_id: int, actor: str, reason: str,
                         data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Retry the failed step of an instance in error, optionally with corrected data."""
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to resolve an incident")
        reason = check_reason(reason)
        if data is not None and not isinstance(data, dict):
            raise TourflowError("incident data must be a JSON object")
        check_data(data, "data")
        with self.transaction() as session:
            instance = self._lock_instance(session, instance_id)
            if instance.status != InstanceStatus.ERROR:
                raise TaskConflict(f"instance {instance_id} has no open incident (status {instance.status})")
            viewer = self._viewer(session, actor)
            policy.require_writer(viewer)
            failed_job = session.execute(
                select(Job).where(Job.instance_id == instance_id, Job.state == JobState.FAILED).order_by(Job.id.desc())
            ).scalars().first()
            if failed_job is not None:
                return self._resolve_failed_job(session, instance, failed_job, viewer, reason.strip(), data)
            step = self._open_step(session, instance, actor, utcnow())
            failed = step.workflow.get_tasks(state=TaskState.ERROR)
            if not failed:
                raise TaskConflict(f"instance {instance_id} has no failed step to retry")
            task = failed[0]
            raised = next((e for e in reversed(audit.events_of(session, instance_id))
                           if e.kind == "incident_raised"), None)
            incident_lane = json.loads(raised.payload).get("lane") if raised else None
            lane = incident_lane or step.model.node_lanes.get(task.task_spec.bpmn_id)
            routing = instance.data or {}
            policy.refuse_if(policy.resolve_refusal(viewer, lane, _text_or_none(routing.get("desk")),
                                                    _text_or_none(routing.get("branch"))))
            if data:
                task.set_data(**copy.deepcopy(data))
            step.event("incident_resolved", {"task": task.task_spec.bpmn_id, "reason": reason.strip(),
                                             "data": data or {}, "previous_error": instance.error})
            instance.status, instance.error = InstanceStatus.RUNNING, None
            task._set_state(TaskState.READY)
            step.advance()
            return self._instance_dict(session, instance)

    def _resolve_failed_job(self, session: Session, instance: ProcessInstance, job: Job, viewer: Viewer,
                            reason: str, data: dict[str, Any] | None) -> dict[str, Any]:
        """An incident raised by a job that kept failing outside its step: run the job again, now."""
        if policy.resolve_refusal(viewer, SYSTEM_LANE) is not None:
            raise NotAllowed(f"a failed {job.kind} job is resolved by a supervisor or process owner, "
                             f"not by {viewer.username!r}")
        if data:
            raise TourflowError(f"the {job.kind} job is run again as it is: fix its cause, then resolve without data")
        now = utcnow()
        job.state, job.failures, job.due_at, job.done_at = JobState.PENDING, 0, now, None
        job.locked_by = job.lease_until = None
        audit.append(session, kind="incident_resolved", actor=viewer.username, at=now, instance_id=instance.id,
                     payload={"task": job.task, "job": job.id, "reason": reason, "data": {},
                              "previous_error": instance.error})
        instance.status = InstanceStatus.RETRYING if job.kind == JobKind.RETRY else InstanceStatus.RUNNING
        instance.error = None
        return self._instance_dict(session, instance)

    @lets_go_of_the_lock
    def message(self, name: str, key: str | None, data: dict[str, Any] | None = None,
                actor: str = SYSTEM_ACTOR, message_ref: str | None = None,
                ttl_seconds: float | None = None) -> dict[str, Any]:
        """Deliver a message to the instance waiting for it under `key`, start a process that
        catches it, or buffer it under `key` until one waits (for `ttl_seconds`, default a day)."""
        payload = data if data is not None else {}
        if not isinstance(payload, dict):
            raise TourflowError("message data must be a JSON object")
        if not isinstance(name, str) or not name.strip() or len(name) > MESSAGE_NAME_MAX:
            raise TourflowError(f"a message needs a name of 1 to {MESSAGE_NAME_MAX} characters")
        for label, value in (("correlation key", key), ("message_ref", message_ref)):
            if value is not None and (not isinstance(value, str) or not value or len(value) > KEY_MAX):
                raise TourflowError(f"the {label} must be a string of 1 to {KEY_MAX} characters")
        check_text("name", name, MESSAGE_NAME_MAX)
        check_text("correlation_key", key, KEY_MAX, required=False)
        check_text("message_ref", message_ref, KEY_MAX, required=False)
        check_data(payload, "data")
        ttl = None
        if ttl_seconds is not None:
            if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float) or ttl_seconds <= 0:
                raise TourflowError("ttl_seconds must be a positive number")
            if not ttl_seconds <= MAX_MESSAGE_TTL.total_seconds():  # also NaN; timedelta(1e308) overflows
                most = f"ttl_seconds may be at most {int(MAX_MESSAGE_TTL.total_seconds())} seconds"
                raise FormInvalid(most, field="ttl_seconds", errors=[{"field": "ttl_seconds", "message": most}])
            ttl = timedelta(seconds=ttl_seconds)
        try:
            with self.transaction() as session:
                result = self.router.route(session, name, key, payload, actor, message_ref=message_ref, ttl=ttl)
        except IntegrityError:
            # Another sender used the same message_ref at the same moment; theirs won.
            return self.message(name, key, payload, actor, message_ref, ttl_seconds)
        if result is None:
            raise NotFound(f"no instance waits for message {name!r} and no process starts with it; "
                           "without a correlation key it cannot wait in the buffer")
        return result

    def messages(self, state: str | None = None, name: str | None = None, key: str | None = None,
                 limit: int = 200) -> list[dict[str, Any]]:
        """Routed messages, newest first (the buffer is state "buffered")."""
        with self.db.read() as session:
            query = select(Message).order_by(Message.id.desc()).limit(limit)
            if state:
                query = query.where(Message.state == state)
            if name:
                query = query.where(Message.name == name)
            if key:
                query = query.where(Message.correlation_key == key)
            return [message_dict(row) for row in session.execute(query).scalars()]

    def jobs(self, state: str | None = JobState.PENDING, limit: int = 200) -> list[dict[str, Any]]:
        """Jobs by due time (state None: all), with their lease and last error."""
        with self.db.read() as session:
            query = select(Job).order_by(Job.due_at, Job.id).limit(limit)
            if state:
                query = query.where(Job.state == state)
            return [{"id": j.id, "kind": j.kind, "state": j.state, "instance_id": j.instance_id,
                     "deployment_id": j.deployment_id, "task": j.task, "due_at": _iso(j.due_at),
                     "attempts": j.attempts, "failures": j.failures, "locked_by": j.locked_by,
                     "lease_until": _iso(j.lease_until), "last_error": j.last_error}
                    for j in session.execute(query).scalars()]

    @lets_go_of_the_lock
    def housekeeping(self, now: datetime | None = None) -> dict[str, int]:
        """Expire old buffered messages and deliver buffered ones whose instance waits already."""
        moment = now or utcnow()
        with frozen_at(moment), self.transaction() as session:
            expired = self.router.expire(session, moment)
        with frozen_at(moment), self.transaction() as session:
            delivered = self.router.sweep(session, moment)
        return {"expired": expired, "delivered": delivered}

    def _latest_deployments(self, session: Session) -> list[Deployed]:
        newest = select(func.max(Deployment.id)).group_by(Deployment.process_id)
        return [self.deployed(session, i) for i in session.execute(newest).scalars()]

    def cancel(self, instance_id: int, actor: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to cancel an instance")
        reason = check_reason(reason)
        with self.transaction() as session:
            if actor != SYSTEM_ACTOR:
                policy.require_capability(self._viewer(session, actor), policy.Capability.CANCEL_INSTANCES)
            instance = self._lock_instance(session, instance_id)
            if instance.status in FINISHED:
                raise TaskConflict(f"instance {instance_id} is already {instance.status}")
            step = self._open_step(session, instance, actor, utcnow())
            step.workflow.cancel()
            instance.status, instance.ended_at = InstanceStatus.CANCELLED, step.now
            step.event("instance_cancelled", {"reason": reason.strip()})
            step.sync()

    # ---- queries -----------------------------------------------------------------------
    def tasks(self, lane: str | None = None, user: str | None = None, instance_id: int | None = None,
              state: str = HumanTaskState.READY) -> list[dict[str, Any]]:
        with self.db.read() as session:
            query = select(HumanTask).where(HumanTask.state == state)
            if lane:
                query = query.where(HumanTask.lane == lane)
            if instance_id is not None:
                query = query.where(HumanTask.instance_id == instance_id)
            if user:
                query = query.where(lane_access(self._viewer(session, user)))
                query = query.where((HumanTask.assignee.is_(None)) | (HumanTask.assignee == user))
            rows = session.execute(query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id))
            return [task_dict(row) for row in rows.scalars()]

    def task(self, task_id: int, viewer: Viewer | None = None) -> dict[str, Any]:
        """One task with its documentation and form; given a viewer, NotAllowed unless they may read it."""
        with self.db.read() as session:
            row = self._task_row(session, task_id)
            if viewer is not None:
                policy.refuse_if(policy.read_task_refusal(viewer, row))
            result = task_dict(row)
            deployment = self.deployed(session, session.get(ProcessInstance, row.instance_id).deployment_id)
            info = deployment.model.user_tasks.get(row.task)
            result["documentation"] = info.documentation if info else ""
            result["form"] = deployment.forms.get(row.form_ref) if row.form_ref else None
            return result

    def show(self, instance_id: int) -> dict[str, Any]:
        with self.db.read() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFound(f"instance {instance_id} does not exist")
            return self._instance_dict(session, instance)

    def _instance_dict(self, session: Session, instance: ProcessInstance) -> dict[str, Any]:
        return {
            "id": instance.id,
            "process": instance.process_id,
            "version": self.deployed(session, instance.deployment_id).version,
            "status": instance.status,
            "business_key": instance.business_key,
            "data": instance.data,
            "error": instance.error,
            "started_at": _iso(instance.started_at),
            "started_by": instance.started_by,
            "ended_at": _iso(instance.ended_at),
        }

    def instance_forms(self, instance_id: int) -> dict[str, Any]:
        """The form schemas of an instance's process version (form ref -> JSON Schema), e.g. for labels."""
        with self.db.read() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFound(f"instance {instance_id} does not exist")
            return self.deployed(session, instance.deployment_id).forms

    def node_states(self, instance_id: int) -> dict[str, Any]:
        """The instance's diagram: its BPMN XML and which nodes are completed, active or failed."""
        with self.db.read() as session:
            instance = session.get(ProcessInstance, instance_id)
            if instance is None:
                raise NotFound(f"instance {instance_id} does not exist")
            deployment = self.deployed(session, instance.deployment_id)
            workflow = self.codec.loads(instance.serialized, deployment.model)
            xml = session.get(Deployment, deployment.id).bpmn_xml
        groups = {"completed": TaskState.COMPLETED, "active": TaskState.READY | TaskState.WAITING | TaskState.STARTED,
                  "failed": TaskState.ERROR}
        nodes = {}
        for name, mask in groups.items():
            ids = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=mask) if t.task_spec.bpmn_id}
            nodes[name] = sorted(ids & set(deployment.model.node_names))
        nodes["completed"] = sorted(set(nodes["completed"]) - set(nodes["active"]) - set(nodes["failed"]))
        return {"process": deployment.process_id, "version": deployment.version, "bpmn_xml": xml, "nodes": nodes}

    def deployment_xml(self, process_id: str, version: int) -> str:
        with self.db.read() as session:
            xml = session.execute(select(Deployment.bpmn_xml).where(
                Deployment.process_id == process_id, Deployment.version == version)).scalar_one_or_none()
        if xml is None:
            raise NotFound(f"process {process_id!r} has no version {version}")
        return xml

    def startable(self, username: str) -> list[dict[str, Any]]:
        """The newest version of each process whose start lane the user holds."""
        with self.db.read() as session:
            viewer = self._viewer(session, username)
            result = []
            for deployment in self._latest_deployments(session):
                lane = deployment.model.start_lane
                if lane and policy.may_start(viewer, lane):
                    result.append({"process_id": deployment.process_id, "name": deployment.model.name,
                                   "version": deployment.version, "lane": lane})
            return sorted(result, key=lambda p: p["process_id"])

    def events(self, instance_id: int) -> list[dict[str, Any]]:
        with self.db.read() as session:
            if session.get(ProcessInstance, instance_id) is None:
                raise NotFound(f"instance {instance_id} does not exist")
            return [audit.event_dict(e) for e in audit.events_of(session, instance_id)]


def _fire_start_event(workflow: BpmnWorkflow, bpmn_id: str, now: datetime) -> None:
    """Our job decided the start timer is due: make SpiffWorkflow's timer agree, then let it run."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if task.task_spec.bpmn_id == bpmn_id:
            task._set_internal_data(event_value=(now - timedelta(microseconds=1)).isoformat())
    workflow.refresh_timers()


def _fault_point() -> None:
    """Crash tests pause here, with the whole step written but not committed, to be killed.

    Inert unless TOURFLOW_FAULT_PAUSE_BEFORE_COMMIT names a marker file to create.
    """
    marker = os.environ.get("TOURFLOW_FAULT_PAUSE_BEFORE_COMMIT")
    if marker:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(120)


def _iso(moment: datetime | None) -> str | None:
    return iso_z(moment)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def task_dict(row: HumanTask) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "task": row.task,
        "name": row.name,
        "lane": row.lane,
        "desk": row.desk,
        "branch": row.branch,
        "state": row.state,
        "assignee": row.assignee,
        "form": row.form_ref,
        "due_at": _iso(row.due_at),
        "created_at": _iso(row.created_at),
        "completed_at": _iso(row.completed_at),
        "completed_by": row.completed_by,
        "summary": row.summary,
    }
