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
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from . import audit, forms
from .clock import from_db, to_db, utcnow
from .codec import WorkflowCodec
from .db import Database
from .errors import NotAllowed, NotFound, TaskConflict, TourflowError
from .messaging import MessageRouter, deliver
from .models import Deployment, HumanTask, Job, ProcessInstance, User
from .queries import Viewer, lane_access
from .specs import ProcessModel, load_model
from .start_timers import schedule as schedule_start_timer
from .step import Step, data_diff, json_safe

SYSTEM_ACTOR = "system"


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
        self._deployed: dict[int, Deployed] = {}

    # ---- helpers -----------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[Session]:
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
        cached = self._deployed.get(deployment_id)
        if cached is None:
            row = session.get(Deployment, deployment_id)
            cached = Deployed(row.id, row.process_id, row.version, row.forms, self.model_of(row))
            self._deployed[deployment_id] = cached
        return cached

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
        step = Step(session, instance, model, workflow, actor, now, self.codec, send_messages=self.router.send_thrown)
        step.install_script_engine()
        return step

    def _user(self, session: Session, username: str) -> User:
        user = session.execute(
            select(User).options(joinedload(User.roles)).where(User.username == username)
        ).unique().scalar_one_or_none()
        if user is None or not user.active:
            raise NotAllowed(f"unknown or inactive user {username!r}")
        return user

    def _check_lane(self, session: Session, username: str, lane: str) -> User:
        user = self._user(session, username)
        if lane not in user.role_ids:
            raise NotAllowed(f"user {username!r} (roles: {', '.join(sorted(user.role_ids)) or 'none'}) "
                             f"does not hold lane {lane!r}")
        return user

    def _check_task_access(self, session: Session, username: str, row: HumanTask) -> User:
        """The user's roles hold the task's lane, and an agent with a desk works that desk only."""
        user = self._check_lane(session, username, row.lane)
        if user.desk and row.desk and row.desk != user.desk:
            raise NotAllowed(f"task {row.id} belongs to the {row.desk} desk; {username} works the {user.desk} desk")
        return user

    def latest_deployment(self, session: Session, process_id: str) -> Deployed:
        deployment_id = session.execute(
            select(Deployment.id).where(Deployment.process_id == process_id)
            .order_by(Deployment.version.desc()).limit(1)
        ).scalar_one_or_none()
        if deployment_id is None:
            raise NotFound(f"process {process_id!r} is not deployed")
        return self.deployed(session, deployment_id)

    # ---- starting ----------------------------------------------------------------------
    def start(self, process_id: str, data: dict[str, Any] | None = None, actor: str = SYSTEM_ACTOR,
              business_key: str | None = None) -> int:
        """Start the newest version of a process; returns the instance id."""
        if data is not None and not isinstance(data, dict):
            raise TourflowError("start data must be a JSON object")
        with self._writing() as session:
            deployment = self.latest_deployment(session, process_id)
            model = deployment.model
            if actor != SYSTEM_ACTOR:
                start_lane = model.start_lane
                if start_lane:
                    self._check_lane(session, actor, start_lane)
                else:
                    self._user(session, actor)
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
            deployment_id=deployment.id, process_id=deployment.process_id, status="running",
            business_key=business_key, serialized="", data=json_safe(data), started_at=to_db(now),
            started_by=actor,
        )
        session.add(instance)
        session.flush()
        step = Step(session, instance, model, workflow, actor, now, self.codec, send_messages=self.router.send_thrown)
        step.install_script_engine()
        step.event("instance_started", {"process": deployment.process_id, "version": deployment.version,
                                        "deployment_id": deployment.id, "data": data,
                                        "business_key": business_key})
        if message is not None:
            step.event("message_received", message)
            workflow.do_engine_steps()  # the message start event begins waiting only now
            deliver(workflow, message["name"], message["data"])
        if timer_start is not None:
            step.event("timer_fired", {"timer": timer_start.task, "due_at": timer_start.due_at.isoformat() + "Z",
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
        if row.state == "completed":
            return TaskConflict(f"task {row.id} was already completed by {row.completed_by} "
                                f"at {row.completed_at.isoformat(timespec='seconds')}Z")
        return TaskConflict(f"task {row.id} is {row.state}, not ready")

    def complete(self, task_id: int, actor: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Complete a ready user task with validated form data; returns the instance summary."""
        with self._writing() as session:
            row = self._locked_task(session, task_id)
            self._check_task_access(session, actor, row)
            if row.state != "ready":
                raise self._not_ready(row)
            if row.assignee and row.assignee != actor:
                raise TaskConflict(f"task {row.id} is claimed by {row.assignee}; ask them or a supervisor to reassign it")
            instance = session.get(ProcessInstance, row.instance_id)  # locked by _locked_task
            forms_of = self.deployed(session, instance.deployment_id).forms
            schema = forms_of.get(row.form_ref) if row.form_ref else None
            submitted = forms.validate(schema, data if data is not None else {})
            step = self._open_step(session, instance, actor, utcnow())
            task = step.spiff_task(row.spiff_task_id)
            if task is None or task.state != TaskState.READY:
                raise TaskConflict(f"task {row.id} is no longer ready in its process")
            before = copy.deepcopy(task.data)
            task.set_data(**copy.deepcopy(submitted))
            task.run()
            row.state = "completed"
            row.completed_at = to_db(step.now)
            row.completed_by = actor
            step.event("task_completed", {"task_id": row.id, "task": row.task, "name": row.name, "lane": row.lane,
                                          "submitted": submitted, "diff": data_diff(before, task.data)})
            step.advance()
            return self._instance_dict(session, instance)

    def claim(self, task_id: int, actor: str) -> None:
        with self._writing() as session:
            row = self._locked_task(session, task_id)
            self._check_task_access(session, actor, row)
            if row.state != "ready":
                raise self._not_ready(row)
            if row.assignee == actor:
                return
            if row.assignee:
                raise TaskConflict(f"task {row.id} is already claimed by {row.assignee}")
            row.assignee = actor
            self._task_event(session, row, "task_claimed", actor, {"assignee": actor})

    def unclaim(self, task_id: int, actor: str) -> None:
        with self._writing() as session:
            row = self._locked_task(session, task_id)
            user = self._check_task_access(session, actor, row)
            if row.state != "ready":
                raise self._not_ready(row)
            if row.assignee is None:
                return
            if row.assignee != actor and "supervisor" not in user.role_ids:
                raise NotAllowed(f"task {row.id} is claimed by {row.assignee}; only they or a supervisor may release it")
            previous, row.assignee = row.assignee, None
            self._task_event(session, row, "task_unclaimed", actor, {"previous_assignee": previous})

    def reassign(self, task_id: int, actor: str, to_user: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to reassign a task")
        with self._writing() as session:
            row = self._locked_task(session, task_id)
            user = self._check_task_access(session, actor, row)
            if row.state != "ready":
                raise self._not_ready(row)
            if row.assignee not in (None, actor) and "supervisor" not in user.role_ids:
                raise NotAllowed(f"task {row.id} is claimed by {row.assignee}; only they or a supervisor may reassign it")
            target = self._user(session, to_user)
            if row.lane not in target.role_ids:
                raise NotAllowed(f"user {to_user!r} does not hold lane {row.lane!r}")
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
        with self.db.read() as session:
            due = session.execute(
                select(Job.id, Job.due_at).where(Job.state == "pending", Job.due_at <= to_db(moment))
                .order_by(Job.due_at, Job.id)
            ).all()
        fired = []
        for job_id, due_at in due:
            # SpiffWorkflow fires a timer only once its time is strictly past: a tick exactly at
            # the due time runs the job a microsecond later.
            result = self._fire(job_id, max(moment, from_db(due_at) + timedelta(microseconds=1)))
            if result:
                fired.append(result)
        return fired

    def _fire(self, job_id: int, moment: datetime) -> dict[str, Any] | None:
        from .clock import frozen_at

        with frozen_at(moment), self._writing() as session:
            job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one()
            if job.state != "pending":
                return None
            if job.kind == "start_timer":
                return self._start_by_timer(session, job, moment)
            instance = self._lock_instance(session, job.instance_id)
            job.state, job.done_at = "done", to_db(moment)
            job.attempts += 1 if job.kind == "timer" else 0
            if instance.status in ("completed", "cancelled"):
                job.state = "cancelled"
                return None
            step = self._open_step(session, instance, SYSTEM_ACTOR, moment)
            task = step.spiff_task(job.spiff_task_id) if job.spiff_task_id else None
            if job.kind == "retry":
                return self._retry(step, job, task)
            if task is None or task.state != TaskState.WAITING:
                job.state = "cancelled"
                step.sync()
                return None
            step.event("timer_fired", {"timer": job.task, "name": step.model.node_names.get(job.task, job.task),
                                       "due_at": job.due_at.isoformat() + "Z"})
            sla = step.model.sla_timer(job.task)
            if sla is not None:
                # A timer whose id ends in _warning warns before the deadline; it breaches nothing.
                kind = "sla_warning" if sla.id.endswith("_warning") else "sla_breached"
                step.event(kind, {"task": sla.attached_to, "timer": sla.id,
                                            "name": step.model.node_names.get(sla.attached_to, sla.attached_to),
                                            "due_at": job.due_at.isoformat() + "Z"})
            step.workflow.refresh_timers()
            step.advance()
            return {"job": job.id, "kind": job.kind, "instance_id": instance.id, "timer": job.task}

    def _start_by_timer(self, session: Session, job: Job, moment: datetime) -> dict[str, Any]:
        """A timer start event is due: start an instance of that version, schedule the next."""
        job.state, job.done_at, job.attempts = "done", to_db(moment), job.attempts + 1
        deployment = self.deployed(session, job.deployment_id)
        workflow = BpmnWorkflow(deployment.model.spec, deployment.model.subprocess_specs)
        instance = self._begin(session, deployment, workflow, {}, SYSTEM_ACTOR, None, timer_start=job)
        schedule_start_timer(session, session.get(Deployment, deployment.id), deployment.model, moment)
        return {"job": job.id, "kind": job.kind, "instance_id": instance.id, "timer": job.task}

    def resolve_incident(self, instance_id: int, actor: str, reason: str,
                         data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Retry the failed step of an instance in error, optionally with corrected data."""
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to resolve an incident")
        if data is not None and not isinstance(data, dict):
            raise TourflowError("incident data must be a JSON object")
        with self._writing() as session:
            instance = self._lock_instance(session, instance_id)
            if instance.status != "error":
                raise TaskConflict(f"instance {instance_id} has no open incident (status {instance.status})")
            user = self._user(session, actor)
            if "auditor" in user.role_ids:
                raise NotAllowed("auditors change nothing")
            step = self._open_step(session, instance, actor, utcnow())
            failed = step.workflow.get_tasks(state=TaskState.ERROR)
            if not failed:
                raise TaskConflict(f"instance {instance_id} has no failed step to retry")
            task = failed[0]
            raised = next((e for e in reversed(audit.events_of(session, instance_id))
                           if e.kind == "incident_raised"), None)
            incident_lane = json.loads(raised.payload).get("lane") if raised else None
            lane = incident_lane or step.model.node_lanes.get(task.task_spec.bpmn_id)
            if lane and lane != "system" and lane not in user.role_ids:
                raise NotAllowed(f"user {actor!r} does not hold lane {lane!r} of the failed step")
            if data:
                task.set_data(**copy.deepcopy(data))
            step.event("incident_resolved", {"task": task.task_spec.bpmn_id, "reason": reason.strip(),
                                             "data": data or {}, "previous_error": instance.error})
            instance.status, instance.error = "running", None
            task._set_state(TaskState.READY)
            step.advance()
            return self._instance_dict(session, instance)

    def _retry(self, step: Step, job: Job, task) -> dict[str, Any] | None:
        if task is None or task.state != TaskState.ERROR:
            job.state = "cancelled"
            return None
        step.attempts[str(task.id)] = job.attempts + 1
        step.instance.status, step.instance.error = "running", None
        task._set_state(TaskState.READY)
        step.advance()
        return {"job": job.id, "kind": "retry", "instance_id": step.instance.id, "task": job.task}

    def message(self, name: str, key: str | None, data: dict[str, Any] | None = None,
                actor: str = SYSTEM_ACTOR) -> dict[str, Any]:
        """Deliver a message to the instance waiting for it under `key`, or start a process that catches it."""
        payload = data or {}
        if not isinstance(payload, dict):
            raise TourflowError("message data must be a JSON object")
        with self._writing() as session:
            result = self.router.route(session, name, key, payload, actor)
        if result is None:
            raise NotFound(f"no instance waits for message {name!r} with key {key!r}, and no process starts with it")
        return result

    def _latest_deployments(self, session: Session) -> list[Deployed]:
        newest = select(func.max(Deployment.id)).group_by(Deployment.process_id)
        return [self.deployed(session, i) for i in session.execute(newest).scalars()]

    def cancel(self, instance_id: int, actor: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to cancel an instance")
        with self._writing() as session:
            instance = self._lock_instance(session, instance_id)
            if instance.status in ("completed", "cancelled"):
                raise TaskConflict(f"instance {instance_id} is already {instance.status}")
            step = self._open_step(session, instance, actor, utcnow())
            step.workflow.cancel()
            instance.status, instance.ended_at = "cancelled", to_db(step.now)
            step.event("instance_cancelled", {"reason": reason.strip()})
            step.sync()

    # ---- queries -----------------------------------------------------------------------
    def tasks(self, lane: str | None = None, user: str | None = None, instance_id: int | None = None,
              state: str = "ready") -> list[dict[str, Any]]:
        with self.db.read() as session:
            query = select(HumanTask).where(HumanTask.state == state)
            if lane:
                query = query.where(HumanTask.lane == lane)
            if instance_id is not None:
                query = query.where(HumanTask.instance_id == instance_id)
            if user:
                found = self._user(session, user)
                query = query.where(lane_access(Viewer(user, frozenset(found.role_ids), found.desk)))
                query = query.where((HumanTask.assignee.is_(None)) | (HumanTask.assignee == user))
            rows = session.execute(query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id))
            return [task_dict(row) for row in rows.scalars()]

    def task(self, task_id: int) -> dict[str, Any]:
        with self.db.read() as session:
            row = self._task_row(session, task_id)
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
            roles = self._user(session, username).role_ids
            result = []
            for deployment in self._latest_deployments(session):
                lane = deployment.model.start_lane
                if lane and lane in roles:
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
    return from_db(moment).isoformat().replace("+00:00", "Z") if moment else None


def task_dict(row: HumanTask) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "task": row.task,
        "name": row.name,
        "lane": row.lane,
        "state": row.state,
        "assignee": row.assignee,
        "form": row.form_ref,
        "due_at": _iso(row.due_at),
        "created_at": _iso(row.created_at),
        "completed_at": _iso(row.completed_at),
        "completed_by": row.completed_by,
        "summary": row.summary,
    }
