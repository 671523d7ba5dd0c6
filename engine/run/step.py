"""One step of one instance: load it under lock, act, run the engine, write everything back.

Everything a step changes (workflow state, task rows, jobs, audit events, handler writes)
is written in the caller's single transaction, so a crash at any point either keeps the
whole step or none of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.bpmn.codec import WorkflowCodec
from engine.bpmn.specs import ProcessModel
from engine.clock import iso_z
from engine.outbox import staff_alerts
from engine.plugins.handlers import BusinessError
from engine.run.handler_calls import HandlerCalls
from engine.run.handler_errors import HandlerFailed, script_error_in
from engine.run.message_events import thrown_messages
from engine.run.row_writes import insert_tasks, write_instance_record, write_tasks
from engine.run.rows import OPEN_TASK_RECORDS, open_tasks_read_with_lock
from engine.run.search_terms import drop_closed, write_terms
from engine.run.spiff_tasks import (
    faster_walks,
    quiet_state_changes,
    reporting_timer_firings,
    run_engine,
    timer_due,
    timer_id_of,
)
from engine.run.task_edit_cleanup import forget_closed
from engine.run.task_rows import new_task_row
from engine.run.workflow_data import WALKS, TreeFacts, current_data, data_diff, json_safe, walk_tree
from engine.sandbox.plain import is_plain
from engine.sandbox.scripts import ScriptEngine
from engine.store import audit, driver_sql, state_hash
from engine.store.models import Job
from engine.store.records import InstanceRecord, TaskRecord
from engine.store.states import FINISHED, HumanTaskState, InstanceStatus, JobKind, JobState

MAX_RETRIES = 3
# Built once (engine/run/rows.py says why).
_PENDING_JOBS = (select(Job).where(Job.instance_id == bindparam("instance_id"), Job.state == JobState.PENDING)
                 .order_by(Job.due_at, Job.id))
RETRY_BASE_SECONDS = 30


def retry_base_seconds() -> float:
    """The first retry's delay (doubling after); TOURFLOW_RETRY_BASE_SECONDS overrides the 30 s."""
    value = os.environ.get("TOURFLOW_RETRY_BASE_SECONDS")
    return float(value) if value else RETRY_BASE_SECONDS


