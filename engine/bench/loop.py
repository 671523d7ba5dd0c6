"""Long loops: does a pass cost the same at the end of a long loop as at its start?

Two processes of engine/bench/processes/, with the number of passes in the start data:

* `bench_loop`: start -> user task `loop_pass` -> script `counter = counter + 1` -> exclusive
  gateway back to the user task while `counter < passes` -> end. One pass is one persisted step
  (the inbox lookup and `Runtime.complete`: load, run, write back), timed one by one;
* `bench_loop_auto`: the same loop without the user task: all passes run in one engine run (one
  step), which must complete with `counter == passes` (SpiffWorkflow's task walks stop at depth
  1,000, about 333 passes, unless finished iterations leave the tree).

Reported: the median pass of the first 50 and of the last 50 (target: their ratio within
1 +/- 25%), the median at a few points along the way, and the stored instance's task count and
serialized bytes at those points and at the end. The two windows are timed side by side: the last
50 passes of the long instance alternate with the first 50 of a second one (`_measure`); the curve
is the long instance's own, pass after pass, so it shows the machine's load too.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.bench.core import BENCH_DIR, BENCH_USER, DATABASE_URL_ENV, prepare
from engine.run.deployments import deploy_file
from engine.run.runtime import Runtime
from engine.store.db import Database
from engine.store.models import ProcessInstance

LOOP_PROCESS = "bench_loop"
AUTO_PROCESS = "bench_loop_auto"
WINDOW = 50  # passes in the first and in the last window
TARGET_LOW, TARGET_HIGH = 0.75, 1.25  # last/first window medians


def stored_shape(rt: Runtime, instance_id: int) -> dict[str, Any]:
    """What the instance's stored state holds: its status, tasks (subprocesses included) and bytes."""
    with rt.db.read() as session:
        instance = session.get(ProcessInstance, instance_id)
        text, status, data = instance.serialized, instance.status, instance.data
    stored = json.loads(text)
    tasks = len(stored["tasks"]) + sum(len(sub["tasks"]) for sub in stored.get("subprocesses", {}).values())
    return {"status": str(status), "tasks": tasks, "bytes": len(text.encode("utf-8")), "counter": data.get("counter")}


