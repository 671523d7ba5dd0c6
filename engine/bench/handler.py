"""The benchmark's service-task handler (`tourflow bench`, engine/bench/processes/).

`bench_step` does next to nothing on purpose: the benchmark measures what the engine and
the store cost around a handler call, not the handler.
"""

from __future__ import annotations

from typing import Any

from engine.plugins.handlers import HandlerContext, handler


@handler("bench_step", writes=False)
def bench_step(ctx: HandlerContext | None, n: Any = 0) -> dict[str, int]:
    """Count one step: {"n": n + 1}. Writes nothing; `ctx` may be None (the raw side of the bench)."""
    return {"n": int(n) + 1}
