"""An instance's data as the engine stores, compares and records it, and the one walk over its
task tree that a step's write-back needs."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.sandbox.plain import plain_copy

# Walks a step made, by kind ("tree": whole-tree passes of the write-back; "timers": waiting tasks
# inspected for timers; "messages": waiting tasks inspected for messages). Tests read the deltas.
WALKS: Counter[str] = Counter()


@dataclass
class TreeFacts:
    """What one pass over a workflow's tasks found, in the tree's order."""

    ready_manual: list[Any] = field(default_factory=list)  # READY human tasks
    waiting: list[Any] = field(default_factory=list)  # WAITING tasks (timers, messages)
    first_ready_or_error: Any = None
    latest_completed: Any = None  # the most recently completed (the first of equals)


def walk_tree(wf: BpmnWorkflow) -> TreeFacts:
    """One pass over every task, collecting what the human-task sync, the timer jobs and the
    current data need (each used to walk the tree on its own)."""
    WALKS["tree"] += 1
    facts = TreeFacts()
    for task in wf.get_tasks():
        state = task.state
        if state == TaskState.READY:
            if task.task_spec.manual:
                facts.ready_manual.append(task)
            if facts.first_ready_or_error is None:
                facts.first_ready_or_error = task
        elif state == TaskState.WAITING:
            facts.waiting.append(task)
        elif state == TaskState.ERROR:
            if facts.first_ready_or_error is None:
                facts.first_ready_or_error = task
        elif state == TaskState.COMPLETED:
            latest = facts.latest_completed
            if latest is None or task.last_state_change > latest.last_state_change:
                facts.latest_completed = task
    return facts


def json_safe(value: Any) -> Any:
    """`value` as it reads back from JSON (what is stored and recorded): for plain data (nearly always) its
    copy, made without writing the JSON (engine/sandbox/plain.py), else the JSON round trip."""
    copied = plain_copy(value)
    return copied[0] if copied is not None else json.loads(json.dumps(value, default=str))


def data_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two data snapshots: {key: [old, new]}; missing is null."""
    keys = set(old) | set(new)
    return {k: [old.get(k), new.get(k)] for k in sorted(keys) if old.get(k) != new.get(k)}


def current_data(wf: BpmnWorkflow, facts: TreeFacts | None = None) -> dict[str, Any]:
    """The instance's data now: the workflow's at its end, else the first ready or failed task's,
    else the most recently completed task's (what a cancelled instance had when it was stopped).
    `facts`: the tree's walk, when the caller has one."""
    if wf.completed and wf.success:
        return dict(wf.data)
    if facts is None:
        ready = wf.get_tasks(state=TaskState.READY | TaskState.ERROR)
        if ready:
            return dict(ready[0].data)
        done = wf.get_tasks(state=TaskState.COMPLETED)
        return dict(max(done, key=lambda t: t.last_state_change).data) if done else dict(wf.data)
    if facts.first_ready_or_error is not None:
        return dict(facts.first_ready_or_error.data)
    return dict(facts.latest_completed.data) if facts.latest_completed is not None else dict(wf.data)


__all__ = ["WALKS", "TreeFacts", "current_data", "data_diff", "json_safe", "walk_tree"]
