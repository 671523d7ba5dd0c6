"""Checks the workflow codec's fast path (engine/bpmn/fast_codec.py) against SpiffWorkflow's serializer.

`checking_codec()` makes every `WorkflowCodec.dumps` compare its text with the stock serializer's (byte
for byte) and every `loads` compare the workflow it builds with the stock one (each task's fields in
order, its data with types, which data containers are shared between tasks, the waiting events), and
dumps it again to the stock workflow's text. Every workflow a step takes from those kept between steps
(engine/run/live_workflows.py) is compared with the one its text loads to, the order of data keys and the
sharing of nested containers aside (`assert_same_workflow(..., ordered=False)`).

As a pytest plugin it checks every codec call and every kept workflow taken in a whole run:

    .venv/bin/python -m pytest -p tests.support.codec_check tests/test_tour_operation.py ...
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.task import Task

from engine.bpmn.codec import PRUNED_DONE_ATTR, WorkflowCodec
from engine.bpmn.fast_codec import Unusual
from engine.run.live_workflows import LiveWorkflows
from engine.run.spiff_tasks import QUIET_STATES, faster_walks, quiet_state_changes

COUNTS: Counter[str] = Counter()
_CODEC = WorkflowCodec()
_REGISTRY = _CODEC.serializer.registry  # objects SpiffWorkflow converts (events, ...) compared as dicts


def typed(value: Any, ordered: bool = True) -> Any:
    """`value` with the type of every part beside it: 1, 1.0 and True compare unequal; `ordered`: a dict's
    keys in their order, else sorted."""
    if type(value) in _REGISTRY.typenames:
        return (type(value).__name__, typed(_REGISTRY.convert(value), ordered))
    if isinstance(value, dict):
        items = [(typed(k, ordered), typed(v, ordered)) for k, v in value.items()]
        return ("dict", type(value).__name__, items if ordered else sorted(items, key=repr))
    if isinstance(value, list | tuple | set):
        items = sorted(value, key=repr) if isinstance(value, set) else value
        return (type(value).__name__, [typed(v, ordered) for v in items])
    return (type(value).__name__, value)


def sharing(workflow) -> list[int]:
    """Which data containers the workflow's tasks share: each container numbered where first met."""
    seen: dict[int, int] = {}
    order: list[int] = []
    keep: list[Any] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict | list | set):
            number = seen.setdefault(id(value), len(seen))
            order.append(number)
            keep.append(value)
            if number == len(seen) - 1:
                for item in value.values() if isinstance(value, dict) else value:
                    visit(item)

    for wf in [workflow, *workflow.subprocesses.values()]:
        visit(wf.data)
        for task in wf.tasks.values():
            visit(task.data)
            visit(task.internal_data)
    return order


def _task_fields(task: Task, workflow, ordered: bool = True) -> list:
    assert type(task) is Task and task.workflow is workflow
    fields = []
    for name, value in vars(task).items():
        if name == "workflow":
            continue
        if name == "task_spec":
            fields.append((name, id(value)))
        else:
            fields.append((name, typed(value, ordered)))
    return fields


def _workflow_fields(workflow, ordered: bool = True) -> list:
    keys = [k for k in vars(workflow) if "script_engine" not in k and k != QUIET_STATES]  # (a log's mark)
    fields = [("keys", keys if ordered else sorted(keys))]
    for name in ("success", "completed", "correlations", "data"):
        fields.append((name, typed(getattr(workflow, name), ordered)))
    fields.append(("spec", id(workflow.spec)))
    fields.append(("last_task", None if workflow.last_task is None else str(workflow.last_task.id)))
    fields.append(("root", str(workflow.task_tree.id)))
    fields.append(("tasks", [(str(k), _task_fields(t, workflow, ordered)) for k, t in workflow.tasks.items()]))
    return fields


def _assert_same_fields(fast, stock, ordered: bool = True) -> None:
    ours, theirs = _workflow_fields(fast, ordered), _workflow_fields(stock, ordered)
    if ours == theirs:
        return
    for (name, mine), (_, stocks) in zip(ours, theirs, strict=True):
        if name == "tasks" and mine != stocks:
            for (key, fields), (other_key, stock_fields) in zip(mine, stocks, strict=False):
                differing = [(a, b) for a, b in zip(fields, stock_fields, strict=False) if a != b]
                assert (key, differing) == (other_key, []), f"task {key} differs: {differing}"
        assert mine == stocks, f"workflow field {name}: {mine} != {stocks}"
    raise AssertionError("the workflows differ")


