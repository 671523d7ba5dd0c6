"""Gateway conditions and scripts run in the sandbox: data in, no imports, no dunders, no files.

The attack table (deploy, start, complete, replay, heatmap) is tests/test_sandbox_attacks.py."""

from __future__ import annotations

import os
import re

import pytest

from engine.errors import ScriptError
from engine.sandbox.scripts import SandboxedEnvironment, check_source


@pytest.mark.parametrize("source, message", [
    ("__import__('os').system('id')", "name '__import__' is not allowed"),
    ("open('/etc/passwd').read()", "name 'open' is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute '__class__' is not allowed"),
    ("getattr(kind, 'upper')()", "name 'getattr' is not allowed"),
    ("'{0.__globals__}'.format(kind)", "attribute 'format' is not allowed"),
    ("kind ==", "syntax error"),
])
def test_unsafe_or_broken_expressions_are_refused(source, message):
    problems = check_source(source, "eval")
    assert any(message in text for _, _, text in problems)


@pytest.mark.parametrize("script, message", [
    ("import os", "import is not allowed"),
    ("while True:\n    pass", "while loops are not allowed"),
    ("def f():\n    return 1", "function definitions are not allowed"),
    ("import os, sys", "import is not allowed"),
])
def test_unsafe_scripts_are_refused(script, message):
    assert message in check_source(script, "exec")[0][2]


def test_conditions_read_instance_data():
    env = SandboxedEnvironment()
    data = {"time_class": "旅游过程中", "involves_multiple_departments": False, "n": [1, 2, 3]}
    assert env.evaluate('time_class == "旅游过程中" and not involves_multiple_departments', data) is True
    assert env.evaluate("sum(n) + len(n)", data) == 9


def test_scripts_write_data_but_leave_no_builtins_behind():
    env = SandboxedEnvironment()
    data = {"amount": 100}
    env.execute("total = amount * 2\nlabel = str(total)", data)
    assert data == {"amount": 100, "total": 200, "label": "200"}


def test_evaluating_an_unsafe_expression_raises_script_error():
    with pytest.raises(ScriptError, match="unsafe expression"):
        SandboxedEnvironment().evaluate("__import__('os')", {})


def test_builtins_outside_the_safe_list_are_absent():
    with pytest.raises(ScriptError, match="name 'print' is not allowed"):
        SandboxedEnvironment().evaluate("print('x')", {})
    with pytest.raises(ScriptError, match="NameError: name 'hex' is not defined"):
        SandboxedEnvironment().evaluate("hex(1)", {})


@pytest.mark.parametrize("moment, expected", [
    ("2026-11-23T10:00:00+08:00", "2026-11-30T18:00:00+08:00"),
    ("2026-11-30T18:00:00+08:00", "2026-12-31T18:00:00+08:00"),
    ("2026-12-31T18:00:01+08:00", "2027-01-31T18:00:00+08:00"),
    ("2027-02-10T00:00:00Z", "2027-02-28T18:00:00+08:00"),
    ("2028-02-29T17:59:00+08:00", "2028-02-29T18:00:00+08:00"),
])
def test_month_end_is_the_next_close_after_the_moment(moment, expected):
    assert SandboxedEnvironment().evaluate(f"month_end({moment!r})", {}) == expected


def test_calendar_helpers_are_available_and_follow_the_clock():
    from datetime import UTC, datetime

    from engine.clock import frozen_at

    env = SandboxedEnvironment()
    with frozen_at(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)):
        assert env.evaluate("now_iso()", {}) == "2026-11-23T02:00:00+00:00"
        assert env.evaluate("add_days(now_iso(), 7)", {}) == "2026-11-30T02:00:00+00:00"
    assert env.evaluate("add_hours(start, 1.5)", {"start": "2026-11-23T10:00:00+08:00"}) == "2026-11-23T11:30:00+08:00"


def test_get_reads_a_data_key_that_may_be_missing():
    env = SandboxedEnvironment()
    assert env.evaluate('get("promised_at") is None', {}) is True
    assert env.evaluate('get("promised_at", "x")', {"promised_at": "2026-11-30"}) == "2026-11-30"


def test_at_fraction_gives_the_warning_moment_before_a_deadline():
    env = SandboxedEnvironment()
    assert env.evaluate('at_fraction("2026-11-23T08:00:00+08:00", "2026-11-27T08:00:00+08:00", 0.75)', {}) == \
        "2026-11-26T08:00:00+08:00"


