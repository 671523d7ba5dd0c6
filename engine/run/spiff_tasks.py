"""The one module that touches SpiffWorkflow's private task API.

SpiffWorkflow has no public way to run a failed task again, to read when a waiting timer
fires, or to tell a timer start event that our job found it due. These functions do it
with its underscore methods, so a SpiffWorkflow upgrade is checked here and nowhere else.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState


def make_ready(task) -> None:
    """Put a failed task back to READY, so the next engine run runs it again."""
    task._set_state(TaskState.READY)


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
