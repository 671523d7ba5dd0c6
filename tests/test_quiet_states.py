"""A step's workflow changes its tasks' states as SpiffWorkflow does, without building log records that the
`spiff.task` logger would drop (engine/run/spiff_tasks.py `quiet_state_changes`), and a workflow of a deployed
version is created and completed without walking its tree for `spiff.workflow` records that are dropped
(`quiet_workflows_of`); with those loggers enabled, the records are SpiffWorkflow's own."""

from __future__ import annotations

import inspect
import logging

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState
from SpiffWorkflow.workflow import Workflow

from engine.bench.core import BENCH_DIR, RawScriptEngine
from engine.run.spiff_tasks import quiet_state_changes, quiet_workflows_of


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


def _chain_spec():
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(BENCH_DIR / "bench_service_chain.bpmn")])
    return parser.get_spec("bench_service_chain"), parser.get_subprocess_specs("bench_service_chain")


@pytest.fixture
def workflow_walks(monkeypatch) -> list[int]:
    """Each walk of a tree for a workflow's log extras (SpiffWorkflow's Workflow.collect_log_extras)."""
    walks, real = [], Workflow.get_tasks

    def counting(self, *args, **kwargs):
        if inspect.currentframe().f_back.f_code.co_name == "collect_log_extras":
            walks.append(self.spec.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Workflow, "get_tasks", counting)
    return walks


def test_a_workflow_of_a_quiet_spec_walks_no_tree_for_its_dropped_records(workflow_walks):
    stock_spec, stock_subprocesses = _chain_spec()
    spec, subprocesses = _chain_spec()
    quiet_workflows_of(spec, subprocesses)
    root, level = logging.getLogger(), logging.getLogger().level
    # `spiff.workflow` with no level of its own (SpiffWorkflow then lists the tasks), INFO not enabled for it
    logging.getLogger("spiff.workflow").setLevel(logging.NOTSET)
    root.setLevel(logging.WARNING)
    try:
        stock = BpmnWorkflow(stock_spec, stock_subprocesses, script_engine=RawScriptEngine())
        stock.do_engine_steps()
        for_stock, workflow_walks[:] = len(workflow_walks), []
        quiet = BpmnWorkflow(spec, subprocesses, script_engine=RawScriptEngine())
        quiet.do_engine_steps()
    finally:
        root.setLevel(level)
    assert quiet.completed and stock.completed and _shape(quiet) == _shape(stock)
    assert for_stock == 2 and workflow_walks == []  # created, completed: no walk for either record


def test_with_the_workflow_logger_enabled_its_records_are_spiffworkflows(caplog):
    def workflow_records(spec, subprocesses) -> list[tuple[str, int | None]]:
        caplog.clear()
        BpmnWorkflow(spec, subprocesses, script_engine=RawScriptEngine()).do_engine_steps()
        return [(r.getMessage(), len(getattr(r, "tasks", []))) for r in caplog.records if r.name == "spiff.workflow"]

    spec, subprocesses = _chain_spec()
    quiet_workflows_of(spec, subprocesses)
    with caplog.at_level(logging.DEBUG, logger="spiff.workflow"):
        stock = workflow_records(*_chain_spec())
        quiet = workflow_records(spec, subprocesses)
    assert quiet == stock and [message for message, _ in stock] == ["Initialized workflow", "Workflow completed"]
    assert all(tasks > 0 for _, tasks in quiet)


def test_a_workflow_of_a_quiet_spec_changes_states_quietly_from_its_creation(extras_built):
    spec, subprocesses = _chain_spec()
    quiet_workflows_of(spec, subprocesses)
    logging.getLogger("spiff.task").setLevel(logging.WARNING)
    try:
        stock = BpmnWorkflow(*_chain_spec(), script_engine=RawScriptEngine())
        created_stock, extras_built[:] = len(extras_built), []
        quiet = BpmnWorkflow(spec, subprocesses, script_engine=RawScriptEngine())
        created_quiet = len(extras_built)
        stock.do_engine_steps()
        quiet.do_engine_steps()
    finally:
        logging.getLogger("spiff.task").setLevel(logging.NOTSET)
    assert created_stock >= 1 and created_quiet == 0  # the root's READY: a record nobody receives, not built
    assert quiet.completed and stock.completed and _shape(quiet) == _shape(stock)
    assert _changed_in_order(quiet) == _changed_in_order(stock)


def test_with_the_logger_enabled_a_quiet_specs_creation_records_are_spiffworkflows(caplog):
    def created_and_run(spec, subprocesses) -> list[tuple[str, str, str]]:
        caplog.clear()
        BpmnWorkflow(spec, subprocesses, script_engine=RawScriptEngine()).do_engine_steps()
        return [(r.getMessage(), r.task_spec, r.state) for r in caplog.records if r.name == "spiff.task"]

    spec, subprocesses = _chain_spec()
    quiet_workflows_of(spec, subprocesses)
    with caplog.at_level(logging.INFO, logger="spiff.task"):
        stock = created_and_run(*_chain_spec())
        quiet = created_and_run(spec, subprocesses)
    assert quiet == stock and quiet[0] == ("State changed to READY", "Start", "READY")  # the creation's
