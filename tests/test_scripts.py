"""Gateway conditions and scripts run restricted: data in, no imports, no dunders, no files."""

from __future__ import annotations

import pytest

from engine.errors import ScriptError
from engine.scripts import RestrictedEnvironment, check_source


@pytest.mark.parametrize("source, message", [
    ("__import__('os').system('id')", "name '__import__' is not allowed"),
    ("open('/etc/passwd').read()", "name 'open' is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute '__class__' is not allowed"),
    ("getattr(kind, 'upper')()", "name 'getattr' is not allowed"),
    ("2 ** 10 ** 10", "'**' needs a constant exponent"),
    ("kind ==", "syntax error"),
])
def test_unsafe_or_broken_expressions_are_refused(source, message):
    problems = check_source(source, "eval")
    assert any(message in text for _, _, text in problems)


@pytest.mark.parametrize("script, message", [
    ("import os", "import is not allowed"),
    ("while True:\n    pass", "while loops are not allowed"),
    ("def f():\n    return 1", "function definitions are not allowed"),
])
def test_unsafe_scripts_are_refused(script, message):
    assert message in check_source(script, "exec")[0][2]


def test_conditions_read_instance_data():
    env = RestrictedEnvironment()
    data = {"time_class": "旅游过程中", "involves_multiple_departments": False, "n": [1, 2, 3]}
    assert env.evaluate('time_class == "旅游过程中" and not involves_multiple_departments', data) is True
    assert env.evaluate("sum(n) + len(n)", data) == 9


def test_scripts_write_data_but_leave_no_builtins_behind():
    env = RestrictedEnvironment()
    data = {"amount": 100}
    env.execute("total = amount * 2\nlabel = str(total)", data)
    assert data == {"amount": 100, "total": 200, "label": "200"}


def test_evaluating_an_unsafe_expression_raises_script_error():
    with pytest.raises(ScriptError, match="unsafe expression"):
        RestrictedEnvironment().evaluate("__import__('os')", {})


def test_builtins_outside_the_safe_list_are_absent():
    with pytest.raises(NameError):
        RestrictedEnvironment().evaluate("print('x')", {})


@pytest.mark.parametrize("moment, expected", [
    ("2026-11-23T10:00:00+08:00", "2026-11-30T18:00:00+08:00"),
    ("2026-11-30T18:00:00+08:00", "2026-12-31T18:00:00+08:00"),
    ("2026-12-31T18:00:01+08:00", "2027-01-31T18:00:00+08:00"),
    ("2027-02-10T00:00:00Z", "2027-02-28T18:00:00+08:00"),
    ("2028-02-29T17:59:00+08:00", "2028-02-29T18:00:00+08:00"),
])
def test_month_end_is_the_next_close_after_the_moment(moment, expected):
    assert RestrictedEnvironment().evaluate(f"month_end({moment!r})", {}) == expected


def test_calendar_helpers_are_available_and_follow_the_clock():
    from datetime import UTC, datetime

    from engine.clock import frozen_at

    env = RestrictedEnvironment()
    with frozen_at(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)):
        assert env.evaluate("now_iso()", {}) == "2026-11-23T02:00:00+00:00"
        assert env.evaluate("add_days(now_iso(), 7)", {}) == "2026-11-30T02:00:00+00:00"
    assert env.evaluate("add_hours(start, 1.5)", {"start": "2026-11-23T10:00:00+08:00"}) == "2026-11-23T11:30:00+08:00"


def test_get_reads_a_data_key_that_may_be_missing():
    env = RestrictedEnvironment()
    assert env.evaluate('get("promised_at") is None', {}) is True
    assert env.evaluate('get("promised_at", "x")', {"promised_at": "2026-11-30"}) == "2026-11-30"


def test_at_fraction_gives_the_warning_moment_before_a_deadline():
    env = RestrictedEnvironment()
    assert env.evaluate('at_fraction("2026-11-23T08:00:00+08:00", "2026-11-27T08:00:00+08:00", 0.75)', {}) == \
        "2026-11-26T08:00:00+08:00"
