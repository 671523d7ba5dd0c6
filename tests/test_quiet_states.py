"""A step's workflow changes its tasks' states as SpiffWorkflow does, without building log records that the
`spiff.task` logger would drop (engine/run/spiff_tasks.py `quiet_state_changes`); with that logger enabled,
the records are SpiffWorkflow's own."""

from __future__ import annotations

import logging

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.bench.core import BENCH_DIR, RawScriptEngine
from engine.run.spiff_tasks import quiet_state_changes


def _chain() -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(BENCH_DIR / "bench_service_chain.bpmn")])
    return BpmnWorkflow(parser.get_spec("bench_service_chain"), parser.get_subprocess_specs("bench_service_chain"),
                        script_engine=RawScriptEngine())


def _shape(workflow: BpmnWorkflow) -> list[tuple[str, str, dict]]:
    return [(t.task_spec.name, TaskState.get_name(t.state), t.data) for t in TaskIterator(workflow.task_tree)]


def _changed_in_order(workflow: BpmnWorkflow) -> list[str]:
    """The tasks by the time of their last state change (what `current_data` relies on)."""
    return [t.task_spec.name for t in sorted(TaskIterator(workflow.task_tree), key=lambda t: t.last_state_change)]


@pytest.fixture
def extras_built(monkeypatch) -> list[str]:
    built, real = [], Task.collect_log_extras

    def counting(self, dct=None):
        built.append(self.task_spec.name)
        return real(self, dct)

    monkeypatch.setattr(Task, "collect_log_extras", counting)
    return built


def test_a_quiet_workflow_runs_as_spiffworkflow_and_builds_no_dropped_records(extras_built):
    logging.getLogger("spiff.task").setLevel(logging.WARNING)
    try:
        stock = _chain()
        stock.do_engine_steps()
        for_stock, extras_built[:] = len(extras_built), []
        quiet = quiet_state_changes(_chain())
        built_before_marking = len(extras_built)  # the workflow's creation, before it was marked
        quiet.do_engine_steps()
    finally:
        logging.getLogger("spiff.task").setLevel(logging.NOTSET)
    assert quiet.completed and stock.completed and _shape(quiet) == _shape(stock)
    assert _changed_in_order(quiet) == _changed_in_order(stock)
    assert for_stock >= 30 and len(extras_built) == built_before_marking


def test_with_the_logger_enabled_the_records_are_spiffworkflows(caplog):
    def state_records(workflow: BpmnWorkflow) -> list[tuple[str, str, str]]:
        caplog.clear()
        workflow.do_engine_steps()
        return [(r.getMessage(), r.task_spec, r.state) for r in caplog.records if r.name == "spiff.task"]

    with caplog.at_level(logging.INFO, logger="spiff.task"):
        stock = state_records(_chain())
        quiet = state_records(quiet_state_changes(_chain()))
    assert quiet == stock and len(stock) >= 20
    assert ("State changed to COMPLETED", "step_10", "COMPLETED") in quiet
