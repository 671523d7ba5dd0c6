"""Commands on whole instances: start, cancel, resolve an incident."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.access import policy
from engine.access.policy import SYSTEM_LANE, Viewer
from engine.clock import utcnow
from engine.errors import NotAllowed, TaskConflict, TourflowError
from engine.limits import KEY_MAX, check_data, check_reason, check_text
from engine.run import versions
from engine.run.core import EngineCore
from engine.run.rows import instance_dict, viewer_named
from engine.run.spiff_tasks import make_ready
from engine.run.start_reads import read_start_facts
from engine.run.step_answer import step_answer
from engine.run.unit import Tx
from engine.sandbox.outcomes import lets_go_of_the_lock
from engine.store import audit
from engine.store.audit import SYSTEM_ACTOR
from engine.store.models import Job, ProcessInstance
from engine.store.states import FINISHED, InstanceStatus, JobKind, JobState


class InstanceCommands(EngineCore):
    @lets_go_of_the_lock
    def start(self, process_id: str, data: dict[str, Any] | None = None, actor: str = SYSTEM_ACTOR,
              business_key: str | None = None, version: int | None = None) -> int:
        """Start the current version of a process (or `version`); returns the instance id."""
        return self.start_answered(process_id, data, actor, business_key, version)["instance"]["id"]

    @lets_go_of_the_lock
    def start_answered(self, process_id: str, data: dict[str, Any] | None = None, actor: str = SYSTEM_ACTOR,
                       business_key: str | None = None, version: int | None = None) -> dict[str, Any]:
        """`start`, answered from its own write transaction (engine/run/step_answer.py): the new instance's
        summary (what `show` gives), its ready tasks the starter may complete now (none for SYSTEM_ACTOR),
        its forms, and whether the starter sees its personal data."""
        if data is not None and not isinstance(data, dict):
            raise TourflowError("start data must be a JSON object", key="data.not_object")
        check_data(data, "data")
        check_text("business_key", business_key, KEY_MAX, required=False)
        with self.transaction() as tx:
            # the deployment, the starter and the new id in one statement (refusals: 404, then 403)
            facts = read_start_facts(tx.session, tx.catalog, tx.is_sqlite, process_id, version, actor)
            deployment, model, starter = facts.deployment, facts.deployment.model, facts.starter
            if starter is not None:
                policy.refuse_if(policy.start_refusal(starter, model.start_lane))
            if business_key is None and isinstance((data or {}).get("correlation_key"), str | int):
                business_key = str(data["correlation_key"])  # e.g. the tour id of a follow-up started by hand
            message = None
            if not model.plain_start and len(model.message_starts) == 1:
                # Starting by hand a process that starts on a message: deliver that message.
                name = next(iter(model.message_starts))
                message = {"name": name, "key": business_key, "data": data or {}, "from_instance": None}
            step = tx.begin_step(deployment, data or {}, actor, business_key, message, instance_id=facts.instance_id)
            return step_answer(tx.session, step.instance, deployment, step.open_rows, starter, workable_only=True)

    def activate_version(self, process_id: str, version: int, actor: str, reason: str) -> dict[str, Any]:
        """Start new instances of `process_id` on `version` (a rollback, or forward again), audited."""
        with self.transaction() as tx:
            return dataclasses.asdict(versions.activate(tx.session, process_id, version, actor, reason, utcnow()))

    @lets_go_of_the_lock
    def resolve_incident(self, instance_id: int, actor: str, reason: str,
                         data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Retry the failed step of an instance in error, optionally with corrected data."""
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to resolve an incident", key="reason.resolve")
        reason = check_reason(reason)
        if data is not None and not isinstance(data, dict):
            raise TourflowError("incident data must be a JSON object", key="data.not_object")
        check_data(data, "data")
        with self.transaction() as tx:
            session = tx.session
            instance = tx.lock_instance(instance_id)
            if instance.status != InstanceStatus.ERROR:
                raise TaskConflict(f"instance {instance_id} has no open incident (status {instance.status})",
                                   key="instance.no_incident", params={"id": instance_id, "status": instance.status})
            viewer = viewer_named(session, actor)
            policy.require_writer(viewer)
            failed_job = session.execute(
                select(Job).where(Job.instance_id == instance_id, Job.state == JobState.FAILED).order_by(Job.id.desc())
            ).scalars().first()
            if failed_job is not None:
                return _resolve_failed_job(tx, instance, failed_job, viewer, reason.strip(), data)
            step = tx.open_step(instance, actor, utcnow())
            failed = step.workflow.get_tasks(state=TaskState.ERROR)
            if not failed:
                raise TaskConflict(f"instance {instance_id} has no failed step to retry", key="instance.no_failed_step",
                                   params={"id": instance_id})
            task = failed[0]
            raised = next((e for e in reversed(audit.events_of(session, instance_id))
                           if e.kind == "incident_raised"), None)
            incident_lane = json.loads(raised.payload).get("lane") if raised else None
            lane = incident_lane or step.model.node_lanes.get(task.task_spec.bpmn_id)
            policy.refuse_if(policy.resolve_refusal(viewer, lane, step.model.routing_of(instance.data or {})))
            if data:
                task.set_data(**copy.deepcopy(data))
            step.event("incident_resolved", {"task": task.task_spec.bpmn_id, "reason": reason.strip(),
                                             "data": data or {}, "previous_error": instance.error})
            instance.status, instance.error = InstanceStatus.RUNNING, None
            make_ready(task)
            step.advance()
            return instance_dict(instance, tx.deployed(instance.deployment_id).version)

    def cancel(self, instance_id: int, actor: str, reason: str) -> None:
        if not reason or not reason.strip():
            raise TourflowError("a reason is required to cancel an instance", key="reason.cancel")
        reason = check_reason(reason)
        with self.transaction() as tx:
            if actor != SYSTEM_ACTOR:
                policy.require_capability(viewer_named(tx.session, actor), policy.Capability.CANCEL_INSTANCES)
            instance = tx.lock_instance(instance_id)
            if instance.status in FINISHED:
                raise TaskConflict(f"instance {instance_id} is already {instance.status}", key="instance.already_ended",
                                   params={"id": instance_id, "status": instance.status})
            step = tx.open_step(instance, actor, utcnow())
            step.workflow.cancel()
            instance.status, instance.ended_at = InstanceStatus.CANCELLED, step.now
            step.event("instance_cancelled", {"reason": reason.strip()})
            step.sync()


