"""Timer start events: the engine starts such a process by itself when its timer is due.

Each deployed version with a timer start event has one pending `start_timer` job. Firing it
starts an instance and schedules the next one from the same expression, evaluated at the
firing moment (so `month_end(now_iso())` walks from one month-end to the next). Deploying a
newer version moves the schedule to it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.specs import ProcessModel
from engine.clock import frozen_at
from engine.errors import ScriptError
from engine.sandbox.scripts import SandboxedEnvironment
from engine.store import audit
from engine.store.models import Deployment, Job
from engine.store.states import JobKind, JobState


def next_due(model: ProcessModel, now: datetime) -> datetime | None:
    """When the process should next start by itself, strictly after `now` (None: never)."""
    timer = model.start_timer
    if timer is None:
        return None
    with frozen_at(now):
        try:
            value = SandboxedEnvironment().evaluate(timer.expression, {})
        except Exception as exc:  # noqa: BLE001 - a bad expression stops the schedule, it is not a crash
            raise ScriptError(f"timer start {timer.id}: {type(exc).__name__}: {exc}", key="timer.bad_start",
                              params={"timer": timer.id}) from None
    if timer.kind == "timeDuration":
        due = now + TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value), now)
    elif timer.kind == "timeCycle":
        _, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
        due = start
        while due <= now:
            due = due + duration
    else:
        due = TimerEventDefinition.get_datetime(value)
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return due if due > now else None


def schedule(session: Session, deployment: Deployment, model: ProcessModel, now: datetime) -> Job | None:
    """Make `deployment` the one version of its process that starts by timer."""
    older = session.execute(
        select(Job).join(Deployment, Deployment.id == Job.deployment_id)
        .where(Job.kind == JobKind.START_TIMER, Job.state == JobState.PENDING, Deployment.process_id == deployment.process_id,
               Deployment.id != deployment.id)
    ).scalars()
    for job in older:
        job.state, job.done_at = JobState.CANCELLED, now
    due = next_due(model, now)
    if due is None:
        return None
    job = Job(kind=JobKind.START_TIMER, instance_id=None, deployment_id=deployment.id, task=model.start_timer.id,
              due_at=due, state=JobState.PENDING, created_at=now)
    session.add(job)
    audit.append(session, kind="timer_scheduled", actor=audit.SYSTEM_ACTOR, at=now,
                 payload={"process": deployment.process_id, "version": deployment.version,
                          "timer": model.start_timer.id, "due_at": due.isoformat()})
    return job
