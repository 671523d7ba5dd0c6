"""Long loops: finished iterations leave the task tree (engine/run/prune.py), so a loop's 1,000th pass
stores as much as its 50th and the instance completes; the record still explains every pass.

(Every instance these tests leave is also replayed and its state hash checked: tests/conftest.py.)
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.bench.core import BENCH_DIR
from engine.bench.loop import LOOP_PROCESS, WINDOW, loop_passes, run_loop_bench, stored_shape
from engine.clock import frozen_at, utcnow
from engine.history.replay import full_history, replay
from engine.run.prune import PRUNE_DEPTH, pruned_done
from engine.run.spiff_tasks import run_engine
from engine.sandbox.scripts import ScriptEngine
from engine.store.models import Deployment, Job
from engine.store.states import JobState
from tests.support.world import deploy

FIXTURES = Path(__file__).parent / "fixtures" / "runtime"
USER = "agent1"  # holds the staff lane


def _deploy_loops(rt) -> None:
    for name in ("bench_loop", "bench_loop_auto"):
        deploy(rt, BENCH_DIR / f"{name}.bpmn")


def _model(rt, process_id: str):
    with rt.db.read() as session:
        deployment_id = session.execute(select(Deployment.id).where(Deployment.process_id == process_id)).scalar_one()
        return rt.deployed(session, deployment_id).model


@pytest.mark.parametrize("passes", [1000, 2000])
def test_a_long_loop_run_in_one_step_completes_with_every_pass_counted(runtime, passes):
    _deploy_loops(runtime)
    instance_id = runtime.start("bench_loop_auto", data={"counter": 0, "passes": passes}, actor=USER)
    shape = stored_shape(runtime, instance_id)
    assert (shape["status"], shape["counter"]) == ("completed", passes)  # not stopped early at depth 1,000
    assert shape["tasks"] <= 2 * PRUNE_DEPTH


def test_a_loop_of_user_tasks_stores_as_much_at_its_last_pass_as_at_its_50th(runtime):
    _deploy_loops(runtime)
    passes = WINDOW + 20
    run = loop_passes(runtime, passes, user=USER)
    at_50, at_end = run["shapes"][WINDOW], stored_shape(runtime, run["instance_id"])
    assert (at_end["status"], at_end["counter"]) == ("completed", passes)
    assert at_50["tasks"] <= 10 and at_end["tasks"] <= at_50["tasks"]
    assert at_end["bytes"] <= at_50["bytes"] * 1.1
    assert len(run["seconds"]) == passes
    # The record still explains every pass: replayed identical, and rebuilt in full it holds each pass.
    assert replay(runtime, run["instance_id"]).identical
    history = full_history(runtime, run["instance_id"])
    assert sum(t.task_spec.bpmn_id == "loop_pass" for t in history.get_tasks(state=TaskState.COMPLETED)) == passes


def test_the_diagram_still_marks_the_pruned_nodes_done(runtime):
    _deploy_loops(runtime)
    instance_id = runtime.start(LOOP_PROCESS, data={"counter": 0, "passes": 5}, actor=USER)
    for _ in range(3):
        [task] = runtime.tasks(instance_id=instance_id)
        runtime.complete(task["id"], USER, {})
    nodes = runtime.node_states(instance_id)["nodes"]
    assert nodes["active"] == ["loop_pass"]
    assert {"start_event", "count_pass", "more_passes"} <= set(nodes["completed"])
    result = replay(runtime, instance_id)
    assert result.identical, result.difference
    assert {"start_event", "count_pass", "more_passes"} <= set(result.snapshots[-1]["completed"])


def test_a_thousand_passes_stored_and_loaded_each_time_keep_the_tree_small(runtime):
    """The persisted step's cycle without the database: load, complete the pass, run, store, 1,000 times."""
    _deploy_loops(runtime)
    model = _model(runtime, LOOP_PROCESS)
    workflow = BpmnWorkflow(model.spec, model.subprocess_specs)
    workflow.script_engine = ScriptEngine()
    workflow.get_tasks(state=TaskState.READY)[0].data.update(counter=0, passes=1000)
    run_engine(workflow)
    sizes = {}
    for done in range(1, 1001):
        [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
        task.run()
        run_engine(workflow)
        text = runtime.codec.dumps(workflow)
        workflow = runtime.codec.loads(text, model)
        workflow.script_engine = ScriptEngine()
        sizes[done] = (len(workflow.tasks), len(text))
    assert workflow.completed and workflow.data["counter"] == 1000
    assert sizes[1000][0] <= sizes[50][0] and sizes[999][1] <= sizes[50][1] * 1.1
    assert {"loop_pass", "count_pass", "more_passes", "start_event"} <= pruned_done(workflow)


PARALLEL_LOOP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
<bpmn:process id="parallel_loop" isExecutable="true">
<bpmn:startEvent id="s"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
<bpmn:parallelGateway id="split"><bpmn:incoming>f0</bpmn:incoming><bpmn:incoming>back</bpmn:incoming>
  <bpmn:outgoing>fa</bpmn:outgoing><bpmn:outgoing>fb</bpmn:outgoing></bpmn:parallelGateway>
<bpmn:userTask id="a"><bpmn:incoming>fa</bpmn:incoming><bpmn:outgoing>fa2</bpmn:outgoing></bpmn:userTask>
<bpmn:scriptTask id="b"><bpmn:incoming>fb</bpmn:incoming><bpmn:outgoing>fb2</bpmn:outgoing>
  <bpmn:script>seen_b = counter</bpmn:script></bpmn:scriptTask>
<bpmn:parallelGateway id="join"><bpmn:incoming>fa2</bpmn:incoming><bpmn:incoming>fb2</bpmn:incoming>
  <bpmn:outgoing>fj</bpmn:outgoing></bpmn:parallelGateway>
<bpmn:scriptTask id="count"><bpmn:incoming>fj</bpmn:incoming><bpmn:outgoing>fc</bpmn:outgoing>
  <bpmn:script>counter = counter + 1</bpmn:script></bpmn:scriptTask>
<bpmn:exclusiveGateway id="more" default="done"><bpmn:incoming>fc</bpmn:incoming>
  <bpmn:outgoing>back</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing></bpmn:exclusiveGateway>
<bpmn:endEvent id="e"><bpmn:incoming>done</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="split"/>
<bpmn:sequenceFlow id="fa" sourceRef="split" targetRef="a"/><bpmn:sequenceFlow id="fb" sourceRef="split" targetRef="b"/>
<bpmn:sequenceFlow id="fa2" sourceRef="a" targetRef="join"/><bpmn:sequenceFlow id="fb2" sourceRef="b" targetRef="join"/>
<bpmn:sequenceFlow id="fj" sourceRef="join" targetRef="count"/>
<bpmn:sequenceFlow id="fc" sourceRef="count" targetRef="more"/>
<bpmn:sequenceFlow id="back" sourceRef="more" targetRef="split">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">counter &lt; 4</bpmn:conditionExpression>
</bpmn:sequenceFlow>
<bpmn:sequenceFlow id="done" sourceRef="more" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def _run_parallel_loop(path: Path, prune: bool) -> tuple[BpmnWorkflow, list[int]]:
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(path)])
    workflow = BpmnWorkflow(parser.get_spec("parallel_loop"), {})
    workflow.get_tasks(state=TaskState.READY)[0].data.update(counter=0)
    run_engine(workflow, prune=prune)
    sizes = []
    for done in range(1, 5):
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        assert [t.task_spec.bpmn_id for t in ready] == ["a"], f"pass {done}: the join waits for the user task"
        assert not workflow.completed
        ready[0].run()
        run_engine(workflow, prune=prune)
        sizes.append(len(workflow.tasks))
    return workflow, sizes