# ---- the sandbox process: plain data in and out, budgets, nothing of the server's -------------

def test_scripts_see_plain_data_only_and_must_leave_plain_data():
    from datetime import datetime

    env = SandboxedEnvironment()
    with pytest.raises(ScriptError, match="holds a value scripts cannot read"):
        env.evaluate("1", {"when": datetime(2026, 1, 1)})
    with pytest.raises(ScriptError, match="not plain data"):
        env.execute("tags = set(['a'])", {})
    data = {"n": 1}
    env.execute("n = n + 1\nrows = [(1, 2)]", data)
    assert data == {"n": 2, "rows": [[1, 2]]}  # a tuple comes back as a JSON list


def test_a_data_key_cannot_replace_the_guards():
    with pytest.raises(ScriptError, match="attribute '__class__' is not allowed"):
        SandboxedEnvironment().evaluate("x.__class__", {"_getattr_": "no guard", "x": 1})
    # Named like a guard, the key is data: the guard still refuses a type's attributes at run time.
    with pytest.raises(ScriptError, match="attribute 'join' of a type is not available"):
        SandboxedEnvironment().evaluate("str.join('', ['a'])", {"_getattr_": "no guard"})


def _sandbox_pid() -> int:
    from engine.sandbox.pool import POOL

    SandboxedEnvironment().evaluate("1 + 1", {})  # a lone literal is answered without the sandbox
    [pid] = POOL.idle_pids()[-1:]
    return pid


def test_the_sandbox_process_has_no_environment_and_a_memory_cap(monkeypatch):
    from engine.sandbox.pool import POOL

    monkeypatch.setenv("TOURFLOW_DATABASE_URL", "postgresql://secret@db/prod")
    POOL.close()  # the next call starts a process after the variable is set
    pid = _sandbox_pid()
    with open(f"/proc/{pid}/environ", "rb") as environ:
        variables = dict(v.split(b"=", 1) for v in environ.read().split(b"\0") if v)
    assert set(variables) <= {b"LANG", b"PYTHONHASHSEED"}
    with open(f"/proc/{pid}/limits") as limits:
        address_space = next(line for line in limits if line.startswith("Max address space"))
    assert address_space.split()[3] != "unlimited"
    assert os.readlink(f"/proc/{pid}/cwd") == "/"


def test_a_script_past_its_time_budget_is_stopped_and_the_next_one_runs(monkeypatch):
    from engine.sandbox import ScriptBudgetExceeded

    monkeypatch.setenv("TOURFLOW_SCRIPT_TIMEOUT", "0.3")
    env = SandboxedEnvironment()
    with pytest.raises(ScriptBudgetExceeded, match=r"ran longer than its 0.3 s budget and was stopped"):
        env.execute("n = 0\nfor i in range(1000000):\n    for j in range(1000000):\n        n += 1", {})
    assert env.evaluate("1 + 1", {}) == 2


def test_a_script_past_its_memory_budget_is_stopped_and_the_next_one_runs(monkeypatch):
    from engine.sandbox import ScriptBudgetExceeded
    from engine.sandbox.pool import POOL

    monkeypatch.setenv("TOURFLOW_SCRIPT_MEMORY_MB", "64")
    POOL.close()
    env = SandboxedEnvironment()
    with pytest.raises(ScriptBudgetExceeded, match="ran out of its memory budget"):
        env.execute("rows = [[0] * 1000000 for i in range(100)]", {})
    assert env.evaluate("len([0] * 1000000)", {}) == 1000000


@pytest.mark.parametrize("source, message", [
    ("'a' * 10 ** 10", "repeating a sequence to more than 1,000,000 items"),
    ("[0] * 10 ** 9", "repeating a sequence to more than 1,000,000 items"),
    ("10 ** 10 ** 10", "a power with more than 10,000 digits"),
    ("1 << 10 ** 9", "a shift by more than"),
    ("sum(range(10 ** 12))", "range() of more than 1,000,000 numbers"),
    ("int('9' * 5000)", "ValueError"),
])
def test_growth_is_refused_before_it_is_built(source, message):
    with pytest.raises(ScriptError, match=re.escape(message)):
        SandboxedEnvironment().evaluate(source, {})
