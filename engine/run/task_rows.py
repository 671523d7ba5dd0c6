"""The human_task row a step writes for a user task that became ready: a plain record (engine/store/records.py)."""

from __future__ import annotations

from datetime import datetime

from engine.bpmn.specs import ProcessModel
from engine.run.due_dates import default_due
from engine.run.task_search import search_text
from engine.run.workflow_data import json_safe
from engine.store.records import TaskRecord
from engine.store.states import HumanTaskState


def new_task_row(model: ProcessModel, instance_id: int, spiff_id: str, task, due: dict[str, datetime],
                 now: datetime, script_engine) -> TaskRecord:
    """The row of a ready user task: its lane, form, assignee, due date (`due`: the earliest timer
    attached to each task, else its dueIn, its lane's laneDueIn or the setting), summary and search text."""
    bpmn_id = task.task_spec.bpmn_id
    info = model.user_tasks.get(bpmn_id)
    lane = (info.lane if info else None) or model.node_lanes.get(bpmn_id)
    return TaskRecord(
        instance_id=instance_id,
        spiff_task_id=spiff_id,
        process_id=model.process_id,
        routing=model.routing_of(task.data),
        task=bpmn_id,
        name=info.name if info else (task.task_spec.bpmn_name or bpmn_id),
        lane=lane or "system",
        state=HumanTaskState.READY,
        form_ref=info.form_ref if info else None,
        assignee=_assignee(info, task, script_engine),
        due_at=due.get(bpmn_id) or default_due(model, bpmn_id, lane, now)[0],
        created_at=now,
        summary=json_safe({k: task.data[k] for k in model.summary_keys if k in task.data}),
        search_text=search_text(task.data, model.summary_keys),
    )


def _assignee(info, task, script_engine) -> str | None:
    """A task whose diagram names its assignee (property assigneeExpression) is pre-claimed."""
    if info is None or not info.assignee_expression:
        return None
    try:
        value = script_engine.environment.evaluate(info.assignee_expression, dict(task.data))
    except Exception:  # noqa: BLE001 - no assignee: the task goes to the whole lane
        return None
    return str(value) if value else None


__all__ = ["new_task_row"]
