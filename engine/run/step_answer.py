"""What a step answers from its own write transaction, so that its caller needs no read transaction
after it: the instance's summary, its ready tasks, its forms (for masking) and whether the viewer sees
its personal data. The start (`start_answered`) and the completion (`complete_answered`) answer alike.

The ready tasks are the rows the step's write-back holds (`Step.open_rows`): what it just wrote, so
nothing is read again."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from engine.access import policy
from engine.access.policy import Viewer
from engine.run.catalog import Deployed
from engine.run.instance_access import may_see_personal_data
from engine.run.queries import instance_task_dict
from engine.run.rows import instance_dict
from engine.store.records import InstanceRow, TaskRow
from engine.store.states import HumanTaskState


def step_answer(session: Session, instance: InstanceRow, deployed: Deployed, open_rows: Iterable[TaskRow] | None,
                viewer: Viewer | None, known_task: policy.TaskLike | None = None, workable_only: bool = False
                ) -> dict[str, Any]:
    """`instance`'s summary, its version's `process_name`, its ready tasks (oldest first; `workable_only`:
    those `viewer` may complete now, policy.task_actions: the inbox's rule), `forms` and
    `personal_data_shown` (`viewer` None: a trusted caller, shown)."""
    ready = sorted((r for r in open_rows or () if r.state == HumanTaskState.READY), key=lambda r: r.id)
    if workable_only:
        ready = [r for r in ready if viewer is not None and policy.task_actions(viewer, r, r.state)["complete"]]
    return {"instance": instance_dict(instance, deployed.version), "process_name": deployed.model.name,
            "open_tasks": [instance_task_dict(r) for r in ready],
            "forms": deployed.forms,
            "personal_data_shown": viewer is None or may_see_personal_data(
                session, viewer, instance.id, known_task, started_by=instance.started_by)}


__all__ = ["step_answer"]
