"""Deterministic replay: re-run an instance from its audit record and compare with its stored state.

The instance is rebuilt from its start on its own process version, in memory, feeding the
recorded inputs in order instead of calling anything outside:

* `instance_started`: the start data;
* `message_received`: the message's data, delivered to the catching event (or the start);
* `timer_fired`: the clock set to the firing moment, the timers refreshed;
* `task_completed`: the submitted form data, on the task the record says became ready;
* `handler_called`: the recorded output (or error) returned to the service task instead of
  calling the handler, whose effects are elsewhere and must not happen twice;
* `incident_resolved`: the corrected data, the failed step run again;
* `instance_cancelled`: the cancellation.

Every step runs with the clock frozen at its event's time, as the original step did, so
calendar expressions and timer dates come out the same. The replay then checks what the
record says the engine did (tasks becoming ready, the instance completing) against what it
does, and at the end compares its workflow with the stored one: the same nodes in the same
states, the same data, the same status. Nothing is written.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.specs import ProcessModel
from engine.clock import frozen_at, install_timer_patch, iso_z
from engine.errors import NotFound
from engine.history.audit import instance_stream
from engine.run.messaging import deliver, thrown_messages
from engine.run.runtime import Runtime, _fire_start_event
from engine.run.step import current_data, data_diff, json_safe
from engine.sandbox.scripts import ScriptEngine
from engine.store.models import AuditEvent, HumanTask, ProcessInstance
from engine.store.states import HumanTaskState, InstanceStatus

STATE_GROUPS = {"completed": TaskState.COMPLETED, "active": TaskState.READY | TaskState.STARTED | TaskState.ERROR,
                "waiting": TaskState.WAITING}


# What a task_ready event records of its human_task row (branch and form since state hashes).
ROW_FIELDS = ("task", "lane", "assignee", "desk", "branch", "form")
ROW_COLUMNS = {"task": "task", "lane": "lane", "assignee": "assignee", "desk": "desk", "branch": "branch",
               "form": "form_ref"}

# Records a handler makes while it runs (before its own handler_called): nothing to feed.
WRITTEN_DURING_A_CALL = frozenset({"business_key_set"})


class ReplayDiverged(Exception):
    """The record and the replay disagree; the message says at which event and how."""


class RecordedHandlerError(Exception):
    """A handler call the record says failed: the replay fails the task the same way."""


@dataclass
class RecordedEvent:
    seq: int
    at: datetime
    actor: str
    kind: str
    payload: dict[str, Any]

    def label(self) -> str:
        return f"event #{self.seq} ({self.kind})"


@dataclass
class ReplayResult:
    instance_id: int
    process: str
    version: int
    events: int
    identical: bool
    difference: str | None
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, with_snapshots: bool = True) -> dict[str, Any]:
        result = {"instance_id": self.instance_id, "process": self.process, "version": self.version,
                  "events": self.events, "identical": self.identical, "difference": self.difference}
        if with_snapshots:
            result["snapshots"] = self.snapshots
        return result


class _Replayer:
    def __init__(self, model: ProcessModel, events: list[RecordedEvent]):
        install_timer_patch()
        self.model = model
        self.events = events
        self.cursor = 0
        self.workflow = BpmnWorkflow(model.spec, model.subprocess_specs)
        self.workflow.script_engine = ScriptEngine(service_caller=self._recorded_call)
        self.announced: list[Any] = []  # ready user tasks the record has not yet named, in order
        self.seen: set[str] = set()
        self.tasks_by_row: dict[int, Any] = {}
        self.cancelled = False
        self.pending_start = False  # started by a message or timer: the next event starts it
        self.job_incident = False  # an incident raised by a job, not by a failed task
        self.rows: dict[int, dict[str, Any]] = {}  # the open human_task rows the record says there are

    # ---- feeding recorded inputs -------------------------------------------------------
    def _recorded_call(self, task, name: str, params: dict[str, Any]) -> str:
        """The service task asks for its handler: answer with the next recorded call."""
        while (event := self._next_unread()) is not None and event.kind in WRITTEN_DURING_A_CALL:
            self.cursor += 1
        where = f"service task {task.task_spec.bpmn_id} calls handler {name!r}"
        if event is None or event.kind != "handler_called":
            found = event.label() if event else "the end of the record"
            raise ReplayDiverged(f"{where}, but the record has {found} there")
        if (event.payload.get("handler"), event.payload.get("task")) != (name, task.task_spec.bpmn_id):
            raise ReplayDiverged(f"{where}, but {event.label()} is handler {event.payload.get('handler')!r} "
                                 f"of {event.payload.get('task')!r}")
        if json_safe(params) != event.payload.get("input"):
            raise ReplayDiverged(f"{where} with input {json_safe(params)}, but {event.label()} recorded "
                                 f"{event.payload.get('input')}")
        self.cursor += 1
        if "error" in event.payload:
            raise RecordedHandlerError(event.payload["error"])
        return json.dumps(event.payload.get("output"), ensure_ascii=False)

    def _next_unread(self) -> RecordedEvent | None:
        return self.events[self.cursor] if self.cursor < len(self.events) else None

    def advance(self) -> None:
        try:
            self.workflow.do_engine_steps()
        except ReplayDiverged:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed task, as in the original step
            root = exc
            while root.__cause__ is not None and not isinstance(root, ReplayDiverged):
                root = root.__cause__
            if isinstance(root, ReplayDiverged):
                raise root from None
        thrown_messages(self.workflow)  # taken out, as the original step did before writing
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True):
            key = str(task.id)
            if key not in self.seen:
                self.seen.add(key)
                self.announced.append(task)

    # ---- one recorded event --------------------------------------------------------------
    def apply(self, event: RecordedEvent) -> None:
        kind, payload = event.kind, event.payload
        wf = self.workflow
        if kind == "instance_started":
            start = wf.get_tasks(state=TaskState.READY)[0]
            start.data.update(json.loads(json.dumps(payload.get("data") or {})))
            self.pending_start = self._starts_by_message_or_timer()
            if not self.pending_start:
                self.advance()
        elif kind == "message_received":
            if self.pending_start:
                wf.do_engine_steps()  # the message start event begins waiting only now
                self.pending_start = False
            deliver(wf, payload["name"], payload.get("data") or {})
            self.advance()
        elif kind == "timer_fired":
            if self.pending_start:
                wf.do_engine_steps()  # the timer start event begins waiting only now
                _fire_start_event(wf, payload["timer"], event.at)
                self.pending_start = False
            wf.refresh_timers()
            self.advance()
        elif kind == "task_ready":
            self._match_ready(event)
            self.rows[payload.get("task_id")] = {key: payload[key] for key in ROW_FIELDS if key in payload}
        elif kind in ("task_claimed", "task_unclaimed", "task_reassigned"):
            row = self.rows.get(payload.get("task_id"))
            if row is not None:
                row["assignee"] = {"task_claimed": payload.get("assignee"), "task_reassigned": payload.get("to")}.get(kind)
        elif kind == "task_cancelled":
            self.rows.pop(payload.get("task_id"), None)
        elif kind == "task_completed":
            self.rows.pop(payload.get("task_id"), None)
            task = self.tasks_by_row.get(payload.get("task_id"))
            if task is None or task.state != TaskState.READY:
                raise ReplayDiverged(f"{event.label()}: task {payload.get('task')!r} (row {payload.get('task_id')}) "
                                     "is not ready in the replay")
            before = copy.deepcopy(task.data)
            task.set_data(**json.loads(json.dumps(payload.get("submitted") or {})))
            try:
                task.run()
            except Exception:  # noqa: BLE001 - its post-script failed, as in the original step: an incident
                failed = True
            else:
                failed = False
            diff = json_safe(data_diff(before, task.data))
            if "diff" in payload and diff != payload["diff"]:
                keys = sorted(k for k in set(diff) | set(payload["diff"]) if diff.get(k) != payload["diff"].get(k))
                changes = "; ".join(f"{k!r}: replay {_short(diff.get(k))}, record {_short(payload['diff'].get(k))}"
                                    for k in keys[:5])
                raise ReplayDiverged(f"{event.label()}: completing {payload.get('task')!r} changes the data "
                                     f"differently from the record: {changes}")
            if not failed:
                self.advance()
        elif kind == "handler_called":
            # Not asked for by a running step: the retry job ran the failed task again.
            failed = self._failed(event, payload.get("task"))
            failed._set_state(TaskState.READY)
            self.cursor -= 1  # let the service task read this very event
            self.advance()
        elif kind == "incident_raised":
            self.job_incident = payload.get("job") is not None
        elif kind == "incident_resolved":
            if payload.get("job") is not None:
                self.job_incident = False
                return  # a job run again: its own events follow
            failed = self._failed(event, payload.get("task"))
            if payload.get("data"):
                failed.set_data(**json.loads(json.dumps(payload["data"])))
            failed._set_state(TaskState.READY)
            self.advance()
        elif kind == "instance_cancelled":
            wf.cancel()
            self.cancelled = True
        elif kind == "instance_completed" and not wf.completed:
            raise ReplayDiverged(f"{event.label()}: the record says the instance completed; the replay has not")

    def _starts_by_message_or_timer(self) -> bool:
        """The instance was started by its start message or start timer, recorded right after."""
        following = self._next_unread()
        if following is None:
            return False
        payload = following.payload
        if following.kind == "message_received":
            return payload.get("name") in self.model.message_starts and "buffered_since" not in payload
        timer = self.model.start_timer
        return following.kind == "timer_fired" and timer is not None and payload.get("timer") == timer.id

    def _failed(self, event: RecordedEvent, bpmn_id: str | None):
        for task in self.workflow.get_tasks(state=TaskState.ERROR):
            if task.task_spec.bpmn_id == bpmn_id:
                return task
        raise ReplayDiverged(f"{event.label()}: the record runs {bpmn_id!r} again, but it has not failed in the replay")

    def _match_ready(self, event: RecordedEvent) -> None:
        bpmn_id = event.payload.get("task")
        for index, task in enumerate(self.announced):
            if task.task_spec.bpmn_id == bpmn_id:
                self.tasks_by_row[event.payload.get("task_id")] = self.announced.pop(index)
                return
        ready = sorted({t.task_spec.bpmn_id for t in self.announced})
        raise ReplayDiverged(f"{event.label()}: the record says {bpmn_id!r} became ready; the replay has "
                             f"{', '.join(ready) or 'no new user task'} ready")

    # ---- results ---------------------------------------------------------------------------
    def snapshot(self, event: RecordedEvent) -> dict[str, Any]:
        names = self.model.node_names
        groups = {name: sorted({t.task_spec.bpmn_id for t in self.workflow.get_tasks(state=mask)
                                if t.task_spec.bpmn_id in names}) for name, mask in STATE_GROUPS.items()}
        groups["completed"] = sorted(set(groups["completed"]) - set(groups["active"]) - set(groups["waiting"]))
        return {"seq": event.seq, "at": iso_z(event.at), "kind": event.kind, "actor": event.actor,
                **groups, "data": json_safe(current_data(self.workflow))}


def signature(workflow: BpmnWorkflow, model: ProcessModel) -> Counter:
    """How many tasks of each diagram node are in each state: what a replay must reproduce."""
    return Counter((t.task_spec.bpmn_id, TaskState.get_name(t.state)) for t in workflow.get_tasks()
                   if t.task_spec.bpmn_id in model.node_names)


def recorded_events(session: Session, instance_id: int) -> list[RecordedEvent]:
    rows = session.execute(
        select(AuditEvent).where(AuditEvent.stream == instance_stream(instance_id)).order_by(AuditEvent.seq)
    ).scalars()
    return [RecordedEvent(r.seq, r.at, r.actor, r.kind, json.loads(r.payload)) for r in rows]


def replay(runtime: Runtime, instance_id: int) -> ReplayResult:
    """Re-run an instance from its record and compare with its stored state (nothing is written)."""
    with runtime.db.read() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"instance {instance_id} does not exist")
        deployed = runtime.deployed(session, instance.deployment_id)
        events = recorded_events(session, instance_id)
        stored = runtime.codec.loads(instance.serialized, deployed.model)
        status, data = instance.status, instance.data
        rows = {row.id: row for row in session.execute(
            select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == HumanTaskState.READY)).scalars()}
    result = ReplayResult(instance_id, deployed.process_id, deployed.version, len(events), False, None)
    replayer = _Replayer(deployed.model, events)
    try:
        while replayer.cursor < len(events):
            first = replayer.cursor
            event = events[first]
            replayer.cursor += 1
            with frozen_at(event.at):
                replayer.apply(event)
            # Handler calls read during the step are its events too: each shows the state after it.
            result.snapshots.extend(replayer.snapshot(e) for e in events[first:replayer.cursor])
        result.difference = _compare_end(replayer, stored, deployed.model, status, data, rows)
    except ReplayDiverged as exc:
        result.difference = str(exc)
    result.identical = result.difference is None
    return result


def _compare_end(replayer: _Replayer, stored: BpmnWorkflow, model: ProcessModel, status: str,
                 data: dict[str, Any], rows: dict[int, HumanTask]) -> str | None:
    """The whole stored state against the replay's: nodes, every task's state and data, the
    workflow's data, the instance's summary data and status, and its open human_task rows."""
    wf = replayer.workflow
    if replayer.announced:
        names = ", ".join(sorted({t.task_spec.bpmn_id for t in replayer.announced}))
        return f"at the end: the replay has user task(s) {names} ready that the record never announced"
    ours, theirs = signature(wf, model), signature(stored, model)
    if ours != theirs:
        extra = sorted((ours - theirs).elements())
        missing = sorted((theirs - ours).elements())
        return (f"at the end: the replayed nodes differ from the stored instance: replay has {extra or 'nothing more'}, "
                f"stored has {missing or 'nothing more'}")
    counterpart: dict[Any, Any] = {}  # stored task id -> the replayed task in its place
    difference = _task_difference(wf, stored, counterpart)
    if difference:
        return "at the end: " + difference
    if not replayer.cancelled and json_safe(current_data(wf)) != data:
        return "at the end: the replayed data differ from the stored data: " + _data_difference(
            json_safe(current_data(wf)), data)
    replay_status = _status(replayer)
    if replay_status != status and not (status == InstanceStatus.RETRYING and replay_status == InstanceStatus.ERROR):
        return f"at the end: the replay ends {replay_status}, the stored instance is {status}"
    return _row_difference(replayer, rows, counterpart)


def _task_difference(wf: BpmnWorkflow, stored: BpmnWorkflow, counterpart: dict[Any, Any]) -> str | None:
    """The first task (tree order, subprocesses included) whose spec, state or data differs, then the
    first workflow whose data differs; fills `counterpart` along the way."""
    replayed, kept = wf.get_tasks(), stored.get_tasks()
    seen: Counter = Counter()
    for ours, theirs in zip(replayed, kept, strict=False):
        name = theirs.task_spec.name
        seen[name] += 1
        label = f"task {name!r}" + (f" (#{seen[name]})" if seen[name] > 1 else "")
        if ours.task_spec.name != name:
            return f"{label}: the replay has task {ours.task_spec.name!r} in its place"
        if ours.state != theirs.state:
            return (f"{label}: state: stored {TaskState.get_name(theirs.state)}, "
                    f"replayed {TaskState.get_name(ours.state)}")
        found = _key_difference(json_safe(theirs.data), json_safe(ours.data))
        if found:
            return f"{label}: data {found}"
        counterpart[theirs.id] = ours
    if len(replayed) != len(kept):
        return f"the replay has {len(replayed)} tasks, the stored workflow {len(kept)}"
    found = _key_difference(json_safe(stored.data), json_safe(wf.data))
    if found:
        return f"workflow data {found}"
    for task_id, sub in stored.subprocesses.items():
        ours = wf.subprocesses.get(counterpart[task_id].id) if task_id in counterpart else None
        found = "is missing in the replay" if ours is None else _key_difference(json_safe(sub.data),
                                                                                json_safe(ours.data))
        if found:
            return f"subprocess {sub.spec.name!r} data {found}"
    return None


def _key_difference(stored: dict[str, Any], replayed: dict[str, Any]) -> str | None:
    for key in sorted(set(stored) | set(replayed)):
        if key not in replayed:
            return f"{key!r}: stored {_short(stored[key])}, not in the replay"
        if key not in stored:
            return f"{key!r}: not stored, replayed {_short(replayed[key])}"
        if stored[key] != replayed[key]:
            return f"{key!r}: stored {_short(stored[key])}, replayed {_short(replayed[key])}"
    return None


def _row_difference(replayer: _Replayer, rows: dict[int, HumanTask], counterpart: dict[Any, Any]) -> str | None:
    """The open human_task rows against those the record opened, claimed and closed."""
    for row_id in sorted(set(rows) | set(replayer.rows)):
        row, recorded = rows.get(row_id), replayer.rows.get(row_id)
        if row is None:
            return f"at the end: human task {row_id} ({recorded.get('task')!r}) is open in the record, not stored open"
        if recorded is None:
            return f"at the end: human task {row_id} ({row.task!r}) is stored open; the record never opened it"
        for key, column in ROW_COLUMNS.items():
            if key in recorded and getattr(row, column) != recorded[key]:
                return (f"at the end: human task {row_id} ({row.task!r}) {column}: stored "
                        f"{_short(getattr(row, column))}, recorded {_short(recorded[key])}")
        ours = replayer.tasks_by_row.get(row_id)
        try:
            theirs = counterpart.get(UUID(row.spiff_task_id))
        except ValueError:
            theirs = None
        if ours is None or theirs is not ours:
            return (f"at the end: human task {row_id} ({row.task!r}) spiff_task_id: stored {row.spiff_task_id!r} "
                    "is not the task the record made ready")
    return None


def _status(replayer: _Replayer) -> InstanceStatus:
    if replayer.cancelled:
        return InstanceStatus.CANCELLED
    if replayer.workflow.completed:
        return InstanceStatus.COMPLETED
    if replayer.workflow.get_tasks(state=TaskState.ERROR) or replayer.job_incident:
        return InstanceStatus.ERROR
    return InstanceStatus.RUNNING


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _data_difference(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    for key in sorted(set(ours) | set(theirs)):
        if ours.get(key) != theirs.get(key):
            return f"{key!r}: replay {ours.get(key)!r}, stored {theirs.get(key)!r}"
    return "(no key differs)"


__all__ = ["replay", "ReplayResult", "signature"]
