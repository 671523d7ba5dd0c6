"""Several `tourflow worker` processes on one database: every due job once, kill -9 anywhere,
SIGTERM, incidents, and messages racing their instances.

Each timer_effect instance waits for its timer, then runs `test_record_effect`, which writes one
row into `test_effect` in the step's own transaction: one row per instance means the step
committed exactly once.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pytest
from sqlalchemy import select, text

from engine.store.models import Job
from tests.support.messages import ORDER_FLOW
from tests.support.timers import effects
from tests.support.workers import (
    TOURFLOW,
    Workers,
    all_completed,
    assert_exactly_once,
    start_many,
    statuses,
    wait_for,
)

pytestmark = pytest.mark.both_databases


@pytest.fixture
def workers(db_url, tmp_path):
    pool = Workers(db_url, tmp_path)
    yield pool
    pool.stop_all()


def test_every_due_job_fires_exactly_once_with_three_workers(timer_runtime, workers):
    rt = timer_runtime
    ids = start_many(rt, 60, spread=3)
    for _ in range(3):
        workers.start()
    wait_for(all_completed(rt, ids), workers, what="60 timers fired by 3 workers")
    assert_exactly_once(rt, ids)


def test_kill_9_at_random_moments_loses_and_doubles_nothing(timer_runtime, workers):
    rt = timer_runtime
    rng = random.Random(20261123)
    ids = start_many(rt, 40, spread=4, sleep_ms=40)  # each step takes a while: kills land inside steps
    names = [workers.start() for _ in range(3)]
    for _ in range(15):
        time.sleep(rng.uniform(0.05, 0.6))
        victim = rng.choice(names)
        workers.kill9(victim)
        names[names.index(victim)] = workers.start(victim)
    wait_for(all_completed(rt, ids), workers, what="every instance completed after 15 kill -9")
    assert_exactly_once(rt, ids)


def test_kill_9_in_the_middle_of_a_step_holding_the_lease(timer_runtime, workers, tmp_path):
    rt = timer_runtime
    [instance_id] = start_many(rt, 1, spread=0)
    marker = tmp_path / "paused"
    workers.start("a", TOURFLOW_FAULT_PAUSE_BEFORE_COMMIT=str(marker))
    # the worker writes its pid into the marker: wait for the pid, not just the (maybe still empty) file
    wait_for(lambda: marker.exists() and marker.read_text() != "", workers, 60,
             "worker a to pause with the step written, uncommitted")
    paused_pid = int(marker.read_text())
    with rt.db.read() as session:
        job = session.execute(select(Job).where(Job.instance_id == instance_id)).scalar_one()
    assert (job.state, job.locked_by.startswith("a-")) == ("pending", True)
    workers.kill9("a")
    workers.start("b")
    wait_for(all_completed(rt, [instance_id]), workers, 60, "worker b to take the job once a's lease ran out")
    assert_exactly_once(rt, [instance_id])
    with rt.db.read() as session:
        pids = session.execute(text("SELECT worker_pid FROM test_effect")).scalars().all()
    assert pids != [paused_pid] and len(pids) == 1


def test_sigterm_finishes_the_current_step_and_hands_back_the_rest(timer_runtime, workers, tmp_path):
    rt = timer_runtime
    ids = start_many(rt, 4, spread=0, sleep_ms=1500)
    marker = tmp_path / "started"
    name = workers.start(TOURFLOW_TEST_STARTED_MARKER=str(marker))
    wait_for(lambda: marker.exists() and marker.read_text().strip(), workers, 60, "a handler to start")
    proc = workers.procs[name]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    [started] = [int(line) for line in marker.read_text().split()]
    assert effects(rt) == {started: 1}, "the step in progress committed"
    assert statuses(rt)[started] == "completed"
    with rt.db.read() as session:
        rest = session.execute(select(Job.instance_id, Job.state, Job.locked_by)
                               .where(Job.instance_id != started)).all()
    assert sorted(rest) == [(i, "pending", None) for i in ids if i != started], "untouched and unleased"
    assert "stopped after 1 job(s)" in workers.logs()


def test_incident_raised_after_the_retries_then_resolved_and_completed(timer_runtime, workers):
    rt = timer_runtime
    [instance_id] = start_many(rt, 1, spread=0, fail_until_fixed=True)
    workers.start()
    workers.start()
    wait_for(lambda: statuses(rt)[instance_id] == "error", workers, 60, "the incident after three attempts")
    kinds = [e["kind"] for e in rt.events(instance_id)]
    assert (kinds.count("retry_scheduled"), kinds.count("incident_raised")) == (2, 1)
    assert rt.show(instance_id)["error"] == "ConnectionError: supplier unreachable (attempt 3)"
    with rt.db.write() as session, session.begin():
        session.execute(text("INSERT INTO test_switch (name) VALUES ('fixed')"))
    rt.resolve_incident(instance_id, "supervisor1", "供应商已恢复")
    assert statuses(rt)[instance_id] == "completed"
    assert effects(rt) == {instance_id: 1}
    assert [e["kind"] for e in rt.events(instance_id)].count("incident_resolved") == 1


def test_a_retry_succeeds_on_its_own_once_the_cause_is_gone(timer_runtime, workers):
    rt = timer_runtime
    [instance_id] = start_many(rt, 1, spread=0, fail_until_fixed=True)
    with rt.db.write() as session, session.begin():  # a long back-off: time to fix things in between
        session.execute(text("SELECT 1"))
    workers.env["TOURFLOW_RETRY_BASE_SECONDS"] = "2"
    workers.start()
    wait_for(lambda: statuses(rt)[instance_id] == "retrying", workers, 60, "the first failure")
    with rt.db.write() as session, session.begin():
        session.execute(text("INSERT INTO test_switch (name) VALUES ('fixed')"))
    wait_for(all_completed(rt, [instance_id]), workers, 60, "the retry to succeed")
    kinds = [e["kind"] for e in rt.events(instance_id)]
    assert (kinds.count("retry_scheduled"), kinds.count("incident_raised")) == (1, 0)
    assert effects(rt) == {instance_id: 1}


def test_messages_racing_their_instances_are_each_delivered_once(runtime, workers, tmp_path):
    """Orders and their payments sent at the same time by separate processes: whichever comes
    first, every order gets exactly its one payment (the worker's sweep closes the race)."""
    from tests.support.world import deploy

    deploy(runtime, ORDER_FLOW)
    workers.start(housekeeping=0.5)
    keys = [f"ORD-{n}" for n in range(6)]
    env = {**workers.env}
    senders = []
    for key in keys:
        for name, data in (("order_received", {"fail_times": 0, "amount": 100}), ("payment_received", {"paid": 100})):
            senders.append(subprocess.Popen(
                [TOURFLOW, "message", name, "--key", key, "--data", json.dumps(data), "--ref", f"{name}-{key}",
                 "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc in senders:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    def every_order_paid() -> bool:
        with runtime.db.read() as session:
            waiting = session.execute(text("SELECT count(*) FROM human_task WHERE state = 'ready'")).scalar()
        return waiting == len(keys)

    wait_for(every_order_paid, workers, 60, "every order to have its payment")
    with runtime.db.read() as session:
        delivered = session.execute(text(
            "SELECT correlation_key, count(*) FROM message WHERE name = 'payment_received' AND state = 'delivered' "
            "GROUP BY correlation_key")).all()
        received = session.execute(text(
            "SELECT count(*) FROM audit_event WHERE kind = 'message_received' AND payload LIKE '%payment_received%'"
        )).scalar()
    assert dict(delivered) == dict.fromkeys(keys, 1)
    assert received == len(keys)