@dataclass
class Step:
    session: Session
    instance: InstanceRecord  # engine/store/records.py: written back by `sync`
    model: ProcessModel
    workflow: BpmnWorkflow
    actor: str
    now: datetime
    codec: WorkflowCodec
    attempts: dict[str, int] = field(default_factory=dict)
    # Called with the messages the instance threw, after its state is written (see messaging.py).
    send_messages: Callable[[Step, list[tuple[str, dict[str, Any]]]], None] | None = None
    # Called at the end of the step to hand the instance a buffered message it now waits for.
    take_buffered: Callable[[Step], None] | None = None
    timers_recorded: set[str] = field(default_factory=set)  # waiting tasks whose firing this step recorded
    closed_rows: dict[int, TaskRecord] = field(default_factory=dict)  # task rows it completed or cancelled, by id
    unindexed: set[int] = field(default_factory=set)  # closed rows whose search terms were dropped
    # The instance's open task rows as this step left them; None until read (an instance this
    # transaction created has none, so its first write-back reads nothing).
    open_rows: list[TaskRecord] | None = None
    # The text its workflow last wrote (`sync`), and whether the workflow may be kept for the instance's next
    # step once the unit commits (engine/run/live_workflows.py; not after a migration).
    written: str | None = None
    keep_live: bool = True

    # ---- audit -------------------------------------------------------------------------
    def event(self, kind: str, payload: dict[str, Any], actor: str | None = None, plain: bool = False) -> None:
        """Record an event; its payload as it reads back from JSON (`plain`: the caller knows it is)."""
        audit.append(
            self.session,
            kind=kind,
            actor=actor or self.actor,
            at=self.now,
            payload=payload if plain or is_plain(payload) else json_safe(payload),
            instance_id=self.instance.id,
            plain=True,  # plain data (each container met once), or its JSON round trip
        )

    # ---- running -----------------------------------------------------------------------
    def install_script_engine(self) -> None:
        self.workflow.script_engine = ScriptEngine(service_caller=HandlerCalls(self))
        faster_walks(self.workflow)  # SpiffWorkflow's answers, faster (replay keeps its own walk)
        quiet_state_changes(self.workflow)  # no log records built for a logger that drops them

    def set_business_key(self, key: str) -> None:
        key = str(key)
        if not key or len(key) > 120:
            raise ValueError("a business key is a string of 1 to 120 characters")
        if self.instance.business_key is None:
            self.instance.business_key = key
            self.event("business_key_set", {"business_key": key})
        elif self.instance.business_key != key:
            raise ValueError(f"instance {self.instance.id} is keyed {self.instance.business_key!r} already")

    def run_user_task(self, task) -> Exception | None:
        """Run a completed user task (its post-script included); the failure, if its script failed."""
        try:
            task.run()
        except Exception as exc:  # noqa: BLE001 - recorded by advance() as an incident, after the completion
            return exc
        return None

    def advance(self, failure: Exception | None = None) -> None:
        """Run engine tasks until only people, timers or messages are waited for; `failure` (from
        run_user_task) is recorded instead."""
        try:
            if failure is not None:
                raise failure
            with reporting_timer_firings(self._timer_fired_now):
                run_engine(self.workflow)
        except Exception as exc:  # noqa: BLE001 - becomes a retry or an incident, never a traceback
            self._on_engine_error(exc)
        outgoing = thrown_messages(self.workflow)  # taken out before the state is written
        self.sync()
        if outgoing and self.send_messages is not None:
            self.send_messages(self, outgoing)
        if self.take_buffered is not None:
            self.take_buffered(self)

    def _on_engine_error(self, exc: Exception) -> None:
        failed = self.workflow.get_tasks(state=TaskState.ERROR)
        task = failed[0] if failed else None
        root = exc
        while not isinstance(root, HandlerFailed) and root.__cause__ is not None:
            root = root.__cause__
        script_error = script_error_in(exc)
        if isinstance(root, HandlerFailed):
            message = f"{type(root.original).__name__}: {root.original}"
        elif script_error is not None:
            message = f"{type(script_error).__name__}: {script_error}"
        else:
            inner = getattr(exc, "exception", None) or exc
            message = f"{type(inner).__name__}: {inner}"
        task_id = str(task.id) if task else None
        attempt = self.attempts.get(task_id, 1) if task_id else 1
        spec = task.task_spec.bpmn_id if task else None
        business = isinstance(root, HandlerFailed) and isinstance(root.original, BusinessError)
        retryable = isinstance(root, HandlerFailed) and not business and attempt < MAX_RETRIES
        if retryable:
            due_at = self.now + timedelta(seconds=retry_base_seconds() * 2 ** (attempt - 1))
            self.session.add(Job(kind=JobKind.RETRY, instance_id=self.instance.id, spiff_task_id=task_id, task=spec,
                                 due_at=due_at, state=JobState.PENDING, attempts=attempt, last_error=message,
                                 created_at=self.now))
            self.instance.status = InstanceStatus.RETRYING
            self.instance.error = message
            self.event("retry_scheduled", {"task": spec, "task_id": task_id, "error": message,
                                           "attempt": attempt, "due_at": iso_z(due_at)})
            return
        self.instance.status = InstanceStatus.ERROR
        self.instance.error = message
        lane = root.original.lane if business else None
        name = self.model.node_names.get(spec or "", spec)
        self.event("incident_raised", {"task": spec, "task_id": task_id, "error": message, "attempts": attempt,
                                       "name": name, "business": business, "lane": lane})
        staff_alerts.note_incident(self.session, instance_id=self.instance.id,
                                   lane=lane or self.model.node_lanes.get(spec or ""), name=str(name or spec),
                                   error=message, now=self.now, process_name=self.model.name)

    # ---- writing back ------------------------------------------------------------------
    def sync(self) -> None:
        facts = walk_tree(self.workflow)  # one pass serves the jobs, the task rows and the data
        self._sync_jobs(facts)  # first: a timer that fired comes before the tasks it made ready or cancelled
        created = self._sync_human_tasks(facts)
        wf = self.workflow
        if wf.completed and self.instance.status not in FINISHED:
            self.instance.status = InstanceStatus.COMPLETED
            self.instance.ended_at = self.now
            self.event("instance_completed", {"data": wf.data})
        self.instance.data = json_safe(current_data(wf, facts))
        self.instance.serialized = self.written = self.codec.dumps(wf)
        # The rows this step wrote, by prebuilt statements (engine/run/row_writes.py): its instance (a new one
        # inserted whole), the task rows it closed, then its new task rows with their ids, then their events (a
        # workflow with a ready task is not completed: no instance_completed came before them).
        closing = [self.closed_rows[i] for i in sorted(self.closed_rows.keys() - self.unindexed)]
        write_tasks(self.session, closing)
        write_instance_record(self.session, self.instance)
        if created:
            insert_tasks(self.session, created)
            for row in created:
                self.event("task_ready", {"task_id": row.id, "task": row.task, "name": row.name, "lane": row.lane,
                                          "assignee": row.assignee, "routing": row.routing,
                                          "form": row.form_ref, "due_at": iso_z(row.due_at)})
            write_terms(self.session, [(row.id, row.search_text) for row in created])
            staff_alerts.note_new_tasks(self.session, created, self.now, self.model.name)
        if self.closed_rows:  # who had a closed task open, their drafts: last, after the one flush of the rows
            forget_closed(self.session, self.instance.id)
            drop_closed(self.session, closing)  # they leave the search's index
            self.unindexed |= self.closed_rows.keys()

    def current_data(self) -> dict[str, Any]:
        return current_data(self.workflow)

    def close(self, row: TaskRecord) -> None:
        """`row` was completed or cancelled by this step: written back at its end."""
        self.closed_rows[row.id] = row

    def open_task_rows(self) -> list[TaskRecord]:
        """The instance's open task rows, as the step holds them (read once, under its lock)."""
        if self.open_rows is None:
            # Read by the lock statement (SQLite, a task's completion), else here, as records on the connection
            # (engine/store/records.py): no ORM object, no flush first. A task this step closed is still ready
            # in the database: it comes back as the record the step holds (closed) and is left out below; the
            # step's rows are written together later.
            rows = open_tasks_read_with_lock(self.session, self.instance.id)
            if rows is None:
                found = driver_sql.run(driver_sql.connection_of(self.session), OPEN_TASK_RECORDS,
                                       {"instance_id": self.instance.id}).all()
                # a row this step closed already (a completion's task, PostgreSQL) is the record it holds
                rows = [self.closed_rows.get(r[0]) or TaskRecord.from_row(r) for r in found]
            self.open_rows = rows
            state_hash.know_tasks(self.session, self.instance.id, rows)  # no read back at commit
        return [row for row in self.open_rows if row.state == HumanTaskState.READY]

    def _sync_human_tasks(self, facts: TreeFacts) -> list[TaskRecord]:
        """Close the rows of tasks no longer ready, add rows for new ready tasks (returned, not yet
        flushed: sync() records their task_ready events once they have ids)."""
        ready = {str(t.id): t for t in facts.ready_manual}
        rows = self.open_task_rows()
        known = {row.spiff_task_id for row in rows}
        for row in rows:
            if row.spiff_task_id not in ready:
                row.state = HumanTaskState.CANCELLED
                row.completed_at = self.now
                self.close(row)
                self.event("task_cancelled", {"task_id": row.id, "task": row.task, "name": row.name})
        self.open_rows = [row for row in rows if row.state == HumanTaskState.READY]
        due = self.due_dates(facts)
        created: list[TaskRecord] = []
        for spiff_id, task in ready.items():
            if spiff_id in known:
                continue
            row = new_task_row(self.model, self.instance.id, spiff_id, task, due, self.now,
                               self.workflow.script_engine)
            self.open_rows.append(row)
            created.append(row)
        return created

    def _waiting_timers(self, facts: TreeFacts | None = None) -> list[tuple[Any, datetime, str]]:
        """(waiting task, fire time, timer's BPMN id) of every timer the instance waits on (none
        looked for when the model has no timers).

        An event-based gateway waits itself (SpiffWorkflow moves its events into one
        MultipleEventDefinition); its timer is named after the timer catch event behind it.
        """
        if not self.model.timers:
            return []
        WALKS["timers"] += 1
        timers = []
        waiting = facts.waiting if facts is not None else self.workflow.get_tasks(state=TaskState.WAITING)
        for task in waiting:
            timer_id = timer_id_of(task)
            at = timer_due(task) if timer_id else None
            if at is not None:
                timers.append((task, at, timer_id))
        return timers

    def due_dates(self, facts: TreeFacts | None = None) -> dict[str, datetime]:
        """A user task's due date is the earliest timer attached to it."""
        due: dict[str, datetime] = {}
        for _task, at, timer_id in self._waiting_timers(facts):
            info = self.model.timers.get(timer_id)
            if info and info.attached_to in self.model.user_tasks:
                current = due.get(info.attached_to)
                due[info.attached_to] = at if current is None or at < current else current
        return due

    def _sync_jobs(self, facts: TreeFacts) -> None:
        if not self.model.timers:
            return
        waiting = {str(task.id): (timer_id, at) for task, at, timer_id in self._waiting_timers(facts)}
        pending = self.session.execute(_PENDING_JOBS, {"instance_id": self.instance.id}).scalars().all()
        state_hash.know_jobs(self.session, self.instance.id, pending)  # all of them: none read back at commit
        jobs = [job for job in pending if job.kind == JobKind.TIMER]
        have = set()
        for job in jobs:
            if job.spiff_task_id in waiting:
                have.add(job.spiff_task_id)
                if job.due_at != waiting[job.spiff_task_id][1]:  # only a migration to a changed timer
                    job.due_at = waiting[job.spiff_task_id][1]
                continue
            job.done_at = self.now
            if self._fired_here(job):
                job.state = JobState.DONE
                self.record_timer_fired(job.task, job.due_at, job.spiff_task_id)
            else:
                job.state = JobState.CANCELLED
        for spiff_id, (timer_id, at) in waiting.items():
            if spiff_id not in have:
                self.session.add(Job(kind=JobKind.TIMER, instance_id=self.instance.id, spiff_task_id=spiff_id,
                                     task=timer_id, due_at=at, state=JobState.PENDING,
                                     created_at=self.now))

    def _fired_here(self, job: Job) -> bool:
        """Did this step fire the timer (rather than cancel it)? SpiffWorkflow refreshes every
        timer at the end of each engine run, so a step that runs after a timer's time (a late tick
        firing an earlier timer, a form submitted while the worker was down) fires it too."""
        if job.due_at > self.now:
            return False
        try:
            task = self.spiff_task(job.spiff_task_id)
        except Exception:  # noqa: BLE001 - gone from the tree: pruned after firing here (prune.py), else not fired
            return job.spiff_task_id in self.timers_recorded
        if isinstance(getattr(task.task_spec, "event_definition", None), MultipleEventDefinition):
            # An event-based gateway: fired only if the path taken is the timer's.
            return any(child.task_spec.bpmn_id == job.task and child.state & (TaskState.READY | TaskState.STARTED
                                                                              | TaskState.COMPLETED)
                       for child in task.children)
        return bool(task.state & (TaskState.READY | TaskState.STARTED | TaskState.COMPLETED))

    def refresh_timers(self) -> None:
        """Fire the timers that are due (each firing recorded as it happens)."""
        with reporting_timer_firings(self._timer_fired_now):
            self.workflow.refresh_timers()

    def _timer_fired_now(self, task) -> None:
        """A timer fired inside the engine run (already due when reached, or found due at its end):
        recorded when it happens, before what it sets going."""
        self.record_timer_fired(timer_id_of(task) or task.task_spec.bpmn_id, timer_due(task) or self.now, str(task.id))

    def record_timer_fired(self, timer_id: str, due_at: datetime, spiff_task_id: str | None = None) -> None:
        """The audit record of a timer firing (once per waiting task and step); an SLA timer also
        records its warning or breach."""
        if spiff_task_id is not None:
            if spiff_task_id in self.timers_recorded:
                return
            self.timers_recorded.add(spiff_task_id)
        names = self.model.node_names
        due = iso_z(due_at)
        self.event("timer_fired", {"timer": timer_id, "name": names.get(timer_id, timer_id), "due_at": due})
        sla = self.model.sla_timer(timer_id)
        if sla is not None:
            # A timer whose id ends in _warning warns before the deadline; it breaches nothing.
            kind = "sla_warning" if sla.id.endswith("_warning") else "sla_breached"
            self.event(kind, {"task": sla.attached_to, "timer": sla.id,
                              "name": names.get(sla.attached_to, sla.attached_to), "due_at": due})

    def spiff_task(self, spiff_task_id: str):
        return self.workflow.get_task_from_id(UUID(spiff_task_id))


__all__ = ["Step", "HandlerFailed", "current_data", "data_diff", "json_safe"]
