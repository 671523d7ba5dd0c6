"""Running sandboxed code from a step without holding the write lock while it is slow.

A step runs inside its write transaction. Each call into the sandbox made there waits only the
short lock grace; a script still running after it raises `ScriptTooSlowUnderLock` (a
BaseException, so neither SpiffWorkflow nor the step mistakes it for the script's own
failure). `lets_go_of_the_lock` around the whole command catches it after the transaction
has rolled back, waits for the script outside any transaction up to its full budget,
remembers the outcome and runs the command again, the clock frozen at the first attempt's
moment, so the same script on the same data is answered from memory at once. Every script
therefore holds the lock for at most the grace, and a runaway one ends as an incident
recorded by a short step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from engine.clock import freeze, is_frozen, unfreeze, utcnow
from engine.sandbox.errors import ScriptBudgetExceeded, ScriptTooSlowUnderLock

F = TypeVar("F", bound=Callable[..., Any])

_remembered: ContextVar[dict[tuple, dict[str, Any]] | None] = ContextVar("tourflow_script_outcomes", default=None)
MAX_ROUNDS = 20


def call_key(mode: str, source: str, data_json: str, extra_json: str, now: str) -> tuple:
    return (mode, source, data_json, extra_json, now)


def remembered(key: tuple) -> dict[str, Any] | None:
    memory = _remembered.get()
    return None if memory is None else memory.get(key)


def under_lock() -> bool:
    """True inside a command that can let go of the lock (so a call waits only the grace)."""
    return _remembered.get() is not None


def lets_go_of_the_lock(func: F) -> F:
    """Decorate a command whose write transaction may run sandboxed code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _remembered.get() is not None:  # an outer command already handles it
            return func(*args, **kwargs)
        token = _remembered.set({})
        # every attempt at the same moment: the clock frozen at the first one's (unless frozen already)
        frozen = None if is_frozen() else freeze(utcnow())
        try:
            for _ in range(MAX_ROUNDS):
                try:
                    return func(*args, **kwargs)
                except ScriptTooSlowUnderLock as slow:
                    _remembered.get()[slow.call.key] = slow.call.finish()
            raise ScriptBudgetExceeded(f"one step ran more than {MAX_ROUNDS} slow scripts; it was stopped")
        finally:
            if frozen is not None:
                unfreeze(frozen)
            _remembered.reset(token)

    return wrapper  # type: ignore[return-value]
