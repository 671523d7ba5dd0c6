"""An instance's data as the engine stores, compares and records it."""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState


def json_safe(value: Any) -> Any:
    """`value` as it reads back from JSON (what is stored and recorded)."""
    return json.loads(json.dumps(value, default=str))


def data_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two data snapshots: {key: [old, new]}; missing is null."""
    keys = set(old) | set(new)
    return {k: [old.get(k), new.get(k)] for k in sorted(keys) if old.get(k) != new.get(k)}


def current_data(wf: BpmnWorkflow) -> dict[str, Any]:
    """The instance's data now: the workflow's at its end, else the first ready or failed task's,
    else the most recently completed task's (what a cancelled instance had when it was stopped)."""
    if wf.completed and wf.success:
        return dict(wf.data)
    ready = wf.get_tasks(state=TaskState.READY | TaskState.ERROR)
    if ready:
        return dict(ready[0].data)
    done = wf.get_tasks(state=TaskState.COMPLETED)
    return dict(max(done, key=lambda t: t.last_state_change).data) if done else dict(wf.data)


__all__ = ["current_data", "data_diff", "json_safe"]
