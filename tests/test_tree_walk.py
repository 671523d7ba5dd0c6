"""The faster task-tree walk (engine/run/spiff_tasks.py `faster_walks`) answers exactly what SpiffWorkflow's iterator does.

Every workflow here runs twice in lockstep, with SpiffWorkflow's walks and with the faster ones, and
each walk of the faster side is compared with SpiffWorkflow's iterator on the same tree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter, BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.bench.core import BENCH_DIR, RawScriptEngine
from engine.clock import frozen_at, install_timer_patch
from engine.run import spiff_tasks
from engine.run.spiff_tasks import faster_walks

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASES = [  # (file, process id, data at the start)
    (BENCH_DIR / "bench_service_chain.bpmn", "bench_service_chain", {}),
    (BENCH_DIR / "bench_loop_auto.bpmn", "bench_loop_auto", {"passes": 40, "counter": 0}),
    (FIXTURES / "bpmn/thirdparty/bpmnio/parallel_tasks.bpmn", None, {}),
]

NOW = datetime(2026, 6, 1, tzinfo=UTC)  # the frozen moment of the waiting-timer test


def _workflow(path: Path, process_id: str | None, data: dict) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(path)])
    process_id = process_id or parser.get_process_ids()[0]
    engine = RawScriptEngine() if "service" in process_id or "timer" in process_id else PythonScriptEngine()
    workflow = BpmnWorkflow(parser.get_spec(process_id), parser.get_subprocess_specs(process_id),
                            script_engine=engine)
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    return workflow


def _shape(workflow: BpmnWorkflow) -> list[tuple[str, str, dict]]:
    return [(t.task_spec.name, TaskState.get_name(t.state), t.data) for t in TaskIterator(workflow.task_tree)]


@pytest.fixture
def compared(monkeypatch) -> list[int]:
    """Each faster walk is checked against SpiffWorkflow's own iterator; the list counts them."""
    real_walk, seen = spiff_tasks.walk, []

    def checking(start, task_filter, end_at_spec, workflow, bpmn_max_depth=None):
        if bpmn_max_depth is None:
            stock = list(TaskIterator(start, end_at_spec, task_filter=task_filter))
        else:
            stock = list(BpmnTaskIterator(start, end_at_spec, bpmn_max_depth, True, False, task_filter))
        fast = list(real_walk(start, task_filter, end_at_spec, workflow, bpmn_max_depth))
        assert fast == stock
        seen.append(len(fast))
        return iter(fast)

    real_walked = spiff_tasks.walked

    def checking_walked(start, workflow, **kwargs):
        stock = list(TaskIterator(start, task_filter=BpmnTaskFilter(**kwargs)))
        fast = real_walked(start, workflow, **kwargs)
        assert fast == stock
        seen.append(len(fast))
        return fast

    monkeypatch.setattr(spiff_tasks, "walk", checking)
    monkeypatch.setattr(spiff_tasks, "walked", checking_walked)
    return seen


@pytest.mark.parametrize(("path", "process_id", "data"), CASES, ids=[c[0].stem for c in CASES])
def test_a_run_with_faster_walks_matches_spiffworkflows_step_by_step(compared, path, process_id, data):
    stock, fast = _workflow(path, process_id, data), faster_walks(_workflow(path, process_id, data))
    for _ in range(20):
        stock.do_engine_steps()
        fast.do_engine_steps()
        assert _shape(fast) == _shape(stock)
        if stock.completed:
            break
        for workflow in (stock, fast):  # people's tasks: the first ready one, done
            workflow.get_tasks(state=TaskState.READY, manual=True)[0].run()
    assert fast.completed and stock.completed and fast.data == stock.data
    assert len(compared) >= 16  # the engine rounds' walks went through the faster walk


def test_every_kind_of_query_answers_as_spiffworkflow_does(compared):
    path, process_id, data = CASES[2]
    stock, fast = _workflow(path, process_id, data), faster_walks(_workflow(path, process_id, data))
    for workflow in (stock, fast):
        workflow.do_engine_steps()
        workflow.get_tasks(state=TaskState.READY, manual=True)[0].run()
    specs = sorted({t.task_spec.name for t in stock.get_tasks()})
    queries = [{}, {"state": TaskState.READY}, {"state": TaskState.WAITING}, {"state": TaskState.COMPLETED},
               {"state": TaskState.NOT_FINISHED_MASK}, {"state": TaskState.PREDICTED_MASK},
               {"state": TaskState.READY, "manual": True}, {"manual": False}, {"updated_ts": 1e12},
               {"spec_name": specs[1]}, {"end_at_spec": specs[2]}, {"lane": "nobody"},
               {"max_depth": 2}, {"depth_first": False}]

    def names(tasks):  # the two runs' task ids differ; their names and states in order must not
        return [(t.task_spec.name, t.state) for t in tasks]

    for query in queries:
        assert names(fast.get_tasks(**query)) == names(stock.get_tasks(**query)), query
        assert names(fast.get_tasks(first_task=fast.get_tasks()[1], **query)) == \
            names(stock.get_tasks(first_task=stock.get_tasks()[1], **query)), query
    assert compared  # the plain queries took the faster walk


