"""Saving and loading a workflow: tourflow's codec against SpiffWorkflow's serializer, per call.

The bench processes run in memory with raw SpiffWorkflow (engine/bench/core.py's RawRunner engine):
`bench_user_task` at its user task and completed, `bench_service_chain` completed, and `bench_loop_auto`
after `LOOP_PASSES` passes (a large tree; raw SpiffWorkflow keeps every pass). Each workflow is dumped
and its text loaded, with SpiffWorkflow's own serializer (the stock path of WorkflowCodec, the same text)
and with the codec, in alternating batches; the figure is the minimum per call of each.

Target: one user-task instance's codec work (two dumps, one loads) at most `TARGET_RATIO` of the stock
serializer's, and every text identical to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bench.core import FORM_DATA, PROCESSES, RawRunner
from engine.bpmn.codec import WorkflowCodec

TARGET_RATIO = 0.6
BATCHES = 5
LOOP_PASSES = 60


def _cases() -> dict[str, tuple[BpmnWorkflow, Any]]:
    user_task, service_chain = PROCESSES
    runner = RawRunner(user_task)
    model = SimpleNamespace(spec=runner.spec, subprocess_specs=runner.subprocess_specs)
    waiting = BpmnWorkflow(runner.spec, runner.subprocess_specs, script_engine=runner.script_engine)
    waiting.do_engine_steps()
    done = BpmnWorkflow(runner.spec, runner.subprocess_specs, script_engine=runner.script_engine)
    done.do_engine_steps()
    task = done.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data.update(FORM_DATA)
    task.run()
    done.do_engine_steps()
    chain = RawRunner(service_chain)
    loop = RawRunner(replace(service_chain, process_id="bench_loop_auto"))
    looped = BpmnWorkflow(loop.spec, loop.subprocess_specs, script_engine=loop.script_engine)
    looped.get_tasks(state=TaskState.READY)[0].data.update({"counter": 0, "passes": LOOP_PASSES})
    looped.do_engine_steps()
    return {
        "user_task_waiting": (waiting, model),
        "user_task_completed": (done, model),
        "service_chain": (chain.run_one(), SimpleNamespace(spec=chain.spec, subprocess_specs=chain.subprocess_specs)),
        f"loop_{LOOP_PASSES}_passes": (looped, SimpleNamespace(spec=loop.spec, subprocess_specs=loop.subprocess_specs)),
    }


def _per_call_us(call: Callable[..., Any], args: tuple, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call(*args)
    return (time.perf_counter() - started) * 1e6 / calls


def run_codec_bench(calls: int = 1000, echo: Callable[[str], Any] | None = None) -> dict[str, Any]:
    if calls < 1:
        raise ValueError("calls must be at least 1")
    codec = WorkflowCodec()
    rows: dict[str, dict[str, Any]] = {}
    identical = True
    for name, (workflow, model) in _cases().items():
        text = codec.stock_dumps(workflow)
        same = codec.dumps(workflow) == text and codec.stock_dumps(codec.loads(text, model)) == codec.stock_dumps(
            codec.stock_loads(text, model))
        identical = identical and same
        n = max(1, calls * 2000 // max(len(text), 2000))  # fewer calls for large texts
        best = {"stock_dumps": [], "dumps": [], "stock_loads": [], "loads": []}
        for _ in range(BATCHES):
            best["stock_dumps"].append(_per_call_us(codec.stock_dumps, (workflow,), n))
            best["dumps"].append(_per_call_us(codec.dumps, (workflow,), n))
            best["stock_loads"].append(_per_call_us(codec.stock_loads, (text, model), n))
            best["loads"].append(_per_call_us(codec.loads, (text, model), n))
        row = {key: round(min(values), 1) for key, values in best.items()}
        rows[name] = {"bytes": len(text), "tasks": len(workflow.tasks), "identical": same, **row}
    waiting, completed = rows["user_task_waiting"], rows["user_task_completed"]
    stock = waiting["stock_dumps"] + completed["stock_dumps"] + completed["stock_loads"]
    fast = waiting["dumps"] + completed["dumps"] + completed["loads"]
    ratio = round(fast / stock, 3) if stock else None
    meets = ratio is not None and ratio <= TARGET_RATIO and identical
    report = {"calls": calls, "cases": rows, "user_task_stock_us": round(stock, 1), "user_task_us": round(fast, 1),
              "ratio": ratio, "identical": identical, "target": f"codec/stock <= {TARGET_RATIO:g}",
              "target_ratio": TARGET_RATIO, "meets_target": meets}
    if echo is not None:
        echo(f"codec: one user-task instance's two dumps and one loads {stock:.1f} µs with SpiffWorkflow's "
             f"serializer -> {fast:.1f} µs, ratio {ratio} (target <= {TARGET_RATIO:g}, same text): "
             f"{'meets' if meets else 'MISSES'}")
        for name, row in rows.items():
            echo(f"  {name:>20}: {row['tasks']:>4} tasks, {row['bytes']:>7} bytes: dumps {row['stock_dumps']:.1f} -> "
                 f"{row['dumps']:.1f} µs, loads {row['stock_loads']:.1f} -> {row['loads']:.1f} µs"
                 f"{'' if row['identical'] else ' (TEXT DIFFERS)'}")
    return report


__all__ = ["run_codec_bench"]
