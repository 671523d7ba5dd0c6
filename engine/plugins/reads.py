"""What a service-task handler may read of the engine's tables (HandlerContext's accessors).

Handlers read their own instance (who started it, when, its business key, who completed
which user task) and the agents' open work through this, never the engine's tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.store.audit import instance_stream
from engine.store.models import AuditEvent, HumanTask, ProcessInstance
from engine.store.records import InstanceRow, TaskRecord
from engine.store.states import HumanTaskState, InstanceStatus


class EngineReads:
    """Reads about instance `instance_id` in `session`; `instance` is its row when the caller holds it
    (a running step: then a business key set earlier in the step is seen); `closed`: the task rows the
    running step closed, by id, not written yet (a step's rows are records it writes at its end)."""

    def __init__(self, session: Session, instance_id: int, instance: InstanceRow | None = None,
                 closed: Mapping[int, TaskRecord] | None = None):
        self.session = session
        self.instance_id = instance_id
        self.instance = instance
        self.closed = closed

    def _row(self) -> InstanceRow | None:
        if self.instance is None:
            self.instance = self.session.get(ProcessInstance, self.instance_id)
        return self.instance

    @property
    def started_by(self) -> str | None:
        row = self._row()
        return row.started_by if row is not None else None

    @property
    def started_at(self) -> datetime:
        row = self._row()
        if row is None:
            raise LookupError(f"there is no instance {self.instance_id}")
        return row.started_at

    @property
    def business_key(self) -> str | None:
        row = self._row()
        return row.business_key if row is not None else None

    def completed_by(self, task_spec_id: str) -> str | None:
        done_here = [row for row in (self.closed or {}).values()
                     if row.task == task_spec_id and row.state == HumanTaskState.COMPLETED]
        if done_here:
            return max(done_here, key=lambda row: row.id).completed_by
        return self.session.execute(
            select(HumanTask.completed_by).where(HumanTask.instance_id == self.instance_id,
                                                 HumanTask.task == task_spec_id, HumanTask.state == HumanTaskState.COMPLETED)
            .order_by(HumanTask.id.desc()).limit(1)
        ).scalar_one_or_none()

    def step_completed_by(self, now: datetime) -> str | None:
        """The actor of the `task_completed` event the step at `now` appended, if it began with one (read
        from the end of the instance's stream)."""
        return self.session.execute(
            select(AuditEvent.actor).where(AuditEvent.stream == instance_stream(self.instance_id),
                                           AuditEvent.kind == "task_completed", AuditEvent.at == now)
            .order_by(AuditEvent.seq.desc()).limit(1)
        ).scalar_one_or_none()

    def open_instances_by_assignee(self, process_id: str, usernames: Iterable[str]) -> dict[str, int]:
        names = list(usernames)
        if not names:
            return {}
        rows = self.session.execute(
            select(HumanTask.assignee, func.count(func.distinct(HumanTask.instance_id)))
            .where(HumanTask.state == HumanTaskState.READY, HumanTask.process_id == process_id,
                   HumanTask.assignee.in_(names), HumanTask.instance_id != self.instance_id)
            .group_by(HumanTask.assignee)
        ).all()
        loads = dict.fromkeys(names, 0)
        loads.update({name: count for name, count in rows})
        return loads

    def running_instance_data(self, process_id: str, key: str, value: str) -> dict[str, Any] | None:
        """The data of the newest running instance of `process_id` whose data `key` is `value`
        (e.g. the tour_operation instance of a tour id), or None."""
        return self.session.execute(
            select(ProcessInstance.data).where(ProcessInstance.process_id == process_id,
                                               ProcessInstance.status == InstanceStatus.RUNNING,
                                               ProcessInstance.data[key].as_string() == value)
            .order_by(ProcessInstance.id.desc()).limit(1)
        ).scalar_one_or_none()
