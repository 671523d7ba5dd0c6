"""Moving a running instance to another version of its process.

Nodes keep their place by id: a task waiting at `review` in version 1 waits at `review` in version
2. A waiting node the new version renamed or removed needs a mapping (`{"old_id": "new_id"}`, the
same kind of node); without one, or when the instance already passed a node the new version does
not have, the move is refused and the reason names the node. Waiting tasks are re-read from the
new version (lane, form, what comes after them); a timer that did not change keeps its due time.

The same function runs in the live engine and in replay (engine/history/replayer.py), so a migrated
instance replays identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.codec import PRUNED_DONE_ATTR
from engine.bpmn.specs import ProcessModel
from engine.errors import TaskConflict
from engine.run.prune import pruned_done
from engine.run.spiff_tasks import restore_timer_values, timer_values

WAITING = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
PREDICTED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE
# SpiffWorkflow's own specs around a node with boundary events are named after the node.
DERIVED_SUFFIXES = (".BoundaryEventSplit", ".BoundaryEventJoin")


class MigrationRefused(TaskConflict):
    """The instance cannot move to that version as asked; the message says which node and why."""


@dataclass
class MigrationResult:
    # nodes whose id changed: {"from", "to", "name", "state": "waiting" or "passed"}
    moved: list[dict[str, Any]] = field(default_factory=list)


def check_mapping(old: ProcessModel, new: ProcessModel, mapping: dict[str, str]) -> None:
    """Every mapping names a node of the old version and a node of the same kind in the new one."""
    old_specs, new_specs = _all_specs(old), _all_specs(new)
    for source, target in mapping.items():
        if source not in old_specs:
            raise MigrationRefused(f"mapping {source} → {target}: the instance's version has no node {source!r}",
                                   key="migration.no_source", params={"source": source, "target": target})
        if target not in new_specs:
            raise MigrationRefused(f"mapping {source} → {target}: the target version has no node {target!r}",
                                   key="migration.no_target", params={"source": source, "target": target})
        kinds = type(old_specs[source]).__name__, type(new_specs[target]).__name__
        if kinds[0] != kinds[1]:
            raise MigrationRefused(f"mapping {source} → {target}: a {kinds[0]} cannot become a {kinds[1]}",
                                   key="migration.kind_change", params={"source": source, "target": target})


def node_ids(model: ProcessModel) -> set[str]:
    """Every node id of a version, its subprocesses' included."""
    return set(_all_specs(model))


def _all_specs(model: ProcessModel) -> dict[str, Any]:
    specs = dict(model.spec.task_specs)
    for sub in model.subprocess_specs.values():
        specs.update(sub.task_specs)
    return specs


def _diff(registry, old_spec, new_spec, mapping: dict[str, str]) -> SpecDiff:
    diff = SpecDiff(registry, old_spec, new_spec)
    # SpiffWorkflow also aligns a node it cannot find by id with one in the same place; keep that
    # only between nodes of the same kind (never a start event read as a script task).
    for old_task_spec, new_task_spec in list(diff.alignment.items()):
        if new_task_spec is not None and type(old_task_spec) is not type(new_task_spec):
            diff.alignment[old_task_spec] = None
            diff.comparisons.pop(old_task_spec, None)
            diff.added.append(new_task_spec)
    for source, target in mapping.items():
        for suffix in ("", *DERIVED_SUFFIXES):
            old_task_spec = old_spec.task_specs.get(source + suffix)
            new_task_spec = new_spec.task_specs.get(target + suffix)
            if old_task_spec is not None and new_task_spec is not None:
                diff.alignment[old_task_spec] = new_task_spec
                diff.comparisons[old_task_spec] = ["mapped"]
                if new_task_spec in diff.added:
                    diff.added.remove(new_task_spec)
    return diff


def _problems(workflow, diff: WorkflowDiff, names: dict[str, str]) -> list[str]:
    found = []
    for task in diff.removed:
        if task.state & PREDICTED or not task.task_spec.bpmn_id:
            continue  # predicted tasks are predicted again; SpiffWorkflow's own specs follow their node
        node = task.task_spec.bpmn_id
        label = f"{names.get(node, node)} ({node})"
        if task.state & WAITING:
            found.append(f"it waits at {label}, which the target version does not have: map it to a node")
        else:
            found.append(_passed_problem(label))
    return found


def _passed_problem(label: str) -> str:
    return f"it passed {label}, which the target version does not have: map it to the node that replaces it"


