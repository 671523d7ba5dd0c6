"""Replay speed: how long does re-running recorded history take? (aim: 1,000 events in under 1 s)

Instances of the benchmark processes are run to completion with persistence (user-task
instances: start, task ready, task completed, completed; service-chain instances: ten
handler calls each) until the record holds `events` events; then every instance is
replayed (engine/history/replay.py), timed, and checked identical.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine.bench.core import BENCH_USER, DATABASE_URL_ENV, FORM_DATA, prepare
from engine.history.replay import replay
from engine.run.runtime import Runtime
from engine.store.db import Database
from engine.store.models import AuditEvent

TARGET_SECONDS_PER_1000 = 1.0


def _event_count(rt: Runtime) -> int:
    with rt.db.read() as session:
        return session.execute(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.instance_id.is_not(None))).scalar()


def run_replay_bench(events: int = 1000, echo: Callable[[str], Any] | None = None,
                     database_url: str | None = None) -> dict[str, Any]:
    if events < 1:
        raise ValueError("events must be at least 1")
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    with tempfile.TemporaryDirectory(prefix="tourflow-bench-replay-") as tmp:
        db = Database(url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            return _measure(prepare(db), events, echo)
        finally:
            db.dispose()


def _measure(rt: Runtime, events: int, echo) -> dict[str, Any]:
    ids: list[int] = []
    baseline = _event_count(rt)
    while _event_count(rt) - baseline < events:
        instance_id = rt.start("bench_user_task", actor=BENCH_USER)
        [task] = rt.tasks(instance_id=instance_id)
        rt.complete(task["id"], BENCH_USER, FORM_DATA)
        ids.append(instance_id)
        ids.append(rt.start("bench_service_chain", actor=BENCH_USER))
    replayed = 0
    differing = []
    started = time.perf_counter()
    for instance_id in ids:
        result = replay(rt, instance_id)
        replayed += result.events
        if not result.identical:
            differing.append({"instance_id": instance_id, "difference": result.difference})
    seconds = time.perf_counter() - started
    per_1000 = seconds * 1000 / replayed if replayed else None
    report = {"instances": len(ids), "events": replayed, "seconds": round(seconds, 3),
              "seconds_per_1000_events": round(per_1000, 3) if per_1000 is not None else None,
              "events_per_s": round(replayed / seconds) if seconds else None,
              "identical": len(ids) - len(differing), "differing": differing,
              "target_seconds_per_1000": TARGET_SECONDS_PER_1000,
              "meets_target": per_1000 is not None and per_1000 < TARGET_SECONDS_PER_1000 and not differing}
    if echo is not None:
        echo(f"replay: {replayed} events of {len(ids)} instances in {seconds:.3f} s "
             f"({report['seconds_per_1000_events']} s per 1,000 events; target < {TARGET_SECONDS_PER_1000:g} s: "
             f"{'met' if report['meets_target'] else 'NOT met'}); identical {report['identical']}/{len(ids)}")
    return report


__all__ = ["run_replay_bench"]
