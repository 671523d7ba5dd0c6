"""The one module that touches SpiffWorkflow's private task API.

SpiffWorkflow has no public way to run a failed task again, to read when a waiting timer
fires, or to tell a timer start event that our job found it due. These functions do it
with its underscore methods, so a SpiffWorkflow upgrade is checked here and nowhere else.

It also gives a step's workflow a faster walk of its task tree with SpiffWorkflow's answers
(`faster_walks`, at the end).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

from engine.run.prune import PRUNE_DEPTH, deeper_than, prune_finished

# Who is told when a timer fires. SpiffWorkflow fires timers inside an engine run (a timer already
# due when reached, or one found due by the refresh at the end of a run), where no job sees it: the
# step records each firing when it happens, before what it sets going.
_ON_TIMER_FIRED: ContextVar[Callable[[Any], None] | None] = ContextVar("on_timer_fired", default=None)
MAX_ENGINE_ROUNDS = 100


class reporting_timer_firings:  # noqa: N801 - used as the context manager it was (a class: no generator per step)
    """Call `callback(task)` for each timer that fires while inside."""

    __slots__ = ("callback", "token")

    def __init__(self, callback: Callable[[Any], None]) -> None:
        self.callback = callback

    def __enter__(self) -> None:
        self.token = _ON_TIMER_FIRED.set(self.callback)

    def __exit__(self, *_exc: object) -> None:
        _ON_TIMER_FIRED.reset(self.token)


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


# ---- the faster walk ------------------------------------------------------------------
# A faster walk of a workflow's task tree, with exactly SpiffWorkflow's answers.
#
# SpiffWorkflow walks the whole task tree again and again while it runs an instance: once per
# engine round (the ready tasks), once after every completed task (the waiting tasks). Its
# iterator pays for generality on every task (a list popped at its front, a depth counter
# updated through parent look-ups, a filter object with five tests); for a chain of ten
# service tasks the walks were most of SpiffWorkflow's own time.
#
# `faster_walks(workflow)` gives one workflow a depth-first walk that yields the same tasks
# in the same order, for the calls a step makes: `get_tasks` / `get_tasks_iterator` with the
# default order, and `update_waiting_tasks`. It falls back to SpiffWorkflow's iterator where
# the answers could differ: a breadth-first walk, a workflow with subprocesses (SpiffWorkflow
# descends into them and keeps its depth counter in its own way), or a tree large enough for
# SpiffWorkflow's depth limit (`max_depth`, 1000) to matter. Replay (engine/history) keeps
# SpiffWorkflow's own iterator, so every replayed instance cross-checks these walks.

SPIFF_MAX_DEPTH = 1000  # SpiffWorkflow's default `max_depth`
_STATE = attrgetter("_state")
_WALKED_KEYS = frozenset({"state", "updated_ts", "manual"})  # BpmnTaskFilter's fields a walk tests inline
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


def walked(start: Any, workflow: Any, state: int = TaskState.ANY_MASK, updated_ts: float = 0,
           manual: bool | None = None) -> list[Any]:
    """`list(walk(...))` with a filter of only `state`, `updated_ts` and `manual` (BpmnTaskFilter's), over
    a tree without subprocesses and shallower than SpiffWorkflow's depth limit: the same tasks in the same
    order, gathered in one loop (nothing runs between its steps, so nothing changes the tree meanwhile)."""
    min_state = _min_state(state)
    found: list[Any] = []
    stack = [start]
    pop, push, extend, get, keep = stack.pop, stack.append, stack.extend, workflow.tasks.get, found.append
    while stack:
        task = pop()
        children = task._children
        if children and task._state >= min_state:
            if len(children) == 1:
                push(get(children[0]))
            else:
                extend(map(get, reversed(children)))
        if task._state & state and task.last_state_change >= updated_ts and (
                manual is None or task.task_spec.manual == manual):
            keep(task)
    return found


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


# The filters of the walks by state alone (most of them: the engine's rounds ask for the ready tasks), each
# built once; a walk only reads its filter.
_STATE_FILTERS: dict[int, BpmnTaskFilter] = {}


def filter_of(kwargs: dict[str, Any]) -> BpmnTaskFilter:
    """BpmnTaskFilter(**kwargs), the one already built when only a state is asked for."""
    state = kwargs.get("state") if len(kwargs) == 1 else None
    if type(state) is not int:
        return BpmnTaskFilter(**kwargs)
    known = _STATE_FILTERS.get(state)
    if known is None:
        if len(_STATE_FILTERS) >= 256:
            _STATE_FILTERS.clear()
        known = _STATE_FILTERS[state] = BpmnTaskFilter(state=state)
    return known


def faster_walks(workflow: BpmnWorkflow) -> BpmnWorkflow:
    """Give `workflow` (a top-level BpmnWorkflow) the faster walk; its answers stay SpiffWorkflow's."""

    def get_tasks_iterator(first_task=None, end_at_spec=None, max_depth=SPIFF_MAX_DEPTH, depth_first=True,
                           skip_subprocesses=False, task_filter=None, **kwargs):
        start = first_task or workflow.task_tree
        if workflow.subprocesses or not depth_first or len(workflow.tasks) >= max_depth:
            return BpmnTaskIterator(start, end_at_spec, max_depth, depth_first, skip_subprocesses, task_filter,
                                    **kwargs)
        return walk(start, task_filter or filter_of(kwargs), end_at_spec, workflow, max_depth)

    def get_tasks(first_task=None, **kwargs):
        # Workflow.get_tasks (the list of get_tasks_iterator's tasks): the usual query, by state, `manual` or
        # update time over this workflow's tree, gathered directly.
        if kwargs.keys() <= _WALKED_KEYS and not workflow.subprocesses and len(workflow.tasks) < SPIFF_MAX_DEPTH:
            return walked(first_task or workflow.task_tree, workflow, **kwargs)
        return list(get_tasks_iterator(first_task, **kwargs))

    def update_waiting_tasks():
        # SpiffWorkflow's own walks only this workflow's tree (TaskIterator, no subprocesses); it yields
        # only tasks of `workflow.tasks`, so when none of them waits there is nothing to walk for.
        if not any(state & TaskState.WAITING for state in set(map(_STATE, workflow.tasks.values()))):
            return
        if len(workflow.tasks) >= SPIFF_MAX_DEPTH:
            waiting = TaskIterator(workflow.task_tree, state=TaskState.WAITING)
        else:
            waiting = walk(workflow.task_tree, WAITING, None, workflow)
        for task in waiting:
            task.task_spec._update(task)

    workflow.get_tasks_iterator = get_tasks_iterator
    workflow.get_tasks = get_tasks
    workflow.update_waiting_tasks = update_waiting_tasks
    return workflow


# ---- quieter state changes ------------------------------------------------------------
# SpiffWorkflow's Task._set_state builds a log message and its extras (a dict of the workflow's and
# task's names, ids and timestamps, the parent looked up, the state's name) on every state change and
# hands them to the `spiff.task` logger, which drops them unless INFO is enabled for it: about thirty
# times per instance of ten service tasks. A step's workflow (`quiet_state_changes`) changes its tasks'
# states the same way without building what would be dropped; any other workflow (replay, the bench's
# raw side) and any workflow while that logger is enabled for INFO go through SpiffWorkflow's own code.
QUIET_STATES = "tourflow_quiet_states"
_TASK_LOGGER = logging.getLogger("spiff.task")
_stock_set_state = Task._set_state


def _set_state(self: Task, value: int) -> None:
    if self.workflow.__dict__.get(QUIET_STATES) and not _TASK_LOGGER.isEnabledFor(logging.INFO):
        if value != self._state:  # SpiffWorkflow's change, less the log record nobody receives
            self.last_state_change = time.time()
            self._state = value
        return
    _stock_set_state(self, value)


if not getattr(Task._set_state, "tourflow_quiet", False):
    _set_state.tourflow_quiet = True  # type: ignore[attr-defined]
    Task._set_state = _set_state


def quiet_state_changes(workflow: BpmnWorkflow) -> BpmnWorkflow:
    """Let `workflow` (a step's) change its tasks' states without building log records nobody receives."""
    workflow.__dict__[QUIET_STATES] = True
    return workflow


# Likewise a workflow's own records ('Initialized workflow' when it is created, 'Workflow completed'): their extras
# (Workflow.collect_log_extras) list the id of every task, walked with SpiffWorkflow's iterator, whenever the
# `spiff.workflow` logger has no level of its own (`logger.level < 20`), even though the record is then dropped
# unless INFO is enabled. A workflow is created before a step can mark it, so the mark is on its spec: the specs of
# deployed versions (engine/run/catalog.py) are marked; the bench's raw side and any other spec are not.
# Such a workflow's tasks change their states quietly from its creation too: Workflow.__init__ asks for the extras
# of 'Initialized workflow' just before the first state change (its root's `_ready`), and is marked quiet there.
QUIET_SPEC = "tourflow_quiet_workflows"
_WORKFLOW_LOGGER = logging.getLogger("spiff.workflow")
_stock_log_extras = Workflow.collect_log_extras


def _log_extras(self: Workflow, dct: dict | None = None) -> dict:
    quiet = self.__dict__.get(QUIET_STATES)
    if not quiet and self.spec.__dict__.get(QUIET_SPEC):
        quiet = self.__dict__[QUIET_STATES] = True
    if quiet and not _WORKFLOW_LOGGER.isEnabledFor(logging.INFO):
        extra = dct or {}  # SpiffWorkflow's extras, less the list of task ids, for a record that is dropped
        extra.update({"workflow_spec": self.spec.name, "success": self.success, "completed": self.completed,
                      "root": self.task_tree.id})
        return extra
    return _stock_log_extras(self, dct)


if not getattr(Workflow.collect_log_extras, "tourflow_quiet", False):
    _log_extras.tourflow_quiet = True  # type: ignore[attr-defined]
    Workflow.collect_log_extras = _log_extras


def quiet_workflows_of(spec: Any, subprocess_specs: dict[str, Any]) -> None:
    """Workflows of `spec` (and of its subprocesses) build no log extras nobody receives, from their creation."""
    for each in (spec, *subprocess_specs.values()):
        each.__dict__[QUIET_SPEC] = True


__all__ = ["faster_walks", "fire_start_timer", "make_ready", "quiet_state_changes", "quiet_workflows_of",
           "restore_timer_values", "timer_due", "timer_values"]