def test_a_subprocess_or_a_deep_tree_keeps_spiffworkflows_iterator():
    path, process_id, data = CASES[0]
    fast = faster_walks(_workflow(path, process_id, data))
    assert not isinstance(fast.get_tasks_iterator(), BpmnTaskIterator)
    assert isinstance(fast.get_tasks_iterator(max_depth=len(fast.tasks)), BpmnTaskIterator)
    assert isinstance(fast.get_tasks_iterator(depth_first=False), BpmnTaskIterator)
    fast.subprocesses["placeholder"] = object()  # SpiffWorkflow descends into subprocesses its own way
    try:
        assert isinstance(fast.get_tasks_iterator(), BpmnTaskIterator)
    finally:
        del fast.subprocesses["placeholder"]


def test_a_subprocess_appearing_mid_walk_hands_over_to_spiffworkflow_where_it_stands():
    path, process_id, data = CASES[0]
    workflow = faster_walks(_workflow(path, process_id, data))
    workflow.do_engine_steps()
    expected = list(BpmnTaskIterator(workflow.task_tree))
    walk = workflow.get_tasks_iterator()
    first = [next(walk), next(walk), next(walk)]
    workflow.subprocesses["placeholder"] = object()  # no task has this id: the rest of the walk is unchanged
    try:
        assert first + list(walk) == expected
    finally:
        del workflow.subprocesses["placeholder"]


def test_the_engine_run_creates_no_spiffworkflow_iterator_for_its_walks(monkeypatch):
    """What the faster walk saves, counted: SpiffWorkflow's iterators created while ten service tasks run
    (its walk per engine round and after each task), with its walks and with the faster ones."""
    created = []
    real_init = TaskIterator.__init__

    def counting(self, *args, **kwargs):
        created.append(type(self).__name__)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(TaskIterator, "__init__", counting)
    path, process_id, data = CASES[0]
    stock = _workflow(path, process_id, data)
    created.clear()
    stock.do_engine_steps()
    with_stock = len(created)
    fast = faster_walks(_workflow(path, process_id, data))
    created.clear()
    fast.do_engine_steps()
    assert stock.completed and fast.completed
    assert with_stock == 33  # 16 engine rounds, 15 waiting-task updates, 2 other: each a whole-tree walk
    assert created == ["TaskIterator"], created  # left: one of SpiffWorkflow's own direct uses


def test_waiting_tasks_are_updated_as_spiffworkflow_does_and_not_walked_for_when_none_waits(compared):
    """update_waiting_tasks looks for waiting tasks only when `workflow.tasks` holds one: a waiting timer
    whose moment has come is updated (it fires) exactly as SpiffWorkflow's walk updates it, and a chain
    where nothing waits is not walked."""
    install_timer_patch()  # SpiffWorkflow's timers read the engine's clock, which the block freezes
    with frozen_at(NOW):  # the timer's moments, a day after and a day before this one
        path, data = BENCH_DIR / "bench_timer.bpmn", {"fire_at": "2026-06-02T00:00:00+00:00"}
        stock, fast = _workflow(path, "bench_timer", data), faster_walks(_workflow(path, "bench_timer", data))
        for workflow in (stock, fast):
            workflow.do_engine_steps()
            workflow.update_waiting_tasks()  # not yet due: still waiting
        assert _shape(fast) == _shape(stock)
        assert [t.task_spec.name for t in fast.get_tasks(state=TaskState.WAITING)] == ["te_wait"]
        walks = len(compared)
        for workflow in (stock, fast):  # its moment passes: only the waiting-task update can tell
            waiting = workflow.get_tasks(state=TaskState.WAITING)[0]
            spiff_tasks.restore_timer_values(workflow, {waiting.id: "2026-05-31T00:00:00+00:00"})
            workflow.update_waiting_tasks()
            assert waiting.state != TaskState.WAITING
        assert len(compared) > walks and _shape(fast) == _shape(stock)
        for workflow in (stock, fast):
            workflow.do_engine_steps()
        assert _shape(fast) == _shape(stock) and fast.completed and stock.completed

    chain = faster_walks(_workflow(*CASES[0]))
    chain.do_engine_steps()
    walks = len(compared)
    chain.update_waiting_tasks()
    assert len(compared) == walks  # nothing waits: no walk


def test_a_walk_by_state_alone_reuses_its_filter_and_any_other_builds_its_own():
    ready = spiff_tasks.filter_of({"state": TaskState.READY})
    assert spiff_tasks.filter_of({"state": TaskState.READY}) is ready
    assert (ready.state, ready.manual, ready.updated_ts, ready.spec_name, ready.catches_event, ready.lane) == \
        (TaskState.READY, None, 0, None, None, None)
    assert spiff_tasks.filter_of({"state": TaskState.WAITING}).state == TaskState.WAITING
    manual = spiff_tasks.filter_of({"state": TaskState.READY, "manual": True})
    assert manual is not spiff_tasks.filter_of({"state": TaskState.READY, "manual": True}) and manual.manual is True
    assert spiff_tasks.filter_of({}).state == TaskState.ANY_MASK
