"""What a workflow waits for, catches and throws in messages: SpiffWorkflow's side of messaging.

Functions of one workflow, with no database: engine/run/messaging.py routes messages between
instances with them, a step takes out what its instance threw, and the replay feeds recorded
messages back in.
"""

from __future__ import annotations

import copy
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.clock import utcnow
from engine.run.spiff_tasks import timer_due


def catches_message(task, name: str) -> bool:
    """Whether a waiting task catches message `name`: a message event, a receive task, or an
    event-based gateway (SpiffWorkflow moves its events into one MultipleEventDefinition)."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return (any(isinstance(d, MessageEventDefinition) and d.name == name for d in definition.event_definitions)
                and not _timer_already_due(task, definition))
    return isinstance(definition, MessageEventDefinition) and definition.name == name


def _timer_already_due(task, definition: MultipleEventDefinition) -> bool:
    """An event-based gateway whose timer is due has in effect taken the timer's path, even if no
    worker has fired it yet: a message now would come second. (Given both at once, SpiffWorkflow
    would take both paths.) The message waits in the buffer instead, and the timer job fires."""
    if not any(isinstance(d, TimerEventDefinition) for d in definition.event_definitions):
        return False
    due = timer_due(task)
    # strictly past, as SpiffWorkflow fires a timer
    return due is not None and due < utcnow()


def deliver(workflow: BpmnWorkflow, name: str, payload: dict[str, Any]) -> None:
    """Merge the message's data into the catching event's data, then let it catch."""
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if catches_message(task, name):
            task.set_data(**copy.deepcopy(payload))
    workflow.event_manager.catch(BpmnEvent(MessageEventDefinition(name), payload=payload), internal=False)


def skip_plain_starts(workflow: BpmnWorkflow) -> None:
    """Before a new workflow runs on its start message: cancel its plain start events.

    A process with a plain and a message start event (P2: a plan by hand, a follow-up by message) is
    started by one of them. SpiffWorkflow lets the first start event to complete win, and a plain
    one completes at once, so without this a message start would also start the plain path."""
    for task in workflow.get_tasks(state=TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE):
        spec = task.task_spec
        if task.workflow is workflow and isinstance(spec, StartEvent) \
                and isinstance(spec.event_definition, NoneEventDefinition):
            task.cancel()


def waits_for(workflow: BpmnWorkflow, name: str) -> bool:
    return any(catches_message(task, name) for task in workflow.get_tasks(state=TaskState.WAITING))


def waited_names(workflow: BpmnWorkflow) -> set[str]:
    """The names of every message the workflow waits for now."""
    names = set()
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        inner = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
        names.update(d.name for d in inner if isinstance(d, MessageEventDefinition))
    return names


def thrown_messages(workflow: BpmnWorkflow) -> list[tuple[str, dict[str, Any]]]:
    """The messages the workflow threw and did not catch itself (taken out of it)."""
    found = []
    for event in workflow.get_events():
        if isinstance(event.event_definition, MessageEventDefinition):
            payload = event.payload if isinstance(event.payload, dict) else {"value": event.payload}
            found.append((event.event_definition.name, payload))
    return found


__all__ = ["catches_message", "deliver", "skip_plain_starts", "thrown_messages", "waited_names", "waits_for"]
