"""The replay's engine: an instance rebuilt in memory from its audit record, event by event.

engine/history/replay.py drives it and compares its end with the stored instance.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.codec import WorkflowCodec
from engine.bpmn.specs import ProcessModel
from engine.clock import install_timer_patch, iso_z
from engine.outbox import events as outbox_events
from engine.run.message_events import deliver, skip_plain_starts, thrown_messages
from engine.run.migration import MigrationRefused, migrate
from engine.run.prune import pruned_done
from engine.run.spiff_tasks import (
    fire_start_timer,
    make_ready,
    reporting_timer_firings,
    run_engine,
    timer_id_of,
)
from engine.run.workflow_data import current_data, data_diff, json_safe
from engine.sandbox.scripts import ScriptEngine

STATE_GROUPS = {"completed": TaskState.COMPLETED, "active": TaskState.READY | TaskState.STARTED | TaskState.ERROR,
                "waiting": TaskState.WAITING}


# What a task_ready event records of its human_task row (branch and form since state hashes).
ROW_FIELDS = ("task", "lane", "assignee", "routing", "form")
# Before migration 0009 a task_ready event recorded the routing as these two fields.
LEGACY_ROUTING_FIELDS = ("desk", "branch")

CODEC = WorkflowCodec()  # its serializer's registry compares the versions of a migration

# Records a handler makes while it runs (before its own handler_called): nothing to feed. The
# outbox's events (a handler queues a message) say what happened to a message, never an input.
WRITTEN_DURING_A_CALL = frozenset({"business_key_set"}) | outbox_events.KINDS
# What a timer's firing records after its timer_fired (engine/run/step.py record_timer_fired).
SLA_EVENTS = frozenset({"sla_warning", "sla_breached"})


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


class Replayer:
    """An instance rebuilt in memory by feeding it its recorded events, one `apply` at a time."""

    def __init__(self, model: ProcessModel, events: list[RecordedEvent],
                 models: dict[int, ProcessModel] | None = None, keep_finished: bool = False):
        install_timer_patch()
        self.model = model
        self.models = models or {}  # the versions an `instance_migrated` event moves it to, by deployment id
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
        self.keep_finished = keep_finished  # keep the tasks the live run prunes (the whole history)

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

    def _timer_fired_now(self, task) -> None:
        """A timer fired inside the engine run: the live step recorded its timer_fired (and its SLA
        warning or breach) right there; read them."""
        event = self._next_unread()
        timer_id = timer_id_of(task) or task.task_spec.bpmn_id
        if event is None or event.kind != "timer_fired" or event.payload.get("timer") != timer_id:
            return  # fired by a job: its event was read before the run
        self.cursor += 1
        while (event := self._next_unread()) is not None and event.kind in SLA_EVENTS \
                and event.payload.get("timer") == timer_id:
            self.cursor += 1

    def advance(self) -> None:
        try:
            with reporting_timer_firings(self._timer_fired_now):
                run_engine(self.workflow, prune=not self.keep_finished)
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
                skip_plain_starts(wf)
                wf.do_engine_steps()  # the message start event begins waiting only now
                self.pending_start = False
            deliver(wf, payload["name"], payload.get("data") or {})
            self.advance()
        elif kind == "timer_fired":
            if self.pending_start:
                wf.do_engine_steps()  # the timer start event begins waiting only now
                fire_start_timer(wf, payload["timer"], event.at)
                self.pending_start = False
            with reporting_timer_firings(self._timer_fired_now):
                wf.refresh_timers()
            self.advance()
        elif kind == "task_ready":
            self._match_ready(event)
            self.rows[payload.get("task_id")] = recorded_row(payload)
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
                changes = "; ".join(f"{k!r}: replay {short(diff.get(k))}, record {short(payload['diff'].get(k))}"
                                    for k in keys[:5])
                raise ReplayDiverged(f"{event.label()}: completing {payload.get('task')!r} changes the data "
                                     f"differently from the record: {changes}")
            if not failed:
                self.advance()
        elif kind == "handler_called":
            # Not asked for by a running step: the retry job ran the failed task again.
            failed = self._failed(event, payload.get("task"))
            make_ready(failed)
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
            make_ready(failed)
            self.advance()
        elif kind == "instance_migrated":
            target = self.models.get(payload.get("to_deployment_id"))
            if target is None:
                raise ReplayDiverged(f"{event.label()}: deployment {payload.get('to_deployment_id')} is not known")
            try:
                migrate(wf, self.model, target, payload.get("mapping") or {}, CODEC.serializer.registry)
            except MigrationRefused as refused:
                raise ReplayDiverged(f"{event.label()}: the replay cannot move: {refused.message}") from None
            self.model = target
            for change in payload.get("tasks") or []:
                row = self.rows.get(change.get("task_id"))
                if row is not None:
                    row.update({key: change[key] for key in ROW_FIELDS if key in change})
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
        done = (set(groups["completed"]) | pruned_done(self.workflow)) & set(names)
        groups["completed"] = sorted(done - set(groups["active"]) - set(groups["waiting"]))
        return {"seq": event.seq, "at": iso_z(event.at), "kind": event.kind, "actor": event.actor,
                **groups, "data": json_safe(current_data(self.workflow))}


def short(value: Any, limit: int = 300) -> str:
    """A value as JSON for a message, cut at `limit` characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def recorded_row(payload: dict[str, Any]) -> dict[str, Any]:
    """What a task_ready event says of its human_task row (ROW_FIELDS), legacy routing fields as `routing`."""
    row = {key: payload[key] for key in ROW_FIELDS if key in payload}
    if "routing" not in payload and any(key in payload for key in LEGACY_ROUTING_FIELDS):
        row["routing"] = {key: payload[key] for key in LEGACY_ROUTING_FIELDS if payload.get(key)}
    return row


__all__ = ["ROW_FIELDS", "STATE_GROUPS", "RecordedEvent", "RecordedHandlerError", "ReplayDiverged", "Replayer",
           "short"]
