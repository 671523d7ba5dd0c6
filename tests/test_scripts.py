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
