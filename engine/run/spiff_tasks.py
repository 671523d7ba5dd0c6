"""The one module that touches SpiffWorkflow's private task API.

SpiffWorkflow has no public way to run a failed task again, to read when a waiting timer
fires, or to tell a timer start event that our job found it due. These functions do it
with its underscore methods, so a SpiffWorkflow upgrade is checked here and nowhere else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.run.prune import PRUNE_DEPTH, deeper_than, prune_finished

# Who is told when a timer fires. SpiffWorkflow fires timers inside an engine run (a timer already
# due when reached, or one found due by the refresh at the end of a run), where no job sees it: the
# step records each firing when it happens, before what it sets going.
_ON_TIMER_FIRED: ContextVar[Callable[[Any], None] | None] = ContextVar("on_timer_fired", default=None)
MAX_ENGINE_ROUNDS = 100


@contextlib.contextmanager
def reporting_timer_firings(callback: Callable[[Any], None]) -> Iterator[None]:
    """Call `callback(task)` for each timer that fires while inside."""
    token = _ON_TIMER_FIRED.set(callback)
    try:
        yield
    finally:
        _ON_TIMER_FIRED.reset(token)


def _reporting(has_fired: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def wrapped(definition: Any, my_task: Any) -> bool:
        before = my_task._get_internal_data("event_fired", False)
        fired = has_fired(definition, my_task)
        callback = _ON_TIMER_FIRED.get()
        if fired and not before and callback is not None:
            callback(my_task)
        return fired

    wrapped.tourflow_reporting = True  # type: ignore[attr-defined]
    return wrapped


for _kind in (spiff_timer.TimeDateEventDefinition, spiff_timer.DurationTimerEventDefinition):
    if not getattr(_kind.has_fired, "tourflow_reporting", False):
        _kind.has_fired = _reporting(_kind.has_fired)


def run_engine(workflow: BpmnWorkflow, prune: bool = True) -> None:
    """Run engine tasks until only people, timers and messages are waited for. SpiffWorkflow's
    `do_engine_steps` ends by refreshing its timers, and a timer that fires there leaves its path
    ready but not run: run again until nothing the engine can do is left (a bounded number of times).

    Finished loop iterations are pruned at the end, and during the run whenever a completed task is
    deeper than PRUNE_DEPTH (engine/run/prune.py): the live step and the replay both run here. Only
    a replay that rebuilds the whole history (engine/history/replay.py `full_history`) keeps them."""

    def prune_if_deep(task) -> None:
        if deeper_than(task, PRUNE_DEPTH):
            prune_finished(workflow)

    try:
        for _ in range(MAX_ENGINE_ROUNDS):
            workflow.do_engine_steps(did_complete_task=prune_if_deep if prune else None)
            if not any(not task.task_spec.manual for task in workflow.get_tasks(state=TaskState.READY)):
                return
    finally:
        if prune:
            prune_finished(workflow)


def make_ready(task) -> None:
    """Put a failed task back to READY, so the next engine run runs it again."""
    task._set_state(TaskState.READY)


def timer_id_of(task) -> str | None:
    """The BPMN id of the timer a task holds, None if it holds none. An event-based gateway waits
    itself (SpiffWorkflow moves its events into one MultipleEventDefinition); its timer is named
    after the timer catch event behind it."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        found = [i for i, d in enumerate(definition.event_definitions) if isinstance(d, TimerEventDefinition)]
        if not found:
            return None
        outputs = task.task_spec.outputs
        return outputs[found[0]].bpmn_id if found[0] < len(outputs) else task.task_spec.bpmn_id
    return task.task_spec.bpmn_id if isinstance(definition, TimerEventDefinition) else None


def timer_due(task) -> datetime | None:
    """When the timer a waiting task holds fires (None: it holds no timer value yet)."""
    value = task._get_internal_data("event_value")
    return TimerEventDefinition.get_datetime(value) if value else None


def fire_start_timer(workflow: BpmnWorkflow, bpmn_id: str, now: datetime) -> None:
    """Our job decided the start timer `bpmn_id` is due: make SpiffWorkflow's timer agree, then let it run."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if task.task_spec.bpmn_id == bpmn_id:
            task._set_internal_data(event_value=(now - timedelta(microseconds=1)).isoformat())
    workflow.refresh_timers()


def timer_values(workflow: BpmnWorkflow, unchanged: set[str]) -> dict:
    """The due times held by waiting timers whose spec is in `unchanged` (by task id), so a
    migration that re-reads the waiting tasks does not restart them."""
    return {task.id: task._get_internal_data("event_value") for task in workflow.get_tasks(state=TaskState.WAITING)
            if task.task_spec.name in unchanged and task._get_internal_data("event_value")}


def restore_timer_values(workflow: BpmnWorkflow, values: dict) -> None:
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if task.id in values:
            task._set_internal_data(event_value=values[task.id])


__all__ = ["fire_start_timer", "make_ready", "restore_timer_values", "timer_due", "timer_values"]