def _checkpoints(passes: int) -> list[int]:
    return sorted({p for p in (WINDOW, passes // 4, passes // 2, passes) if 0 < p <= passes})


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 3)


class LoopRun:
    """One `bench_loop` instance of `passes` passes, run pass by pass as `user` (who holds the staff lane),
    each pass timed, its stored shape taken at the checkpoints."""

    def __init__(self, rt: Runtime, passes: int, user: str = BENCH_USER):
        self.rt, self.user = rt, user
        self.instance_id = rt.start(LOOP_PROCESS, data={"counter": 0, "passes": passes}, actor=user)
        self.checkpoints = set(_checkpoints(passes))
        self.seconds: list[float] = []
        self.shapes: dict[int, dict[str, Any]] = {}

    def one_pass(self) -> None:
        started = time.perf_counter()
        ready = self.rt.tasks(user=self.user, instance_id=self.instance_id)
        done = len(self.seconds) + 1
        if len(ready) != 1:
            raise RuntimeError(f"{LOOP_PROCESS} instance {self.instance_id}: pass {done}: expected one ready task, "
                               f"found {len(ready)}")
        self.rt.complete(ready[0]["id"], self.user, {})
        self.seconds.append(time.perf_counter() - started)
        if done in self.checkpoints:
            self.shapes[done] = stored_shape(self.rt, self.instance_id)


def loop_passes(rt: Runtime, passes: int, user: str = BENCH_USER) -> dict[str, Any]:
    """Run one `bench_loop` instance to its end; per-pass seconds and the stored shape at checkpoints."""
    run = LoopRun(rt, passes, user)
    for _ in range(passes):
        run.one_pass()
    return {"instance_id": run.instance_id, "seconds": run.seconds, "shapes": run.shapes}


def run_loop_bench(passes: int = 1000, echo: Callable[[str], Any] | None = None,
                   database_url: str | None = None) -> dict[str, Any]:
    if passes < 2 * WINDOW:
        raise ValueError(f"passes must be at least {2 * WINDOW} (two windows of {WINDOW})")
    url = database_url or os.environ.get(DATABASE_URL_ENV)
    with tempfile.TemporaryDirectory(prefix="tourflow-bench-loop-") as tmp:
        db = Database(url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            rt = prepare(db)
            for process_id in (LOOP_PROCESS, AUTO_PROCESS):
                with db.write() as session, session.begin():
                    deploy_file(session, BENCH_DIR / f"{process_id}.bpmn", "bench")
            return _measure(rt, passes, echo)
        finally:
            db.dispose()


def _measure(rt: Runtime, passes: int, echo) -> dict[str, Any]:
    """The long instance runs to 50 passes before its end; then its last 50 passes alternate with the
    first 50 of a second instance of the same loop, so a burst of load on the machine hits both windows
    alike (as the raw/persisted batches of engine/bench/core.py do)."""
    long = LoopRun(rt, passes)
    for _ in range(passes - WINDOW):
        long.one_pass()
    fresh = LoopRun(rt, passes)
    for _ in range(WINDOW):
        fresh.one_pass()
        long.one_pass()
    seconds, shapes = long.seconds, long.shapes
    first, last = _median_ms(fresh.seconds), _median_ms(seconds[-WINDOW:])
    ratio = round(last / first, 3) if first else None
    end = stored_shape(rt, long.instance_id)
    completed = end["status"] == "completed" and end["counter"] == passes
    curve = {str(p): {"median_ms": _median_ms(seconds[max(0, p - WINDOW):p]), **shapes[p]}
             for p in sorted(shapes)}
    started = time.perf_counter()
    auto_id = rt.start(AUTO_PROCESS, data={"counter": 0, "passes": passes}, actor=BENCH_USER)
    auto_seconds = time.perf_counter() - started
    auto = {**stored_shape(rt, auto_id), "seconds": round(auto_seconds, 4),
            "per_pass_ms": round(auto_seconds * 1000 / passes, 4)}
    auto["completed"] = auto["status"] == "completed" and auto["counter"] == passes
    meets = (ratio is not None and TARGET_LOW <= ratio <= TARGET_HIGH and completed and auto["completed"])
    report = {"passes": passes, "window": WINDOW, "first_ms": first, "last_ms": last, "ratio": ratio,
              "target": f"{TARGET_LOW:g} <= last/first <= {TARGET_HIGH:g}", "target_low": TARGET_LOW,
              "target_high": TARGET_HIGH, "meets_target": meets, "completed": completed,
              "end_tasks": end["tasks"], "end_bytes": end["bytes"], "curve": curve, "auto": auto}
    if echo is not None:
        verdict = "meets" if meets else "MISSES"
        echo(f"loop: {passes} passes, one user task each: median pass {first:.2f} ms (first {WINDOW}, of a second "
             f"instance alongside) -> "
             f"{last:.2f} ms (last {WINDOW}), ratio {ratio} (target {TARGET_LOW:g}-{TARGET_HIGH:g}): {verdict}")
        for point, row in curve.items():
            echo(f"  pass {point:>5}: median {row['median_ms']:.2f} ms, stored {row['tasks']} tasks, "
                 f"{row['bytes']} bytes")
        echo(f"  end: {'completed' if completed else 'NOT completed'}, counter {end['counter']}; "
             f"script-only loop in one step: {'completed' if auto['completed'] else 'NOT completed'} "
             f"(counter {auto['counter']}), {auto['seconds']:.3f} s, stored {auto['tasks']} tasks, "
             f"{auto['bytes']} bytes")
    return report


__all__ = ["run_loop_bench", "loop_passes", "stored_shape"]
