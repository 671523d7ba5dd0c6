"""The workflow codec's fast path (engine/bpmn/fast_codec.py) writes exactly SpiffWorkflow's text and
loads exactly SpiffWorkflow's workflow.

Real walks run with every dumps and loads checked against the stock serializer (tests/support/codec_check.py),
and every workflow a step took from those kept between steps (engine/run/live_workflows.py) checked against the
one its text loads to: the bench processes, a loop long enough to be pruned, the tour operation's scenarios
(the largest instances) and an escalated complaint (a subprocess, timers, a message start). Then one workflow is
given every kind of data value, waiting events and pruned ids, and the cases the fast path hands back.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.bench.core import BENCH_DIR, BENCH_USER, FORM_DATA, prepare
from engine.bench.loop import loop_passes
from engine.bpmn.codec import PRUNED_DONE_ATTR, PRUNED_DONE_KEY, WorkflowCodec
from engine.bpmn.fast_codec import Unusual
from engine.clock import frozen_at
from engine.config import DEFAULT_PROCESSES_DIR
from engine.store.models import ProcessInstance
from tests.support import escalated, tour_operation
from tests.support.codec_check import check_dumps, check_loads, checking_codec
from tests.support.world import deploy

CODEC = WorkflowCodec()


def _all_fast(counts) -> None:
    assert counts["dumps checked"] > 0 and counts["loads checked"] > 0
    assert counts["dumps handed to SpiffWorkflow"] == 0 and counts["loads handed to SpiffWorkflow"] == 0


# ---- real walks, every call checked --------------------------------------------------------------

def test_the_bench_processes_and_a_pruned_loop_store_spiffworkflows_text(runtime):
    rt = prepare(runtime.db)
    for name in ("bench_loop", "bench_loop_auto"):
        deploy(rt, BENCH_DIR / f"{name}.bpmn")
    with checking_codec() as counts:
        started = rt.start_answered("bench_user_task", actor=BENCH_USER)
        rt.complete(started["open_tasks"][0]["id"], BENCH_USER, FORM_DATA)
        rt.start("bench_service_chain", actor=BENCH_USER)
        loop = loop_passes(rt, 70, user=BENCH_USER)  # past the pruning depth: pruned_done is stored
        rt.start("bench_loop_auto", data={"counter": 0, "passes": 300}, actor=BENCH_USER)
    _all_fast(counts)
    assert counts["dumps checked"] >= 2 + 1 + 70
    assert counts["kept workflows checked"] >= 1 + 69  # the user task's completion, the loop's passes
    with rt.db.read() as session:
        stored = session.get(ProcessInstance, loop["instance_id"]).serialized
    assert f'"{PRUNED_DONE_KEY}": [' in stored


def test_the_tour_operation_scenarios_store_spiffworkflows_text(runtime):
    for name in ("complaint_handling", "followup_call", "tour_operation"):
        deploy(runtime, DEFAULT_PROCESSES_DIR / f"{name}.bpmn")
    with checking_codec() as counts, frozen_at(tour_operation.T0):
        for walk in tour_operation.SCENARIOS.values():
            walk(runtime)
    _all_fast(counts)
    assert counts["dumps checked"] >= 30 and counts["kept workflows checked"] >= 20


def test_an_escalated_complaint_with_its_subprocess_and_timers_stores_spiffworkflows_text(runtime):
    deploy(runtime, escalated.BPMN)
    with checking_codec() as counts:
        case = escalated.Case(runtime)
        case.do("register_case", "qc1", **{**escalated.REGISTER, "involves_multiple_departments": True})
        escalated.investigate(case, departments=escalated.DEPARTMENTS)
        escalated.reply(case, escalated.T0 + timedelta(days=2))
        escalated.close(case, escalated.T0 + timedelta(days=3))
    _all_fast(counts)
    assert counts["with subprocesses"] > 0 and counts["with waiting events"] > 0
    assert counts["kept workflows checked"] > 0


# ---- one workflow, every kind of value -----------------------------------------------------------

def _user_task_workflow() -> tuple[BpmnWorkflow, SimpleNamespace]:
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(BENCH_DIR / "bench_user_task.bpmn")])
    model = SimpleNamespace(spec=parser.get_spec("bench_user_task"),
                            subprocess_specs=parser.get_subprocess_specs("bench_user_task"))
    workflow = BpmnWorkflow(model.spec, model.subprocess_specs)
    workflow.do_engine_steps()
    return workflow, model


def _ready(workflow: BpmnWorkflow):
    return workflow.get_tasks(state=TaskState.READY)[0]


PLAIN = {
    "text": '中文 "quoted" \\ back\nslash \u2028 😀 \x00', "zero": 0, "big": 2**80, "negative": -7,
    "float": 1.5, "tiny": 5e-324, "huge": 1e300, "negative_zero": -0.0, "yes": True, "no": False,
    "nothing": None, "list": [1, [2, {"a": []}], "x"], "nested": {"x": {"y": {}}, "z": [{}]},
    "empty_list": [], "empty": {}, "": "empty key",
}
NOT_PLAIN = {
    "aware": datetime(2026, 11, 23, 2, 0, tzinfo=UTC), "naive": datetime(2026, 1, 2, 3, 4, 5, 6),
    "span": timedelta(days=2, seconds=5), "id": UUID(int=7), "set": {3, 1, 2}, "tuple": (1, "a"),
    "int_keys": {1: "a", 2.5: "b", None: "c", False: "d"}, "nan": math.nan, "infinite": -math.inf,
    "callable": len, "in_list": [datetime(2026, 5, 1, tzinfo=UTC), {"when": timedelta(seconds=1)}],
}


@pytest.mark.parametrize("values", [PLAIN, NOT_PLAIN], ids=["json", "not_json"])
def test_every_kind_of_data_value_is_written_and_read_as_spiffworkflow_does(values):
    workflow, model = _user_task_workflow()
    workflow.data.update(values)
    task = _ready(workflow)
    task.data.update(values)
    task.internal_data.update(values)
    workflow.task_tree.data.update({"root": values})
    with checking_codec() as counts:
        text = check_dumps(CODEC, workflow)
        check_loads(CODEC, text, model)
        task.run()  # completed: its data goes on to the end event, changed again
        _ready_or_end = workflow.get_tasks(state=TaskState.COMPLETED)[-1]
        _ready_or_end.data["nested"] = {"changed": list(values.values())[:3]}
        text = check_dumps(CODEC, workflow)
        check_loads(CODEC, text, model)
    _all_fast(counts)


def test_deleted_keys_and_containers_shared_between_tasks_come_back_as_spiffworkflows():
    workflow, model = _user_task_workflow()
    shared = {"rooms": [1, 2], "meta": {"deep": [3]}}
    parent = _ready(workflow).parent
    parent.data.update({"gone": 1, "shared": shared, "kept": [shared["rooms"]]})
    task = _ready(workflow)
    task.data = {"shared": shared, "kept": [shared["rooms"]], "mine": {"a": shared["meta"]}}
    with checking_codec() as counts:
        text = check_dumps(CODEC, workflow)
        check_loads(CODEC, text, model)  # which containers tasks share is compared too
    _all_fast(counts)
    assert '"deletions": ["gone"]' in text


def test_ids_written_in_capitals_are_read_as_spiffworkflow_reads_them():
    """A parent named in capitals, a task stored under its id in capitals, an id that comes twice: the
    fast path finds parents by their id's text and keeps the workflow's own mapping only while neither
    can differ from SpiffWorkflow's reading."""
    workflow, model = _user_task_workflow()
    text = CODEC.dumps(workflow)
    ready = str(_ready(workflow).id)
    parent = str(_ready(workflow).parent.id)
    capital_parent = text.replace(f'"parent": "{parent}"', f'"parent": "{parent.upper()}"')
    capital_key = text.replace(f'"{ready}": {{', f'"{ready.upper()}": {{')
    start = text.index(f'"{ready}": {{')
    entry = text[start:text.index('"typename": "Task"}', start) + len('"typename": "Task"}')]
    second = entry.replace(ready, ready.upper(), 2).replace('"updates": {}', '"updates": {"second": true}')
    twice = text.replace(entry, f'{entry}, {second}')  # the later one is the task: its data goes on
    assert len({text, capital_parent, capital_key, twice}) == 4
    with checking_codec() as counts:
        for changed in (capital_parent, capital_key, twice):
            check_loads(CODEC, changed, model)
    assert counts["loads checked"] == 3 and counts["loads handed to SpiffWorkflow"] == 0


