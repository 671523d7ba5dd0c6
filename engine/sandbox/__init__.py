"""The script sandbox: what a process file's expressions and scripts may do, and where they run.

Expressions (gateway conditions, timer expressions, message payloads) and scripts (script
tasks, pre/post scripts) come from process owners: untrusted input. They are

- **checked** (`compiler.check_source`): only an allowlist of syntax, no name or attribute
  starting with `_`, no attribute outside the per-type method allowlist (`rules.py`), through
  RestrictedPython's guarded compile plus our own rules; lint and deploy refuse what fails;
- **run in a separate interpreter** (`pool.py` → `child.py`): a fresh `python -I` process with
  an empty environment, no database connection and no secrets, holding only JSON data and a
  fixed set of functions (`guards.py`), with an address-space limit (memory budget) and killed
  when it passes its time budget. A script that is still running when the step holds the
  database write lock for longer than a short grace makes the step let go of the lock first
  (`outcomes.py`).
"""

from engine.sandbox.compiler import check_source
from engine.sandbox.errors import ScriptBudgetExceeded, ScriptFailed, ScriptTooSlowUnderLock

__all__ = ["check_source", "ScriptBudgetExceeded", "ScriptFailed", "ScriptTooSlowUnderLock"]