def assert_same_workflow(fast, stock, codec: WorkflowCodec, ordered: bool = True) -> None:
    """`ordered`: the workflows' attributes, the keys of their data and which data containers they share are
    the same too (not so for a workflow a step kept and the one its text loads to: SpiffWorkflow loads a
    task's data as its parent's keys, then its own)."""
    assert type(fast) is type(stock)
    _assert_same_fields(fast, stock, ordered)
    assert [str(k) for k in fast.subprocesses] == [str(k) for k in stock.subprocesses]
    for key, sub in stock.subprocesses.items():
        other = fast.subprocesses[key]
        _assert_same_fields(other, sub, ordered)
        assert (str(other.parent_task_id), other.depth) == (str(sub.parent_task_id), sub.depth)
        assert other.top_workflow is fast
        assert other.completed_event.n_subscribers() == sub.completed_event.n_subscribers()
    assert [(k, id(v)) for k, v in fast.subprocess_specs.items()] == [
        (k, id(v)) for k, v in stock.subprocess_specs.items()]
    assert list(map(str, fast.event_manager.tasks)) == list(map(str, stock.event_manager.tasks))
    assert getattr(fast, PRUNED_DONE_ATTR, None) == getattr(stock, PRUNED_DONE_ATTR, None)
    events = codec.serializer.registry.convert  # outside a dumps: each event to dicts all the way down
    assert [events(e) for e in fast.bpmn_events] == [events(e) for e in stock.bpmn_events]
    if ordered:  # (a kept workflow may still share a nested container between tasks where SpiffWorkflow's
        # shallow copies left it, e.g. a subprocess's data and its end event's; a loaded one never does. Nothing
        # changes nested data in place: scripts hand back new data from the sandbox, the engine copies.)
        assert sharing(fast) == sharing(stock)


def check_dumps(codec: WorkflowCodec, workflow) -> str:
    """The fast text, after checking it is the stock serializer's (`Unusual` counted, not an error)."""
    stock = codec.stock_dumps(workflow)
    try:
        text = codec.fast.dumps(workflow)
    except Unusual:
        COUNTS["dumps handed to SpiffWorkflow"] += 1
        return stock
    assert text == stock, "the fast codec's text differs from SpiffWorkflow's serializer's"
    COUNTS["dumps checked"] += 1
    COUNTS["with subprocesses"] += bool(workflow.subprocesses)
    return text


def check_loads(codec: WorkflowCodec, text: str, model):
    stock = codec.stock_loads(text, model)
    try:
        fast = codec.fast.loads(text, model)
    except Unusual:
        COUNTS["loads handed to SpiffWorkflow"] += 1
        return stock
    assert_same_workflow(fast, stock, codec)
    # SpiffWorkflow's own round trip may reorder data keys (a loaded task's data is its parent's keys, then
    # its updates): the fast workflow must dump to what the stock one dumps to, and both to the same text.
    again = codec.stock_dumps(fast)
    assert again == codec.stock_dumps(stock) == check_dumps(codec, fast)
    COUNTS["loads dumped to the same text"] += again == text
    COUNTS["loads checked"] += 1
    COUNTS["with waiting events"] += bool(fast.event_manager.tasks)
    return fast


_TAKE = LiveWorkflows.take


def check_take(live: LiveWorkflows, instance_id: int, text: str, model):
    """A workflow kept between steps (engine/run/live_workflows.py), after checking it is the workflow its
    text loads to (the load checked as `check_loads` checks it)."""
    workflow = _TAKE(live, instance_id, text, model)
    if workflow is not None:
        loaded = quiet_state_changes(faster_walks(check_loads(_CODEC, text, model)))  # as a step gives it
        assert_same_workflow(workflow, loaded, _CODEC, ordered=False)
        COUNTS["kept workflows checked"] += 1
    return workflow


@contextlib.contextmanager
def checking_codec() -> Iterator[Counter[str]]:
    """Every WorkflowCodec's dumps and loads checked while inside, and every workflow a step takes from those
    kept between steps; yields the counts of this block."""
    real = WorkflowCodec.dumps, WorkflowCodec.loads
    before = COUNTS.copy()
    WorkflowCodec.dumps = check_dumps  # type: ignore[method-assign]
    WorkflowCodec.loads = check_loads  # type: ignore[method-assign]
    LiveWorkflows.take = check_take  # type: ignore[method-assign]
    counts: Counter[str] = Counter()
    try:
        yield counts
    finally:
        WorkflowCodec.dumps, WorkflowCodec.loads = real  # type: ignore[method-assign]
        LiveWorkflows.take = _TAKE  # type: ignore[method-assign]
        counts.update(COUNTS - before)


# ---- as a pytest plugin (-p tests.support.codec_check) ----------------------------------------

_SESSION: list[contextlib.AbstractContextManager] = []


def pytest_configure(config) -> None:
    manager = checking_codec()
    manager.__enter__()
    _SESSION.append(manager)


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(f"workflow codec checks: {dict(COUNTS)}")


def pytest_unconfigure(config) -> None:
    while _SESSION:
        _SESSION.pop().__exit__(None, None, None)