def test_waiting_messages_and_pruned_ids_are_written_and_read_as_spiffworkflow_does():
    workflow, model = _user_task_workflow()
    message = MessageEventDefinition("order_paid", correlation_properties=[])
    workflow.bpmn_events.append(BpmnEvent(message, {"paid": 1.5, "at": "2026-11-23"},
                                          {"order_id": "A-1"}))
    setattr(workflow, PRUNED_DONE_ATTR, {"b_task", "a_task"})
    with checking_codec() as counts:
        text = check_dumps(CODEC, workflow)
        check_loads(CODEC, text, model)
    _all_fast(counts)
    assert '"bpmn_events": [{' in text and '"pruned_done": ["a_task", "b_task"]' in text


def test_a_value_json_cannot_write_fails_as_it_does_in_spiffworkflow():
    workflow, _model = _user_task_workflow()
    _ready(workflow).data["price"] = Decimal("12.50")
    with pytest.raises(TypeError) as stock:
        CODEC.stock_dumps(workflow)
    with pytest.raises(TypeError) as fast:
        CODEC.dumps(workflow)
    assert str(fast.value) == str(stock.value)


def test_what_the_fast_path_does_not_know_goes_to_spiffworkflows_serializer():
    workflow, model = _user_task_workflow()
    text = CODEC.dumps(workflow)
    other = SimpleNamespace(spec=SimpleNamespace(task_specs={}, data_objects={}), subprocess_specs={})
    with pytest.raises(Unusual):  # a task spec the model lacks: SpiffWorkflow decides what that means
        CODEC.fast.loads(text, other)
    with pytest.raises(Unusual):  # an older serializer version: SpiffWorkflow migrates it first
        CODEC.fast.loads(text.replace('"serializer_version": "1.5"', '"serializer_version": "1.4"'), model)

    class OtherWorkflow(BpmnWorkflow):
        pass

    workflow.__class__ = OtherWorkflow
    with pytest.raises(Unusual):
        CODEC.fast.dumps(workflow)


def test_the_codec_bench_reports_both_serializers_and_its_verdict():
    from engine.bench.codec import TARGET_RATIO, run_codec_bench

    report = run_codec_bench(calls=5)
    assert report["identical"] is True
    assert set(report["cases"]) == {"user_task_waiting", "user_task_completed", "service_chain", "loop_60_passes"}
    for row in report["cases"].values():
        assert row["identical"] is True and row["tasks"] > 0
        assert {"stock_dumps", "dumps", "stock_loads", "loads"} <= set(row)
    assert report["target_ratio"] == TARGET_RATIO
    assert report["meets_target"] == (report["ratio"] <= TARGET_RATIO)
