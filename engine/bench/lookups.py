"""The inbox lookup of `tourflow bench`, timed apart from the throughput.

The persisted side's client finds its task in the start's answer (`Runtime.start_answered`), as the
start page and an API client do, so the timed batches make no inbox lookup. What the lookup
(`Runtime.tasks`, one read transaction) costs is still reported, timed on instances of its own.
"""

from __future__ import annotations

import time
from typing import Any


def time_lookups(runner, count: int) -> None:
    """The inbox lookup of `count` waiting instances of their own, timed one by one into
    `runner.lookups`; each instance is then completed (its ids in `runner.lookup_ids`)."""
    rt, process, user, form = runner.runtime, runner.process, runner.user, runner.form
    for _ in range(count if process.user_tasks else 0):
        instance_id = rt.start(process.process_id, actor=user)
        for _task in range(process.user_tasks):
            t0 = time.perf_counter()
            ready = rt.tasks(user=user, instance_id=instance_id)
            runner.lookups.append(time.perf_counter() - t0)
            if len(ready) != 1:
                raise RuntimeError(f"{process.process_id} instance {instance_id}: the inbox lookup found "
                                   f"{len(ready)} ready tasks, expected one")
            rt.complete(ready[0]["id"], user, form)
        runner.lookup_ids.append(instance_id)


def lookup_footnote(report: dict[str, Any]) -> list[str]:
    """What the persisted side's throughput holds, and the lookups timed apart."""
    lines = ["(a step is one start or complete call; the client finds its task in the start's answer, as the web "
             "start page does, so the throughput holds no inbox lookup"]
    for pid, row in report["processes"].items():
        persisted = row["persisted"]
        if persisted["inbox_lookup_ms"]:
            lookup = persisted["inbox_lookup_ms"]
            count = persisted["inbox_lookup_instances"]
            lines.append(f" {pid}: the inbox lookup, timed apart on {count} instance{'s' if count != 1 else ''}: "
                         f"p50 {lookup['p50']:.2f}ms, p95 {lookup['p95']:.2f}ms")
    lines[-1] += ")"
    return lines


__all__ = ["lookup_footnote", "time_lookups"]