def migrate(workflow: BpmnWorkflow, old: ProcessModel, new: ProcessModel, mapping: dict[str, str],
            registry) -> MigrationResult:
    """Move `workflow` (of version `old`) onto `new`, in place; MigrationRefused leaves it as it was
    only if the caller drops it (the engine's transaction is rolled back)."""
    check_mapping(old, new, mapping)
    top = WorkflowDiff(workflow, _diff(registry, workflow.spec, new.spec, mapping))
    subs: dict[Any, tuple[WorkflowDiff, Any]] = {}
    problems = _problems(workflow, top, old.node_names)
    # Nodes passed in iterations pruned from the tree (engine/run/prune.py) were passed all the same.
    passed = pruned_done(workflow)
    targets = node_ids(new)
    problems.extend(_passed_problem(f"{old.node_names.get(node, node)} ({node})")
                    for node in sorted(passed) if node not in targets and node not in mapping)
    for sp_id, sub in workflow.subprocesses.items():
        target = new.subprocess_specs.get(sub.spec.name)
        if target is None:
            if not sub.is_completed():
                problems.append(f"its subprocess {sub.spec.name!r} is not in the target version")
            continue
        sub_diff = WorkflowDiff(sub, _diff(registry, sub.spec, target, mapping))
        problems.extend(_problems(sub, sub_diff, old.node_names))
        subs[sp_id] = (sub_diff, target)
    if problems:
        raise MigrationRefused("; ".join(dict.fromkeys(problems)), key="migration.problems",
                               params={"count": len(dict.fromkeys(problems))})
    result = MigrationResult()
    before = {task.id: task.task_spec.bpmn_id for task in workflow.get_tasks()
              if task.task_spec.bpmn_id and not task.state & PREDICTED}
    kept_timers = timer_values(workflow, unchanged=_unchanged_specs(top, subs))
    migrate_workflow(top, workflow, new.spec, reset_mask=TaskState.READY | TaskState.WAITING)
    for sp_id, (sub_diff, target) in subs.items():
        sub = workflow.subprocesses[sp_id]
        migrate_workflow(sub_diff, sub, target, reset_mask=TaskState.READY | TaskState.WAITING)
    workflow.subprocess_specs = new.subprocess_specs
    restore_timer_values(workflow, kept_timers)
    stale = sorted({t.task_spec.name for t in workflow.get_tasks() if t.task_spec not in _live_specs(workflow, t)})
    if stale:
        raise MigrationRefused(f"after the move, tasks would still point at nodes the target version does not "
                               f"have: {', '.join(stale)}", key="migration.stale", params={"nodes": ", ".join(stale)})
    seen: set[tuple[str, str]] = set()
    for task in workflow.get_tasks():
        old_id = before.get(task.id)
        if old_id and task.task_spec.bpmn_id != old_id and (old_id, task.task_spec.bpmn_id) not in seen:
            seen.add((old_id, task.task_spec.bpmn_id))
            result.moved.append({"from": old_id, "to": task.task_spec.bpmn_id,
                                 "name": new.node_names.get(task.task_spec.bpmn_id, task.task_spec.bpmn_id),
                                 "state": "waiting" if task.state & WAITING else "passed"})
    if passed:
        setattr(workflow, PRUNED_DONE_ATTR, {mapping.get(node, node) for node in passed})
        for node in sorted(passed):
            if mapping.get(node, node) != node and (node, mapping[node]) not in seen:
                seen.add((node, mapping[node]))
                result.moved.append({"from": node, "to": mapping[node], "name": new.node_names.get(mapping[node],
                                                                                                    mapping[node]),
                                     "state": "passed"})
    return result


def _unchanged_specs(top: WorkflowDiff, subs: dict[Any, tuple[WorkflowDiff, Any]]) -> set[str]:
    """Names of waiting task specs whose definition (their timer included) did not change."""
    unchanged = set()
    for diff in (top, *(d for d, _ in subs.values())):
        for task, new_spec in diff.alignment.items():
            if new_spec is not None and task not in diff.changed and task.task_spec.name == new_spec.name:
                unchanged.add(new_spec.name)
    return unchanged


def _live_specs(workflow: BpmnWorkflow, task) -> dict:
    owner = task.workflow
    return owner.spec.task_specs.values() if owner is not None else workflow.spec.task_specs.values()


__all__ = ["MigrationRefused", "MigrationResult", "check_mapping", "migrate"]
