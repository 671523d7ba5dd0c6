"""One evaluation or execution of sandboxed code, as the engine asks for it."""

from __future__ import annotations

import json
import time
from typing import Any

from engine.calendar import calendar_setting
from engine.clock import utcnow
from engine.sandbox.errors import ScriptBudgetExceeded, ScriptFailed, ScriptTooSlowUnderLock
from engine.sandbox.outcomes import call_key, remembered, under_lock
from engine.sandbox.plain import is_plain
from engine.sandbox.pool import POOL
from engine.sandbox.rules import lock_grace, time_budget


def run(mode: str, source: str, data: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run `source` ('eval' or 'exec') on a JSON copy of `data`; the sandbox's answer.

    Raises ScriptFailed / ScriptBudgetExceeded for a script that failed or ran out of budget,
    and ScriptTooSlowUnderLock when the caller holds the write lock and the script outlives the
    grace (see outcomes.py).
    """
    data_text, extra_text = _json(data, "the task data"), _json(extra or {}, "the data objects")
    now = utcnow().isoformat()
    key = call_key(mode, source, data_text, extra_text, now)
    answer = remembered(key)
    if answer is None:
        header = json.dumps({"mode": mode, "source": source, "now": now, "calendar": calendar_setting()},
                            ensure_ascii=False)
        request = f'{header[:-1]}, "data": {data_text}, "extra": {extra_text}}}'
        budget = time_budget()
        call = POOL.start(request, key, budget)
        if under_lock():
            answer = POOL.wait(call, time.monotonic() + lock_grace())
            if answer is None:
                raise ScriptTooSlowUnderLock(call)
        else:
            answer = call.finish()
    return _result(answer, source)


def _result(answer: dict[str, Any], source: str) -> dict[str, Any]:
    if answer["ok"]:
        return answer
    snippet = " ".join(source.split())
    snippet = snippet if len(snippet) <= 120 else snippet[:117] + "..."
    line = f" (line {answer['line']})" if answer.get("line") else ""
    message = f"{answer['message']}{line} in {snippet!r}"
    if answer["kind"] in ("time", "memory"):
        raise ScriptBudgetExceeded(message)
    raise ScriptFailed(message)


def check_plain(data: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    """Refuse, as a sandbox call would, data (or data objects) holding a value scripts cannot read.
    Plain data (engine/sandbox/plain.py) is readable without writing its JSON."""
    if is_plain(data) and (not extra or is_plain(extra)):
        return
    _json(data, "the task data")
    _json(extra or {}, "the data objects")


def _json(data: dict[str, Any], what: str) -> str:
    """`data` as JSON (keys sorted: the text is also the memory key); a value that is not plain
    data is refused, never stringified."""
    try:
        return json.dumps(data, ensure_ascii=False, allow_nan=True, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ScriptFailed(f"{what} holds a value scripts cannot read: {exc}") from None
