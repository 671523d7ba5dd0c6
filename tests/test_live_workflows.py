"""A step takes the workflow the instance's last step kept in memory, only while it is exactly the stored one
(engine/run/live_workflows.py): after another process moved the instance, after a failed unit or a failed
commit, after a step that failed (a retry scheduled) or a migration, the step loads the stored text. The kept
workflows are bounded, hold nothing of their step, and the setting 0 keeps none. Whichever way a step got its
workflow, the instance ends as its record explains (the runtime fixture replays every instance after each
test; the walks of tests/test_fast_codec.py compare every workflow taken with the one its text loads to)."""

from __future__ import annotations

import gc

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import OperationalError

from engine.bench.core import BENCH_DIR, BENCH_USER, FORM_DATA, prepare
from engine.bench.loop import LOOP_PROCESS
from engine.clock import frozen_at, utcnow
from engine.config import live_workflows
from engine.errors import FormInvalid
from engine.history.replay import replay
from engine.run.runtime import Runtime
from engine.run.step import Step
from engine.store import state_hash
from engine.store.db import Database
from engine.store.unit_scope import UnitConnection
from tests.support.incidents import FIXTURE as INCIDENT_FLOW
from tests.support.incidents import exhaust_retries
from tests.support.versions import RENAMED_END, REQUEST, T0, deploy_minimal, variant
from tests.support.world import deploy

pytestmark = pytest.mark.both_databases
LOOP_PROCESS_FILE = BENCH_DIR / f"{LOOP_PROCESS}.bpmn"


@pytest.fixture
def rt(runtime):
    bench = prepare(runtime.db)
    deploy(bench, LOOP_PROCESS_FILE)
    return bench


def _loop(rt: Runtime, passes: int = 10) -> int:
    return rt.start(LOOP_PROCESS, data={"counter": 0, "passes": passes}, actor=BENCH_USER)


def _one_pass(rt: Runtime, instance_id: int) -> None:
    [task] = rt.tasks(user=BENCH_USER, instance_id=instance_id)
    rt.complete(task["id"], BENCH_USER, {})


def _counter(rt: Runtime, instance_id: int) -> int:
    return rt.show(instance_id)["data"]["counter"]


def _explained(rt: Runtime, instance_id: int) -> None:
    """The instance's record explains its state: it replays to it, and its last state hash is the live one."""
    assert replay(rt, instance_id).identical
    with rt.db.read() as session:
        assert state_hash.check_states(session, [instance_id])[instance_id].verdict == "ok"


def test_each_step_takes_the_workflow_the_last_one_kept(rt):
    instance = _loop(rt)
    for _ in range(3):
        _one_pass(rt, instance)
    assert (rt.live.hits, rt.live.misses, len(rt.live)) == (3, 0, 1)
    assert _counter(rt, instance) == 3
    started = rt.start_answered("bench_user_task", actor=BENCH_USER)
    rt.complete(started["open_tasks"][0]["id"], BENCH_USER, FORM_DATA)
    assert rt.live.hits == 4
    assert len(rt.live) == 1, "a completed instance is not kept"
    _explained(rt, instance)


def test_another_process_moved_the_instance_so_the_stored_text_is_loaded(rt):
    instance = _loop(rt)
    other = Runtime(Database(rt.db.url))  # a second server on the same database
    try:
        _one_pass(other, instance)
        _one_pass(rt, instance)  # what this process kept is the state before the other's pass
        assert (rt.live.hits, rt.live.misses) == (0, 1)
        assert _counter(rt, instance) == 2
        _one_pass(other, instance)  # the other kept its own pass's workflow, which this one's pass moved past
        assert (other.live.hits, other.live.misses) == (0, 2)
        _one_pass(rt, instance)
        assert _counter(rt, instance) == 4
    finally:
        other.db.dispose()
    _explained(rt, instance)


def test_a_unit_that_failed_after_its_step_ran_leaves_nothing_kept(rt):
    instance = _loop(rt)
    with pytest.raises(RuntimeError, match="the command failed"), rt.transaction() as tx:
        step = tx.open_step(tx.lock_instance(instance), BENCH_USER, utcnow())
        assert rt.live.hits == 1
        [ready] = step.workflow.get_tasks(state=TaskState.READY, manual=True)
        step.run_user_task(ready)  # the kept workflow moved on in memory...
        step.advance()
        raise RuntimeError("the command failed")  # ...and its unit failed
    assert len(rt.live) == 0
    _one_pass(rt, instance)  # loaded: the task it completes is still the one waiting
    assert (rt.live.hits, rt.live.misses) == (1, 1)
    assert _counter(rt, instance) == 1
    _explained(rt, instance)


