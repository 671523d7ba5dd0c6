"""What can go wrong with a sandboxed script, as the engine sees it."""

from __future__ import annotations

from engine.errors import ScriptError


class ScriptFailed(ScriptError):
    """The script ran and raised (a missing name, a refused attribute, a type error...)."""


class ScriptBudgetExceeded(ScriptError):
    """The script ran out of its time or memory budget and was stopped."""


class ScriptTooSlowUnderLock(BaseException):
    """A script is still running after the grace a step may hold the write lock for.

    Not a failure: the step rolls back (letting go of the lock), waits for the script outside
    it, and runs again with the outcome remembered (outcomes.py). `call` is the pending call.
    """

    def __init__(self, call):
        super().__init__("a script outlived the write-lock grace; the step lets go of the lock and waits")
        self.call = call
