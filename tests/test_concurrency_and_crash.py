"""Nothing lost, nothing doubled: races on one task, and a process killed in the middle of a step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.errors import TaskConflict
from engine.run.runtime import Runtime
from engine.store.db import Database
from handlers.domain.models import Complaint
from tests.support.complaint import COMPLAINT, Walk

pytestmark = pytest.mark.both_databases


def _instance_at_follow_up(runtime) -> Walk:
    walk = Walk(runtime)
    walk.do("receive_complaint", "agent1", **{**COMPLAINT, "time_class": "旅游后"})
    walk.do("investigate_facts", "qc1", facts="事实")
    walk.do("determine_responsibility", "qc1", responsible_department="计调部")
    walk.do("make_handling_plan", "qc1", handling_plan="方案", serious_problem=False)
    walk.do("implement_plan", "operator1", solved=True, implementation_note="完成")
    walk.do("feedback_result", "qc1", feedback="已反馈")
    return walk


def test_threads_completing_one_task_exactly_one_wins(complaint_runtime, db_url):
    walk = Walk(complaint_runtime)
    task_id = walk.open_tasks()["receive_complaint"]["id"]
    results: list[str] = []
    barrier = threading.Barrier(4)

    def worker():
        rt = Runtime(Database(db_url))  # each thread its own engine, as separate servers would have
        barrier.wait()
        try:
            rt.complete(task_id, "agent1", COMPLAINT)
            results.append("won")
        except TaskConflict:
            results.append("conflict")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["conflict"] * 3 + ["won"]
    assert walk.kinds().count("task_completed") == 1
    assert list(walk.open_tasks()) == ["resolve_locally"]


def test_processes_completing_one_task_exactly_one_wins(complaint_runtime, cli):
    walk = Walk(complaint_runtime)
    task_id = walk.open_tasks()["receive_complaint"]["id"]
    exe = str(Path(sys.executable).with_name("tourflow"))
    args = [exe, "complete", str(task_id), "--as", "agent1", "--data", json.dumps(COMPLAINT)]
    procs = [subprocess.Popen(args, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outcomes = [(p.wait(120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 3, 3], outcomes
    assert all("already completed by agent1" in err for code, err in outcomes if code == 3)
    assert walk.kinds().count("task_completed") == 1


def _complaint_rows(runtime) -> int:
    with runtime.db.read() as session:
        return session.execute(select(func.count(Complaint.id))).scalar()


def test_kill_in_the_middle_of_a_step_loses_and_doubles_nothing(complaint_runtime, cli, tmp_path):
    """kill -9 after the step (user task + archive handler) is written but before commit."""
    rt = complaint_runtime
    walk = _instance_at_follow_up(rt)
    task_id = walk.open_tasks()["qc_follow_up"]["id"]
    events_before = len(rt.events(walk.id))
    marker = tmp_path / "paused"
    env = {**cli.env, "TOURFLOW_FAULT_PAUSE_BEFORE_COMMIT": str(marker)}
    exe = str(Path(sys.executable).with_name("tourflow"))
    proc = subprocess.Popen([exe, "complete", str(task_id), "--as", "qc1", "--data", '{"follow_up_note": "回访"}'],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "never reached the fault point"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)

    # Nothing of the killed step is visible: the task is still open, nothing archived, no events.
    assert list(walk.open_tasks()) == ["qc_follow_up"]
    assert _complaint_rows(rt) == 0
    assert len(rt.events(walk.id)) == events_before
    assert walk.status() == "running"

    # Doing the step again completes it exactly once.
    done = cli.run("complete", str(task_id), "--as", "qc1", "--data", '{"follow_up_note": "回访"}')
    assert done.returncode == 0, done.stderr
    assert walk.status() == "completed"
    assert _complaint_rows(rt) == 1
    assert walk.kinds().count("handler_called") == 1
    assert cli.run("audit", "verify").returncode == 0


def test_archive_handler_is_idempotent_per_step(complaint_runtime):
    """At-least-once delivery: a re-run of the same step finds its own earlier write."""
    from engine.plugins.handlers import HandlerContext
    from handlers.complaints import archive_complaint

    rt = complaint_runtime
    walk = _instance_at_follow_up(rt)
    walk.do("qc_follow_up", "qc1", follow_up_note="回访")
    data = rt.show(walk.id)["data"]
    with rt.db.write() as session, session.begin():
        [row] = session.execute(select(Complaint)).scalars().all()
        ctx = HandlerContext(session=session, now=row.archived_at, instance_id=walk.id,
                             process_id="complaint_handling", task_id="t", task_spec="archive_complaint",
                             idempotency_key=row.idempotency_key, attempt=2, data=data)
        assert archive_complaint(ctx) == {"complaint_id": row.id, "archived": True}
    assert _complaint_rows(rt) == 1
