"""Running due jobs (timers, timer starts, handler retries) safely from several workers.

A job is taken in two transactions:

1. **Acquire**: a short write transaction marks due, unleased jobs with the worker's name
   and a lease expiry (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers never
   wait on each other's rows; on SQLite the write lock taken at BEGIN makes acquisition
   single-writer).
2. **Run**: the step's own transaction locks the job row again, checks it is still pending
   and still leased to this worker (or its lease ran out with nobody else taking it), and
   marks it done together with everything the step wrote.

A worker killed between the two, or in the middle of the step, leaves only a lease: the
step's writes roll back with the dead connection, and once the lease expires another
worker acquires the job and runs the step from the same committed state. So a job's step
commits exactly once. Leases use the wall clock, never the clock `tick --at` moves.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine.clock import frozen_at
from engine.errors import TaskConflict
from engine.outbox import staff_alerts
from engine.run.rows import lock_instance
from engine.run.spiff_tasks import make_ready
from engine.run.start_timers import schedule as schedule_start_timer
from engine.run.step import Step
from engine.run.unit import Tx, UnitSource
from engine.sandbox.outcomes import lets_go_of_the_lock
from engine.store import audit
from engine.store.audit import SYSTEM_ACTOR
from engine.store.models import Deployment, Job
from engine.store.states import FINISHED, InstanceStatus, JobKind, JobState

DEFAULT_LEASE_SECONDS = 60
# A job whose run keeps failing outside its step (a bug, a database error) backs off and,
# after this many failures, stops: state "failed", with a job_failed event.
MAX_JOB_FAILURES = 5
FAILURE_BACKOFF_SECONDS = 10


def worker_name(kind: str = "worker") -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def lease_seconds_from_env() -> float:
    value = os.environ.get("TOURFLOW_JOB_LEASE_SECONDS")
    return float(value) if value else DEFAULT_LEASE_SECONDS


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class JobRunner:
    runtime: UnitSource  # the Runtime: its database and its units of work
    owner: str = field(default_factory=worker_name)
    lease: timedelta = field(default_factory=lambda: timedelta(seconds=lease_seconds_from_env()))

    # ---- acquiring ---------------------------------------------------------------------
    def acquire(self, due_by: datetime, limit: int = 20, skip: set[int] | None = None) -> list[tuple[int, datetime]]:
        """Lease up to `limit` jobs due by `due_by` to this worker; returns (id, due_at)."""
        now = wall_clock()
        db = self.runtime.db
        with db.write() as session, session.begin():
            query = (
                select(Job.id, Job.due_at)
                .where(Job.state == JobState.PENDING, Job.due_at <= due_by,
                       or_(Job.lease_until.is_(None), Job.lease_until < now))
                .order_by(Job.due_at, Job.id)
                .limit(limit)
            )
            if skip:
                query = query.where(Job.id.not_in(skip))
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if rows:
                session.execute(
                    update(Job).where(Job.id.in_([r.id for r in rows]))
                    .values(locked_by=self.owner, lease_until=now + self.lease)
                )
        return [(r.id, r.due_at) for r in rows]

    def run_due(self, due_by: datetime | None = None, *,
                should_stop: Callable[[], bool] = lambda: False) -> list[dict[str, Any]]:
        """Acquire and run due jobs until none is left (or `should_stop`); each job in its own step.

        `due_by` set (tick --at): every job due by then runs as if at that moment. Unset: real
        time, each job run at the moment it is taken.
        """
        fired: list[dict[str, Any]] = []
        tried: set[int] = set()  # a job that failed is not tried again in the same call
        while not should_stop():
            batch = self.acquire(due_by or wall_clock(), limit=20, skip=tried)
            if not batch:
                break
            for job_id, _due_at in batch:
                if should_stop():
                    self.release([job_id])
                    continue
                tried.add(job_id)
                result = self.run(job_id, due_by or wall_clock())
                if result:
                    fired.append(result)
        return fired

    def release(self, job_ids: list[int]) -> None:
        """Give back leases not worked on (a worker told to stop)."""
        with self.runtime.db.write() as session, session.begin():
            session.execute(update(Job).where(Job.id.in_(job_ids), Job.locked_by == self.owner,
                                              Job.state == JobState.PENDING)
                            .values(locked_by=None, lease_until=None))

    # ---- running -----------------------------------------------------------------------
    def run(self, job_id: int, moment: datetime) -> dict[str, Any] | None:
        """Run one leased job; a failure outside the step is recorded and backed off."""
        try:
            return self._run(job_id, moment)
        except TaskConflict:
            self.release([job_id])  # the instance moved under us; the job is looked at again
            return None
        except Exception as exc:  # noqa: BLE001 - recorded on the job, never kills the worker
            self._record_failure(job_id, exc)
            return None

    @lets_go_of_the_lock
    def _run(self, job_id: int, moment: datetime) -> dict[str, Any] | None:
        with self.runtime.transaction() as tx:
            job = tx.session.execute(
                select(Job).where(Job.id == job_id).with_for_update().execution_options(populate_existing=True)
            ).scalar_one()
            if job.state != JobState.PENDING or not self._still_ours(job):
                return None
            job.locked_by, job.lease_until = None, None
            # SpiffWorkflow fires a timer only once its time is strictly past.
            moment = max(moment, job.due_at + timedelta(microseconds=1))
            with frozen_at(moment):
                return self._execute(tx, job, moment)

    def _execute(self, tx: Tx, job: Job, moment: datetime) -> dict[str, Any] | None:
        if job.kind == JobKind.START_TIMER:
            return self._start_by_timer(tx, job, moment)
        instance = tx.lock_instance(job.instance_id)
        job.state, job.done_at = JobState.DONE, moment
        job.attempts += 1 if job.kind == JobKind.TIMER else 0
        if instance.status in FINISHED:
            job.state = JobState.CANCELLED
            return None
        step = tx.open_step(instance, SYSTEM_ACTOR, moment)
        task = step.spiff_task(job.spiff_task_id) if job.spiff_task_id else None
        if job.kind == JobKind.RETRY:
            return self._retry(step, job, task)
        if task is None or task.state != TaskState.WAITING:
            job.state = JobState.CANCELLED
            step.sync()
            return None
        return self._fire_timer(step, job)

    def _still_ours(self, job: Job) -> bool:
        """Leased to us, or to nobody, or to someone whose lease ran out (they died)."""
        if job.locked_by in (None, self.owner):
            return True
        return job.lease_until is None or job.lease_until < wall_clock()

    @staticmethod
    def _fire_timer(step: Step, job: Job) -> dict[str, Any]:
        step.record_timer_fired(job.task, job.due_at, job.spiff_task_id)
        step.refresh_timers()
        step.advance()
        return {"job": job.id, "kind": job.kind, "instance_id": step.instance.id, "timer": job.task}

    @staticmethod
    def _start_by_timer(tx: Tx, job: Job, moment: datetime) -> dict[str, Any]:
        """A timer start event is due: start an instance of that version, schedule the next."""
        job.state, job.done_at, job.attempts = JobState.DONE, moment, job.attempts + 1
        deployment = tx.deployed(job.deployment_id)
        instance = tx.begin(deployment, {}, SYSTEM_ACTOR, None, timer_start=job)
        schedule_start_timer(tx.session, tx.session.get(Deployment, deployment.id), deployment.model, moment)
        return {"job": job.id, "kind": job.kind, "instance_id": instance.id, "timer": job.task}

    @staticmethod
    def _retry(step: Step, job: Job, task) -> dict[str, Any] | None:
        if task is None or task.state != TaskState.ERROR:
            job.state = JobState.CANCELLED
            return None
        step.attempts[str(task.id)] = job.attempts + 1
        step.instance.status, step.instance.error = InstanceStatus.RUNNING, None
        make_ready(task)
        step.advance()
        return {"job": job.id, "kind": "retry", "instance_id": step.instance.id, "task": job.task}

    def _record_failure(self, job_id: int, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"[:4000]
        now = wall_clock()
        with self.runtime.db.write() as session, session.begin():
            job = session.get(Job, job_id)
            if job is None or job.state != JobState.PENDING:
                return
            job.failures += 1
            job.last_error = message
            job.locked_by, job.lease_until = None, None
            if job.failures >= MAX_JOB_FAILURES:
                job.state, job.done_at = JobState.FAILED, now
                audit.append(session, kind="job_failed", actor=SYSTEM_ACTOR, at=now, instance_id=job.instance_id,
                             payload={"job": job.id, "kind": job.kind, "task": job.task, "error": message,
                                      "failures": job.failures})
                if job.instance_id is not None:
                    self._raise_incident(session, job, message, now)
            else:
                job.due_at = now + timedelta(seconds=FAILURE_BACKOFF_SECONDS * 2 ** (job.failures - 1))


    @staticmethod
    def _raise_incident(session: Session, job: Job, message: str, now: datetime) -> None:
        """The instance waits on a job that cannot run: it is stuck, so it shows as an incident
        (system lane) that a supervisor resolves once the cause is fixed (Runtime.resolve_incident)."""
        instance = lock_instance(session, job.instance_id)
        if instance.status in FINISHED:
            return
        error = f"{job.kind} job #{job.id} failed {job.failures} times: {message}"
        instance.status, instance.error = InstanceStatus.ERROR, error
        audit.append(session, kind="incident_raised", actor=SYSTEM_ACTOR, at=now, instance_id=instance.id,
                     payload={"task": job.task, "task_id": job.spiff_task_id, "error": error,
                              "attempts": job.failures, "name": job.task, "business": False, "lane": "system",
                              "job": job.id})
        staff_alerts.note_incident(session, instance_id=instance.id, lane="system", name=str(job.task or job.kind),
                                   error=error, now=now, process_name=instance.process_id)


__all__ = ["JobRunner", "worker_name", "DEFAULT_LEASE_SECONDS", "MAX_JOB_FAILURES"]
