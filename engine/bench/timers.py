"""Timer accuracy: how late do due timers fire with real `tourflow worker` processes?

`timers` instances of bench_timer.bpmn wait for dates spread evenly over `window` seconds;
`workers` worker processes (the real command, default poll) fire them, while a background
load starts and completes user-task instances (`load_per_s`) against the same database,
as staff would. Lateness of one timer = its `timer_fired` event's time (the moment the
worker began the step) minus its due time. The aim is p99 < 2 s.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.bench.core import BENCH_DIR, BENCH_USER, DATABASE_URL_ENV, FORM_DATA, prepare
from engine.run.deployments import deploy_file
from engine.run.runtime import Runtime
from engine.store.audit import instance_stream
from engine.store.db import Database
from engine.store.models import AuditEvent

TARGET_P99_S = 2.0
TIMER_PROCESS = BENCH_DIR / "bench_timer.bpmn"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _background_load(rt: Runtime, per_second: float, stop: threading.Event, counter: list[int]) -> None:
    """Staff at work: start a user-task instance and complete its task, `per_second` times a second."""
    if per_second <= 0:
        return
    pause = 1.0 / per_second
    while not stop.wait(pause):
        instance_id = rt.start("bench_user_task", actor=BENCH_USER)
        [task] = rt.tasks(instance_id=instance_id)
        rt.complete(task["id"], BENCH_USER, FORM_DATA)
        counter[0] += 1


def run_timer_bench(timers: int = 300, window: float = 20.0, workers: int = 2, load_per_s: float = 5.0,
                    echo: Callable[[str], Any] | None = None, database_url: str | None = None) -> dict[str, Any]:
    if timers < 1 or workers < 1 or window <= 0:
        raise ValueError("timers and workers must be at least 1, window positive")
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    with tempfile.TemporaryDirectory(prefix="tourflow-bench-timers-") as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        try:
            rt = prepare(db)
            with db.write() as session, session.begin():
                deploy_file(session, TIMER_PROCESS, "bench")
            return _measure(rt, url, Path(tmp), timers, window, workers, load_per_s, echo)
        finally:
            db.dispose()


def _measure(rt: Runtime, url: str, tmp: Path, timers: int, window: float, workers: int, load_per_s: float,
             echo) -> dict[str, Any]:
    # Time to create the instances and start the workers before the first is due.
    first = datetime.now(UTC) + timedelta(seconds=5 + timers / 50)
    due = {}
    for i in range(timers):
        at = first + timedelta(seconds=window * i / timers)
        due[rt.start("bench_timer", {"fire_at": _iso(at)})] = at
    exe = Path(sys.executable).with_name("tourflow")
    command = [str(exe), "worker"] if exe.exists() else [sys.executable, "-c",
                                                           "from webapp.cli import main; main()", "worker"]
    env = {**os.environ, "TOURFLOW_DATABASE_URL": url, "TOURFLOW_HOME": str(tmp)}
    logs = [open(tmp / f"worker{n}.log", "w") for n in range(workers)]  # noqa: SIM115 - closed below
    procs = [subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    stop, loaded = threading.Event(), [0]
    load = threading.Thread(target=_background_load, args=(rt, load_per_s, stop, loaded), daemon=True)
    load.start()
    try:
        deadline = time.monotonic() + (first - datetime.now(UTC)).total_seconds() + window + 60
        fired: dict[int, datetime] = {}
        while len(fired) < timers and time.monotonic() < deadline:
            time.sleep(0.5)
            fired = _fired(rt, set(due))
    finally:
        stop.set()
        load.join(30)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        for log in logs:
            log.close()
    late = [max(0.0, (fired[i] - due[i]).total_seconds()) for i in fired]
    report = {
        "timers": timers, "window_s": window, "workers": workers, "background_load_per_s": load_per_s,
        "background_instances": loaded[0], "fired": len(fired), "missing": timers - len(fired),
        "lateness_s": _percentiles(late),
        "target_p99_s": TARGET_P99_S,
        "database": url.split("://", 1)[0],
        "worker_exit_codes": [p.returncode for p in procs],
    }
    lateness = report["lateness_s"] or {}
    report["meets_target"] = bool(lateness) and report["missing"] == 0 and lateness.get("p99", 99) < TARGET_P99_S
    if echo is not None:
        echo(f"timer accuracy: {timers} timers over {window:g} s, {workers} worker process(es), "
             f"background load {load_per_s:g} instances/s ({loaded[0]} done)")
        if lateness:
            echo("  lateness: " + ", ".join(f"{k} {v:.3f} s" for k, v in lateness.items())
                 + f"  (target p99 < {TARGET_P99_S:g} s: {'met' if report['meets_target'] else 'NOT met'})")
        echo(f"  fired {len(fired)}/{timers}; workers exited with {report['worker_exit_codes']}")
    return report


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 3)

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": round(ordered[-1], 3)}


def _fired(rt: Runtime, ids: set[int]) -> dict[int, datetime]:
    with rt.db.read() as session:
        rows = session.execute(select(AuditEvent.instance_id, AuditEvent.at).where(
            AuditEvent.stream.in_([instance_stream(i) for i in ids]), AuditEvent.kind == "timer_fired"))
        return {i: at.replace(tzinfo=UTC) for i, at in rows}


__all__ = ["run_timer_bench", "TARGET_P99_S"]
