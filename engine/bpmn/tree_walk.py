"""A faster walk of a workflow's task tree, with exactly SpiffWorkflow's answers.

SpiffWorkflow walks the whole task tree again and again while it runs an instance: once per
engine round (the ready tasks), once after every completed task (the waiting tasks). Its
iterator pays for generality on every task (a list popped at its front, a depth counter
updated through parent look-ups, a filter object with five tests); for a chain of ten
service tasks the walks were most of SpiffWorkflow's own time.

`faster_walks(workflow)` gives one workflow a depth-first walk that yields the same tasks
in the same order, for the calls a step makes: `get_tasks` / `get_tasks_iterator` with the
default order, and `update_waiting_tasks`. It falls back to SpiffWorkflow's iterator where
the answers could differ: a breadth-first walk, a workflow with subprocesses (SpiffWorkflow
descends into them and keeps its depth counter in its own way), or a tree large enough for
SpiffWorkflow's depth limit (`max_depth`, 1000) to matter. Replay (engine/history) keeps
SpiffWorkflow's own iterator, so every replayed instance cross-checks these walks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState

SPIFF_MAX_DEPTH = 1000  # SpiffWorkflow's default `max_depth`
WAITING = TaskFilter(state=TaskState.WAITING)


def _plain(task_filter: TaskFilter) -> bool:
    """Does the filter test only state, update time and `manual` (tested inline below)?"""
    kind = type(task_filter)
    if kind is BpmnTaskFilter:
        if task_filter.catches_event is not None or task_filter.lane is not None:
            return False
    elif kind is not TaskFilter:
        return False
    return task_filter.spec_name is None and task_filter.spec_class is None


def _min_state(state: int) -> int:
    """Below which state SpiffWorkflow does not descend (TaskIterator.__init__)."""
    if state & TaskState.PREDICTED_MASK:
        return TaskState.MAYBE
    if state & TaskState.DEFINITE_MASK:
        return TaskState.FUTURE
    return TaskState.COMPLETED


def walk(start: Any, task_filter: TaskFilter, end_at_spec: str | None, workflow: Any,
         bpmn_max_depth: int | None = None) -> Iterator[Any]:
    """SpiffWorkflow's depth-first TaskIterator over a tree without subprocesses and shallower than
    its depth limit: a task's children are read when the task is reached (before it is yielded),
    as SpiffWorkflow does, so a caller that changes the tree while iterating sees the same tasks.

    `bpmn_max_depth` (a BpmnTaskIterator's walk): should a subprocess appear while iterating (the
    caller ran a task between two), SpiffWorkflow's iterator takes over from where this one stands."""
    state = task_filter.state
    min_state = _min_state(state)
    plain = _plain(task_filter)
    updated_ts, manual, matches = task_filter.updated_ts, task_filter.manual, task_filter.matches
    tasks = workflow.tasks
    subprocesses = workflow.subprocesses if bpmn_max_depth is not None else None
    stack = [start]
    pop, push, extend, get = stack.pop, stack.append, stack.extend, tasks.get
    while stack:
        task = pop()
        if subprocesses:
            yield from _spiff_from([task, *reversed(stack)], start, task_filter, end_at_spec, bpmn_max_depth)
            return
        children = task._children
        if children and task._state >= min_state and (end_at_spec is None or task.task_spec.name != end_at_spec):
            if len(children) == 1:
                push(get(children[0]))
            else:
                extend(map(get, reversed(children)))
        if plain:
            if task._state & state and task.last_state_change >= updated_ts and (
                    manual is None or task.task_spec.manual == manual):
                yield task
        elif matches(task):
            yield task


def _spiff_from(pending: list[Any], start: Any, task_filter: TaskFilter, end_at_spec: str | None,
                max_depth: int) -> Iterator[Any]:
    """SpiffWorkflow's iterator in the state it would be in with `pending` left to visit: its depth
    counter is the next task's depth below `start` (no subprocess was visited before)."""
    iterator = BpmnTaskIterator(start, end_at_spec, max_depth, True, False, task_filter)
    iterator.task_list = pending
    depth, task = 0, pending[0]
    while task is not start and task is not None:
        task, depth = task.parent, depth + 1
    iterator.depth = depth
    return iterator


def faster_walks(workflow: BpmnWorkflow) -> BpmnWorkflow:
    """Give `workflow` (a top-level BpmnWorkflow) the faster walk; its answers stay SpiffWorkflow's."""

    def get_tasks_iterator(first_task=None, end_at_spec=None, max_depth=SPIFF_MAX_DEPTH, depth_first=True,
                           skip_subprocesses=False, task_filter=None, **kwargs):
        start = first_task or workflow.task_tree
        if workflow.subprocesses or not depth_first or len(workflow.tasks) >= max_depth:
            return BpmnTaskIterator(start, end_at_spec, max_depth, depth_first, skip_subprocesses, task_filter,
                                    **kwargs)
        return walk(start, task_filter or BpmnTaskFilter(**kwargs), end_at_spec, workflow, max_depth)

    def update_waiting_tasks():
        # SpiffWorkflow's own walks only this workflow's tree (TaskIterator, no subprocesses).
        if len(workflow.tasks) >= SPIFF_MAX_DEPTH:
            waiting = TaskIterator(workflow.task_tree, state=TaskState.WAITING)
        else:
            waiting = walk(workflow.task_tree, WAITING, None, workflow)
        for task in waiting:
            task.task_spec._update(task)

    workflow.get_tasks_iterator = get_tasks_iterator
    workflow.update_waiting_tasks = update_waiting_tasks
    return workflow


__all__ = ["faster_walks", "walk"]
