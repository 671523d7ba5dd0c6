"""Where running instances wait: their open human tasks and pending timers, by node id. The draft
preview counts them on the nodes a new version changes; a migration picks instances by them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from engine.store.models import HumanTask, Job, ProcessInstance
from engine.store.states import FINISHED, HumanTaskState, JobKind, JobState


def running_of(deployment_id: int) -> Select[tuple[int]]:
    """The ids of a version's running instances."""
    return select(ProcessInstance.id).where(ProcessInstance.deployment_id == deployment_id,
                                            ProcessInstance.status.not_in(FINISHED))


def _open_tasks(*conditions: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    return [HumanTask.state == HumanTaskState.READY, *conditions]


def _pending_timers(*conditions: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    return [Job.kind == JobKind.TIMER, Job.state == JobState.PENDING, *conditions]


def waiting_at(nodes: Iterable[str]) -> ColumnElement[bool]:
    """A condition on ProcessInstance: it has an open task or a pending timer on one of `nodes`."""
    nodes = list(nodes)
    return or_(ProcessInstance.id.in_(select(HumanTask.instance_id).where(*_open_tasks(HumanTask.task.in_(nodes)))),
               ProcessInstance.id.in_(select(Job.instance_id).where(*_pending_timers(Job.task.in_(nodes)))))


def waiting_on(session: Session, deployment_id: int, nodes: list[str] | None) -> dict[str, int]:
    """How many running instances of a version wait on each of `nodes` (open tasks, pending timers);
    `nodes=None`: on every node where one waits."""
    if nodes is not None and not nodes:
        return {}
    running = running_of(deployment_id)
    task_nodes = [] if nodes is None else [HumanTask.task.in_(nodes)]
    timer_nodes = [] if nodes is None else [Job.task.in_(nodes)]
    counts: dict[str, int] = {}
    for node, n in session.execute(
            select(HumanTask.task, func.count(func.distinct(HumanTask.instance_id)))
            .where(HumanTask.instance_id.in_(running), *_open_tasks(*task_nodes)).group_by(HumanTask.task)).all():
        counts[node] = counts.get(node, 0) + n
    for node, n in session.execute(
            select(Job.task, func.count(func.distinct(Job.instance_id)))
            .where(Job.instance_id.in_(running), Job.task.is_not(None), *_pending_timers(*timer_nodes))
            .group_by(Job.task)).all():
        counts[node] = counts.get(node, 0) + n
    return dict(sorted(counts.items()))


__all__ = ["running_of", "waiting_at", "waiting_on"]
