"""Job acquisition and leases, failures outside a step, and the worker's poll, in one process."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from engine.clock import frozen_at
from engine.errors import NotAllowed, TourflowError
from engine.outbox import staff_alerts
from engine.run.incidents import open_incidents
from engine.run.jobs import MAX_JOB_FAILURES, JobRunner
from engine.run.queries import Viewer
from engine.run.worker import Worker
from engine.store.models import Job, ProcessInstance, StaffAlert
from tests.support.timers import effects, start_timers

pytestmark = pytest.mark.both_databases



def job_states(rt) -> list[tuple[str, str | None]]:
    with rt.db.read() as session:
        return list(session.execute(select(Job.state, Job.locked_by).order_by(Job.id)).all())


def test_a_leased_job_is_not_acquired_again_until_its_lease_runs_out(timer_runtime):
    rt = timer_runtime
    due = datetime.now(UTC) + timedelta(days=1)
    start_timers(rt, 3, due)
    a = JobRunner(rt, owner="A", lease=timedelta(seconds=30))
    b = JobRunner(rt, owner="B", lease=timedelta(seconds=30))
    assert a.acquire(due - timedelta(seconds=1)) == []  # not due yet
    taken = a.acquire(due, limit=2)
    assert len(taken) == 2
    rest = b.acquire(due, limit=10)
    assert len(rest) == 1 and rest[0][0] not in {j for j, _ in taken}
    assert b.acquire(due) == []
    # A dies: its leases run out, and B takes those jobs and runs them.
    with rt.db.write() as session, session.begin():
        session.execute(update(Job).where(Job.locked_by == "A")
                        .values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    fired = b.run_due(due)
    assert sorted(f["job"] for f in fired) == sorted(j for j, _ in taken)
    assert b.run(rest[0][0], due)["kind"] == "timer"  # the one B leased itself
    assert effects(rt) == {i: 1 for i in effects(rt)} and len(effects(rt)) == 3


def test_a_job_leased_to_a_live_worker_is_not_run_by_another(timer_runtime):
    rt = timer_runtime
    due = datetime.now(UTC) + timedelta(days=1)
    start_timers(rt, 1, due)
    a = JobRunner(rt, owner="A", lease=timedelta(seconds=30))
    [(job_id, _)] = a.acquire(due)
    b = JobRunner(rt, owner="B")
    assert b.run(job_id, due) is None  # A holds the lease
    assert effects(rt) == {}
    assert a.run(job_id, due)["kind"] == "timer"
    assert a.run(job_id, due) is None  # done: running it again does nothing
    assert list(effects(rt).values()) == [1]
    assert job_states(rt)[-1] == ("done", None)


def test_tick_at_a_moment_runs_each_due_job_once(timer_runtime):
    rt = timer_runtime
    base = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with frozen_at(base - timedelta(days=1)):  # started the day before: no timer is due yet
        ids = start_timers(rt, 2, base) + start_timers(rt, 1, base + timedelta(hours=1))
    assert [f["instance_id"] for f in rt.tick(base)] == ids[:2]
    assert rt.tick(base) == []
    assert [f["instance_id"] for f in rt.tick(base + timedelta(hours=2))] == ids[2:]
    assert effects(rt) == {i: 1 for i in ids}


def test_a_job_failing_outside_its_step_backs_off_then_fails_with_an_event(timer_runtime):
    rt = timer_runtime
    due = datetime.now(UTC) + timedelta(days=1)
    [instance_id] = start_timers(rt, 1, due)
    with rt.db.read() as session:
        original = session.get(ProcessInstance, instance_id).serialized
    with rt.db.write() as session, session.begin():  # a damaged row: the step cannot even load it
        session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id)
                        .values(serialized="{not json"))
    with rt.transaction() as tx:  # a supervisor who wants to hear of incidents
        staff_alerts.set_preference(tx.session, "supervisor1", channel="email", address="sup@agency.example",
                                    events=("incident",), actor="supervisor1", now=datetime.now(UTC))
    runner = JobRunner(rt, owner="A")
    for failure in range(1, MAX_JOB_FAILURES + 1):
        assert runner.run_due(due + timedelta(days=failure)) == []
        with rt.db.read() as session:
            job = session.execute(select(Job).where(Job.instance_id == instance_id)).scalar_one()
        assert job.failures == failure and "JSONDecodeError" in job.last_error
        assert job.locked_by is None
        if failure < MAX_JOB_FAILURES:
            assert job.state == "pending" and datetime.now(UTC) < job.due_at  # backed off
    assert job.state == "failed"
    [failed] = [e for e in rt.events(instance_id) if e["kind"] == "job_failed"]
    assert failed["payload"]["failures"] == MAX_JOB_FAILURES and "JSONDecodeError" in failed["payload"]["error"]
    # The instance would wait for ever: it is an incident, in the system lane.
    shown = rt.show(instance_id)
    assert shown["status"] == "error" and "timer job" in shown["error"] and "JSONDecodeError" in shown["error"]
    with rt.db.read() as session:
        [incident] = open_incidents(session, Viewer("supervisor1", frozenset({"supervisor"})))
    assert (incident["instance_id"], incident["lane"], incident["task"]) == (instance_id, "system", "te_wait")
    with rt.db.read() as session:  # the system lane's incident alerts its resolvers, once
        alerts = session.execute(select(StaffAlert.username, StaffAlert.event, StaffAlert.instance_id)).all()
    assert alerts == [("supervisor1", "incident", instance_id)]
    with pytest.raises(NotAllowed):
        rt.resolve_incident(instance_id, "operator1", "修好了")
    with rt.db.write() as session, session.begin():  # the cause is fixed
        session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id)
                        .values(serialized=original))
    with pytest.raises(TourflowError, match="run again as it is"):
        rt.resolve_incident(instance_id, "supervisor1", "数据已修复", {"x": 1})
    assert rt.resolve_incident(instance_id, "supervisor1", "数据已修复")["status"] == "running"
    assert [f["instance_id"] for f in rt.tick(due + timedelta(days=10))] == [instance_id]
    assert rt.show(instance_id)["status"] == "completed"
    assert effects(rt) == {instance_id: 1}
    kinds = [e["kind"] for e in rt.events(instance_id)]
    assert kinds.count("incident_raised") == kinds.count("incident_resolved") == 1


def test_the_worker_fires_a_timer_when_it_falls_due_and_stops_cleanly(timer_runtime):
    rt = timer_runtime
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    [instance_id] = start_timers(rt, 1, due)
    worker = Worker(rt, name="W", poll_seconds=30, housekeeping_seconds=60)  # only the wake-up is in time
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while rt.show(instance_id)["status"] != "completed" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    assert rt.show(instance_id)["status"] == "completed"
    fired = next(e for e in rt.events(instance_id) if e["kind"] == "timer_fired")
    fired_at = datetime.fromisoformat(fired["at"].replace("Z", "+00:00"))
    assert due < fired_at < due + timedelta(seconds=10)
    assert effects(rt) == {instance_id: 1}
    assert not worker.scheduler.running


def test_a_timer_already_due_when_reached_fires_at_once_and_is_recorded_first(timer_runtime):
    """No job ever holds it (it never waits), so the step that reached it records it, before the
    step it set going; replay (the runtime fixture) comes out identical."""
    rt = timer_runtime
    [instance_id] = start_timers(rt, 1, datetime.now(UTC) - timedelta(minutes=5))
    kinds = [e["kind"] for e in rt.events(instance_id)]
    assert kinds[:3] == ["instance_started", "timer_fired", "handler_called"], kinds
    assert kinds.count("timer_fired") == 1 and effects(rt) == {instance_id: 1}
    assert job_states(rt) == [], "no job: nothing was left to fire"


def test_tourflow_jobs_lists_pending_jobs_and_their_leases(timer_runtime, cli):
    due = datetime.now(UTC) + timedelta(days=1)
    [instance_id] = start_timers(timer_runtime, 1, due)
    JobRunner(timer_runtime, owner="A").acquire(due)
    [job] = cli.json("jobs")
    assert (job["kind"], job["instance_id"], job["task"], job["locked_by"]) == ("timer", instance_id, "te_wait", "A")
    assert cli.json("jobs", "--state", "done") == []
    assert "leased to A" in cli.run("jobs", check=True).stdout
