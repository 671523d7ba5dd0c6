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

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.specs import ProcessModel
from engine.clock import frozen_at
from engine.errors import NotFound
from engine.history.replayer import RecordedEvent, ReplayDiverged, Replayer, short
from engine.run.prune import prune_finished
from engine.run.runtime import Runtime
from engine.run.workflow_data import current_data, json_safe
from engine.store.audit import instance_stream
from engine.store.models import AuditEvent, HumanTask, ProcessInstance
from engine.store.states import HumanTaskState, InstanceStatus

ROW_COLUMNS = {"task": "task", "lane": "lane", "assignee": "assignee", "routing": "routing", "form": "form_ref"}


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


def signature(workflow: BpmnWorkflow, model: ProcessModel) -> Counter:
    """How many tasks of each diagram node are in each state: what a replay must reproduce."""
    return Counter((t.task_spec.bpmn_id, TaskState.get_name(t.state)) for t in workflow.get_tasks()
                   if t.task_spec.bpmn_id in model.node_names)


def recorded_events(session: Session, instance_id: int) -> list[RecordedEvent]:
    rows = session.execute(
        select(AuditEvent).where(AuditEvent.stream == instance_stream(instance_id)).order_by(AuditEvent.seq)
    ).scalars()
    return [RecordedEvent(r.seq, r.at, r.actor, r.kind, json.loads(r.payload)) for r in rows]


@dataclass
class _Recorded:
    """What a replay reads of one instance."""
    deployed: Any
    events: list[RecordedEvent]
    stored: BpmnWorkflow
    models: dict[int, ProcessModel]
    status: str
    data: dict[str, Any]
    rows: dict[int, HumanTask]

    def replayer(self, keep_finished: bool = False) -> Replayer:
        first = next((e.payload.get("deployment_id") for e in self.events if e.kind == "instance_started"), None)
        return Replayer(self.models.get(first, self.deployed.model), self.events, self.models, keep_finished)


def _recorded(runtime: Runtime, instance_id: int) -> _Recorded:
    with runtime.db.read() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"instance {instance_id} does not exist", key="instance.missing", params={"id": instance_id})
        deployed = runtime.deployed(session, instance.deployment_id)
        events = recorded_events(session, instance_id)
        stored = runtime.codec.loads(instance.serialized, deployed.model)
        # A migrated instance started on another version: the record names each one it ran on.
        ran_on = [e.payload.get(key) for e in events for key in ("deployment_id", "to_deployment_id")
                  if e.kind in ("instance_started", "instance_migrated") and isinstance(e.payload.get(key), int)]
        models = {i: runtime.deployed(session, i).model for i in dict.fromkeys(ran_on)}
        rows = {row.id: row for row in session.execute(
            select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == HumanTaskState.READY)).scalars()}
        return _Recorded(deployed, events, stored, models, instance.status, instance.data, rows)


def _feed(replayer: Replayer, events: list[RecordedEvent], snapshots: list[dict[str, Any]] | None = None) -> None:
    while replayer.cursor < len(events):
        first = replayer.cursor
        event = events[first]
        replayer.cursor += 1
        with frozen_at(event.at):
            replayer.apply(event)
        if snapshots is not None:
            # Handler calls read during the step are its events too: each shows the state after it.
            snapshots.extend(replayer.snapshot(e) for e in events[first:replayer.cursor])


def replay(runtime: Runtime, instance_id: int) -> ReplayResult:
    """Re-run an instance from its record and compare with its stored state (nothing is written)."""
    recorded = _recorded(runtime, instance_id)
    deployed = recorded.deployed
    result = ReplayResult(instance_id, deployed.process_id, deployed.version, len(recorded.events), False, None)
    replayer = recorded.replayer()
    try:
        _feed(replayer, recorded.events, result.snapshots)
        result.difference = _compare_end(replayer, recorded.stored, deployed.model, recorded.status, recorded.data,
                                         recorded.rows)
    except ReplayDiverged as exc:
        result.difference = str(exc)
    result.identical = result.difference is None
    return result


def full_history(runtime: Runtime, instance_id: int) -> BpmnWorkflow:
    """The instance rebuilt from its record with every finished task kept: the whole path it took,
    which its stored tree no longer holds (finished loop iterations are pruned, engine/run/prune.py).
    Raises ReplayDiverged when the record does not explain it."""
    recorded = _recorded(runtime, instance_id)
    replayer = recorded.replayer(keep_finished=True)
    _feed(replayer, recorded.events)
    return replayer.workflow


def _compare_end(replayer: Replayer, stored: BpmnWorkflow, model: ProcessModel, status: str,
                 data: dict[str, Any], rows: dict[int, HumanTask]) -> str | None:
    """The whole stored state against the replay's: nodes, every task's state and data, the
    workflow's data, the instance's summary data and status, and its open human_task rows."""
    wf = replayer.workflow
    # The same pruning on both sides: an instance stored before pruning existed (or whose last write
    # ran no engine, like a cancellation) still holds the finished tasks the replay dropped.
    prune_finished(wf)
    prune_finished(stored)
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
            return f"{key!r}: stored {short(stored[key])}, not in the replay"
        if key not in stored:
            return f"{key!r}: not stored, replayed {short(replayed[key])}"
        if stored[key] != replayed[key]:
            return f"{key!r}: stored {short(stored[key])}, replayed {short(replayed[key])}"
    return None


def _row_difference(replayer: Replayer, rows: dict[int, HumanTask], counterpart: dict[Any, Any]) -> str | None:
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
                        f"{short(getattr(row, column))}, recorded {short(recorded[key])}")
        ours = replayer.tasks_by_row.get(row_id)
        try:
            theirs = counterpart.get(UUID(row.spiff_task_id))
        except ValueError:
            theirs = None
        if ours is None or theirs is not ours:
            return (f"at the end: human task {row_id} ({row.task!r}) spiff_task_id: stored {row.spiff_task_id!r} "
                    "is not the task the record made ready")
    return None


def _status(replayer: Replayer) -> InstanceStatus:
    if replayer.cancelled:
        return InstanceStatus.CANCELLED
    if replayer.workflow.completed:
        return InstanceStatus.COMPLETED
    if replayer.workflow.get_tasks(state=TaskState.ERROR) or replayer.job_incident:
        return InstanceStatus.ERROR
    return InstanceStatus.RUNNING


def _data_difference(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    for key in sorted(set(ours) | set(theirs)):
        if ours.get(key) != theirs.get(key):
            return f"{key!r}: replay {ours.get(key)!r}, stored {theirs.get(key)!r}"
    return "(no key differs)"


__all__ = ["full_history", "replay", "ReplayResult", "signature"]
