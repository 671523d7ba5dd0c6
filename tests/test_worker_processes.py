"""Several `tourflow worker` processes on one database: every due job once, kill -9 anywhere,
SIGTERM, incidents, and messages racing their instances.

Each timer_effect instance waits for its timer, then runs `test_record_effect`, which writes one
row into `test_effect` in the step's own transaction: one row per instance means the step
committed exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from engine.history import audit
from engine.store.models import AuditEvent, Job, ProcessInstance
from tests.support.world import REPO
from tests.test_jobs import effects, iso
from tests.test_messages_and_retries import FIXTURE as ORDER_FLOW

pytestmark = pytest.mark.both_databases

TOURFLOW = str(Path(sys.executable).with_name("tourflow"))


class Workers:
    """`tourflow worker` processes against one database, each logging to its own file."""

    def __init__(self, db_url: str, tmp_path: Path, lease: float = 2.0, **env: str):
        self.db_url, self.tmp_path, self.lease = db_url, tmp_path, lease
        self.env = {**os.environ, "TOURFLOW_DATABASE_URL": db_url, "TOURFLOW_HOME": str(tmp_path),
                    "PYTHONPATH": str(REPO), "TOURFLOW_HANDLER_MODULES": "tests.fixtures.worker_handlers",
                    "TOURFLOW_RETRY_BASE_SECONDS": "0.2", **env}
        self.procs: dict[str, subprocess.Popen] = {}
        self.started = 0

    def start(self, name: str | None = None, housekeeping: float = 30, **env: str) -> str:
        self.started += 1
        name = name or f"w{self.started}"
        log = open(self.tmp_path / f"{name}-{self.started}.log", "w")  # noqa: SIM115 - kept by the process
        self.procs[name] = subprocess.Popen(
            [TOURFLOW, "worker", "--poll", "0.2", "--lease", str(self.lease), "--housekeeping", str(housekeeping),
             "--name", f"{name}-{self.started}"],
            env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        return name

    def kill9(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp_path.glob("w*.log")))


@pytest.fixture
def workers(db_url, tmp_path):
    pool = Workers(db_url, tmp_path)
    yield pool
    pool.stop_all()


def wait_for(check: Callable[[], bool], workers: Workers, seconds: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{workers.logs()}")


def statuses(rt) -> dict[int, str]:
    with rt.db.read() as session:
        return dict(session.execute(select(ProcessInstance.id, ProcessInstance.status)).all())


def all_completed(rt, ids: list[int]) -> Callable[[], bool]:
    return lambda: all(statuses(rt).get(i) == "completed" for i in ids)


def fired_per_instance(rt) -> dict[int, int]:
    with rt.db.read() as session:
        rows = session.execute(select(AuditEvent.instance_id, func.count())
                               .where(AuditEvent.kind == "timer_fired").group_by(AuditEvent.instance_id))
        return dict(rows.all())


def start_many(rt, count: int, spread: float, sleep_ms: int = 0, fail_until_fixed: bool = False) -> list[int]:
    first = datetime.now(UTC) + timedelta(seconds=0.5)  # due after the start, so a job fires it
    return [rt.start("timer_effect", {"fire_at": iso(first + timedelta(seconds=spread * i / count)),
                                      "sleep_ms": sleep_ms, "fail_until_fixed": fail_until_fixed})
            for i in range(count)]


def assert_exactly_once(rt, ids: list[int]) -> None:
    assert effects(rt) == dict.fromkeys(ids, 1), "each step's effect committed exactly once"
    assert fired_per_instance(rt) == dict.fromkeys(ids, 1), "each timer fired exactly once"
    with rt.db.read() as session:
        open_jobs = session.execute(select(func.count()).select_from(Job).where(Job.state == "pending")).scalar()
        assert open_jobs == 0
        assert audit.verify(session) == []


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
    wait_for(marker.exists, workers, 60, "worker a to pause with the step written, uncommitted")
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