def test_a_commit_that_failed_leaves_nothing_kept(rt, monkeypatch):
    instance = _loop(rt)
    commit = UnitConnection.commit

    def failing(self):
        raise OperationalError("COMMIT", {}, RuntimeError("disk I/O error"))

    with monkeypatch.context() as patched:
        patched.setattr(UnitConnection, "commit", failing)
        with pytest.raises(OperationalError, match="disk I/O error"):
            _one_pass(rt, instance)
    assert UnitConnection.commit is commit
    assert len(rt.live) == 0 and _counter(rt, instance) == 0
    _one_pass(rt, instance)
    assert _counter(rt, instance) == 1 and rt.live.misses == 1
    _explained(rt, instance)


def test_a_refused_form_leaves_the_kept_workflow_for_the_next_try(rt):
    started = rt.start_answered("bench_user_task", actor=BENCH_USER)
    task_id = started["open_tasks"][0]["id"]
    with pytest.raises(FormInvalid, match="approved"):
        rt.complete(task_id, BENCH_USER, {**FORM_DATA, "approved": "yes"})
    rt.complete(task_id, BENCH_USER, FORM_DATA)
    assert (rt.live.hits, rt.live.misses) == (1, 0)
    _explained(rt, started["instance"]["id"])


def test_a_migrated_instance_is_loaded_at_its_next_step(runtime):
    deploy_minimal(runtime, variant(RENAMED_END))
    with frozen_at(T0):
        instance = runtime.start("minimal_ok", version=1)
        [task] = runtime.tasks(instance_id=instance)
        runtime.migrate_instances("minimal_ok", 1, 2, "owner1", "结束节点改名")  # took the start's workflow
        assert len(runtime.live) == 0
        runtime.claim(task["id"], "agent1")
        runtime.complete(task["id"], "agent1", REQUEST)
    assert runtime.show(instance)["status"] == "completed"
    assert (runtime.live.hits, runtime.live.misses) == (1, 1)
    _explained(runtime, instance)


def test_the_kept_workflows_are_bounded_and_hold_nothing_of_their_step(runtime, monkeypatch):
    monkeypatch.setenv("TOURFLOW_LIVE_WORKFLOWS", "2")
    rt = prepare(runtime.db)
    deploy(rt, LOOP_PROCESS_FILE)
    first, second, third = (_loop(rt) for _ in range(3))
    assert len(rt.live) == 2
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, Step)], "a kept workflow holds its step"
    for instance in (third, second, first):
        _one_pass(rt, instance)
    assert (rt.live.hits, rt.live.misses) == (2, 1)  # the first, least recently kept, was dropped


def test_the_setting_zero_keeps_none_and_a_wrong_one_is_refused(runtime, monkeypatch):
    monkeypatch.setenv("TOURFLOW_LIVE_WORKFLOWS", "0")
    rt = prepare(runtime.db)
    deploy(rt, LOOP_PROCESS_FILE)
    instance = _loop(rt)
    _one_pass(rt, instance)
    assert (rt.live.hits, len(rt.live)) == (0, 0)
    for wrong, message in (("many", "a whole number of workflows, not 'many'"), ("-1", "0 or more, not -1")):
        monkeypatch.setenv("TOURFLOW_LIVE_WORKFLOWS", wrong)
        with pytest.raises(ValueError, match=message):
            live_workflows()


def test_a_step_that_failed_is_not_kept_and_the_retry_that_succeeds_is(runtime):
    deploy(runtime, INCIDENT_FLOW)
    start = utcnow()
    with frozen_at(start):
        instance = runtime.start("incident_flow", {"supplier": "HZ-01", "fail_times": 2, "customer_name": "林小雨"},
                                 actor="sales1")
    assert runtime.show(instance)["status"] == "retrying" and len(runtime.live) == 0
    exhaust_retries(runtime, instance, start)  # the third attempt books the supplier
    assert runtime.show(instance)["status"] == "running"
    assert (runtime.live.hits, runtime.live.misses, len(runtime.live)) == (0, 2, 1)
    _explained(runtime, instance)
