"""`tourflow worker` processes on one test database, and what they did: instances completed, timers
fired, effects committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from engine.store import audit
from engine.store.models import AuditEvent, Job, ProcessInstance
from tests.support.timers import effects, iso
from tests.support.world import REPO

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