def test_a_loop_through_a_parallel_join_runs_as_it_did_before_pruning(tmp_path):
    path = tmp_path / "parallel_loop.bpmn"
    path.write_text(PARALLEL_LOOP, encoding="utf-8")
    pruned, pruned_sizes = _run_parallel_loop(path, prune=True)
    kept, kept_sizes = _run_parallel_loop(path, prune=False)
    assert pruned.completed and pruned.data["counter"] == 4
    assert pruned.data == kept.data
    # A join counts its earlier passes' tasks and looks for its inputs among the ancestors, so the tasks
    # from the first one a join looks at (here the start event, an input of the split) stay (prune.py).
    assert sum(t.task_spec.bpmn_id == "join" for t in pruned.get_tasks()) == 8  # two arrive per pass
    assert pruned_sizes == kept_sizes


def test_a_timer_inside_a_loop_fires_once_and_the_loop_goes_on(runtime):
    deploy(runtime, FIXTURES / "loop_timeout.bpmn")
    start = utcnow().replace(microsecond=0)
    with frozen_at(start):
        instance_id = runtime.start("loop_timeout", data={"counter": 0, "passes": 4}, actor=USER)
        [task] = runtime.tasks(instance_id=instance_id)
        runtime.complete(task["id"], USER, {})  # pass 1 done in time
    fired = runtime.tick(start + timedelta(hours=2))  # pass 2 times out: its timer skips to the count
    assert [job["timer"] for job in fired] == ["pass_timeout"]
    with frozen_at(start + timedelta(hours=2, minutes=1)):
        for _ in range(2):  # passes 3 and 4
            [task] = runtime.tasks(instance_id=instance_id)
            runtime.complete(task["id"], USER, {})
    shape = stored_shape(runtime, instance_id)
    assert (shape["status"], shape["counter"]) == ("completed", 4)
    kinds = [e["kind"] for e in runtime.events(instance_id)]
    assert kinds.count("timer_fired") == 1 and kinds.count("task_completed") == 3
    with runtime.db.read() as session:
        jobs = session.execute(select(Job.state).where(Job.instance_id == instance_id).order_by(Job.id)).scalars().all()
    assert list(jobs) == [JobState.CANCELLED, JobState.DONE, JobState.CANCELLED, JobState.CANCELLED]


def test_loop_bench_smoke_reports_its_shape_and_verdict(tmp_path):
    report = run_loop_bench(passes=2 * WINDOW + 20, database_url=f"sqlite:///{tmp_path / 'loop.db'}")
    assert report["completed"] and report["auto"]["completed"]
    assert {"first_ms", "last_ms", "ratio", "target", "meets_target", "end_tasks", "end_bytes", "curve"} <= set(report)
    assert report["ratio"] == round(report["last_ms"] / report["first_ms"], 3)
    assert report["meets_target"] == (report["target_low"] <= report["ratio"] <= report["target_high"])
    assert report["end_tasks"] <= 10
    curve = report["curve"]
    assert curve[str(2 * WINDOW + 20)]["tasks"] <= curve[str(WINDOW)]["tasks"]
    json.dumps(report)
