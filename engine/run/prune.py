"""Dropping finished loop iterations from a workflow's task tree.

SpiffWorkflow never forgets a task: each pass of a loop adds a new task for every node it runs, each
holding its own copy of the data, so a 300-pass loop stores ~900 tasks, every step loads, walks and
saves all of them, and past a depth of 1,000 the library's task walks stop looking (a workflow found
"complete" with a task still to run). History is the audit record's job, not the tree's.

What goes (`prune_finished`): the completed tasks above the cut point K, K being the deepest task
that every unfinished task descends from (the nearest completed one at or above it), together with
the finished side branches hanging off that path. The root is kept and K becomes its child. Such
tasks can no longer affect the run: nothing unfinished is below them except through K, they will
never run again, and what they passed on is in K's data. Except for joins: SpiffWorkflow's parallel
and inclusive gateways count every task of their node in the tree, old iterations' included, and
look for their inputs among the ancestors of what comes after them (how a join in a loop lets its
second pass through). So the cut stops above the first task of such a gateway or of one of its
inputs: a loop with a parallel or inclusive gateway inside keeps its iterations, exactly as before.
When the tree has no unfinished task or K is the root or its child, nothing goes.

Pruning is a function of the tree alone, applied at the same places on the live run and in the
replay (the end of every engine run, and during a run whenever a completed task lies deeper than
PRUNE_DEPTH), so both hold the same tasks. Diagram nodes whose tasks went are remembered in
`pruned_done` (stored with the workflow, engine/bpmn/codec.py) so the instance page still marks
them done.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.codec import PRUNED_DONE_ATTR

# A run prunes when a task it completes is this deep: deep enough that a step's ordinary tree is
# never cut mid-run, shallow enough that a long automatic loop never walks a deep tree.
PRUNE_DEPTH = 60
_DEAD = TaskState.COMPLETED | TaskState.CANCELLED


def pruned_done(workflow: BpmnWorkflow) -> set[str]:
    """BPMN ids of the completed tasks pruning removed (done, though no longer in the tree)."""
    return getattr(workflow, PRUNED_DONE_ATTR, None) or set()


def prune_finished(workflow: BpmnWorkflow) -> int:
    """Drop the finished tasks no unfinished task needs (see the module); returns how many went."""
    removed = _prune_tree(workflow, workflow)
    for key in list(workflow.subprocesses):
        subprocess = workflow.subprocesses.get(key)  # pruning an outer tree may have dropped it
        if subprocess is not None:
            removed += _prune_tree(subprocess, workflow)
    return removed


def deeper_than(task: Any, depth: int) -> bool:
    """Is `task` more than `depth` levels below its tree's root? (walks at most `depth` parents)"""
    if len(task.workflow.tasks) <= depth + 1:
        return False  # so deep a task has at least depth + 1 ancestors in its tree
    for _ in range(depth):
        task = task.parent
        if task is None:
            return False
    return task.parent is not None


def _cut_point(root: Any, tasks: dict) -> Any | None:
    """K (see the module), or None when nothing above it could go."""
    # The tasks themselves, not their ids: a Task hashes by identity (in C), a UUID in Python (~0.2 µs), and
    # a tree holds one task object per id.
    live: set = set()
    for task in tasks.values():
        if task.state & _DEAD:
            continue
        while task is not None and task not in live:  # it, and the ancestors leading to it
            live.add(task)
            task = task.parent
    if root not in live:
        return None
    node = root
    while node.state == TaskState.COMPLETED:
        leading = [child for child in node.children if child in live]
        if len(leading) != 1:
            break
        node = leading[0]
    while node is not root and node.state != TaskState.COMPLETED:
        node = node.parent
    if node is root or node.parent is root:
        return None
    return node


def _join_bookkeeping(task: Any) -> bool:
    """Does a join look at this task: a parallel or inclusive gateway (or the workflow's end join) looks at
    every task of its own node and, through their ancestors, at those of its inputs?"""
    spec = task.task_spec
    return isinstance(spec, UnstructuredJoin) or any(isinstance(out, UnstructuredJoin) for out in spec.outputs)


def _last_kept(root: Any, keep: Any) -> Any:
    """The task that becomes the root's child: `keep`, or higher up when the tasks above it include
    one a join looks at (those stay, with everything below them)."""
    path = [keep]
    while path[-1].parent is not root:
        path.append(path[-1].parent)
    path.reverse()  # root's child first
    for index, task in enumerate(path[:-1]):
        side = [child for child in task.children if child is not path[index + 1]]
        stack = [task, *side]
        while stack:
            current = stack.pop()
            if _join_bookkeeping(current):
                return task
            if current is not task:
                stack.extend(current.children)
    return keep


def _prune_tree(tree: Any, top: BpmnWorkflow) -> int:
    root = tree.task_tree
    keep = _cut_point(root, tree.tasks)
    if keep is None:
        return 0
    keep = _last_kept(root, keep)
    if keep.parent is root:
        return 0
    first = keep
    while first.parent is not root:
        first = first.parent
    done = getattr(top, PRUNED_DONE_ATTR, None)
    if done is None:
        done = set()
        setattr(top, PRUNED_DONE_ATTR, done)
    children = [keep if child is first else child for child in root.children]  # read while `first` is there
    removed = 0
    stack = [first]
    while stack:
        task = stack.pop()
        if task is keep:
            continue
        stack.extend(task.children)
        if task.state == TaskState.COMPLETED and task.task_spec.bpmn_id:
            done.add(task.task_spec.bpmn_id)
        if task.id in top.subprocesses:
            top.delete_subprocess(task)
        top.event_manager.remove_task(task)
        tree.tasks.pop(task.id, None)
        removed += 1
    keep.parent = root
    root.children = children
    return removed


__all__ = ["PRUNE_DEPTH", "deeper_than", "prune_finished", "pruned_done"]