def _resolve_failed_job(tx: Tx, instance: ProcessInstance, job: Job, viewer: Viewer, reason: str,
                        data: dict[str, Any] | None) -> dict[str, Any]:
    """An incident raised by a job that kept failing outside its step: run the job again, now."""
    if policy.resolve_refusal(viewer, SYSTEM_LANE) is not None:
        raise NotAllowed(f"a failed {job.kind} job is resolved by a supervisor or process owner, "
                         f"not by {viewer.username!r}", key="access.system_lane", params={"user": viewer.username})
    if data:
        raise TourflowError(f"the {job.kind} job is run again as it is: fix its cause, then resolve without data",
                            key="job.no_data")
    now = utcnow()
    job.state, job.failures, job.due_at, job.done_at = JobState.PENDING, 0, now, None
    job.locked_by = job.lease_until = None
    audit.append(tx.session, kind="incident_resolved", actor=viewer.username, at=now, instance_id=instance.id,
                 payload={"task": job.task, "job": job.id, "reason": reason, "data": {},
                          "previous_error": instance.error})
    instance.status = InstanceStatus.RETRYING if job.kind == JobKind.RETRY else InstanceStatus.RUNNING
    instance.error = None
    return instance_dict(instance, tx.deployed(instance.deployment_id).version)


__all__ = ["InstanceCommands"]
