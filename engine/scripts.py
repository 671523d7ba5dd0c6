"""The restricted expression/script engine for gateway conditions and script tasks.

Diagrams come from process owners, not programmers: a condition may read instance data and
compute, but may not import, reach dunder attributes, open files or loop forever. Every
source is checked by walking its AST before it is compiled; checked code is cached.
"""

from __future__ import annotations

import ast
import builtins
import copy
import datetime as _dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from .errors import ScriptError

MAX_SOURCE_CHARS = 20_000
MAX_POW_EXPONENT = 64

_SAFE_BUILTIN_NAMES = ["abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "int", "isinstance", "len", "list", "map", "max", "min", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip", "True", "False", "None"]
SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in _SAFE_BUILTIN_NAMES}

_FORBIDDEN_NODES: dict[type, str] = {
    ast.Import: "import is not allowed",
    ast.ImportFrom: "import is not allowed",
    ast.While: "while loops are not allowed",
    ast.Global: "global is not allowed",
    ast.Nonlocal: "nonlocal is not allowed",
    ast.ClassDef: "class definitions are not allowed",
    ast.AsyncFunctionDef: "async code is not allowed",
    ast.Await: "async code is not allowed",
    ast.Yield: "generators are not allowed",
    ast.YieldFrom: "generators are not allowed",
    ast.Try: "try/except is not allowed",
    ast.With: "with is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.FunctionDef: "function definitions are not allowed",
}
_FORBIDDEN_NAMES = {
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "dir", "type", "object", "breakpoint", "input", "help", "memoryview", "super",
}


def check_source(source: str, mode: str = "eval") -> list[tuple[int, int, str]]:
    """Return (line, col, message) for every unsafe construct; an empty list means safe."""
    if len(source) > MAX_SOURCE_CHARS:
        return [(1, 1, f"script is longer than {MAX_SOURCE_CHARS} characters")]
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        return [(exc.lineno or 1, exc.offset or 1, f"syntax error: {exc.msg}")]
    except (RecursionError, MemoryError):  # CPython's parser on absurd nesting
        return [(1, 1, "syntax error: nested too deeply to parse")]
    problems: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        where = (getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)
        for kind, message in _FORBIDDEN_NODES.items():
            if isinstance(node, kind):
                problems.append((*where, message))
        if isinstance(node, ast.Name) and (node.id.startswith("_") or node.id in _FORBIDDEN_NAMES):
            problems.append((*where, f"name '{node.id}' is not allowed"))
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            problems.append((*where, f"attribute '{node.attr}' is not allowed"))
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Pow)
            and not (isinstance(node.right, ast.Constant) and isinstance(node.right.value, int)
                     and abs(node.right.value) <= MAX_POW_EXPONENT)
        ):
            problems.append((*where, f"'**' needs a constant exponent of at most {MAX_POW_EXPONENT}"))
    return problems


@lru_cache(maxsize=2048)
def _compile_checked(source: str, mode: str):
    problems = check_source(source, mode)
    if problems:
        line, col, message = problems[0]
        raise ScriptError(f"unsafe expression at {line}:{col}: {message}: {source!r}")
    return compile(source, "<string>", mode)


# ---- calendar helpers for timer expressions (the agency works in China time, no DST) ----
CHINA = _dt.timezone(_dt.timedelta(hours=8), "Asia/Shanghai")
MONTH_END_HOUR = 18


def _parse(moment: str) -> _dt.datetime:
    value = _dt.datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=CHINA)


def now_iso() -> str:
    """The engine clock's current moment, ISO 8601."""
    from .clock import utcnow

    return utcnow().isoformat()


def month_end(moment: str) -> str:
    """The next month-end close (last day of the month, 18:00 China time) strictly after `moment`."""
    local = _parse(moment).astimezone(CHINA)
    year, month = local.year, local.month
    while True:
        first_of_next = _dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=CHINA)
        close = (first_of_next - _dt.timedelta(days=1)).replace(hour=MONTH_END_HOUR)
        if close > local:
            return close.isoformat()
        year, month = first_of_next.year, first_of_next.month


def add_days(moment: str, days: float) -> str:
    return (_parse(moment) + _dt.timedelta(days=days)).isoformat()


def add_hours(moment: str, hours: float) -> str:
    return (_parse(moment) + _dt.timedelta(hours=hours)).isoformat()


def at_fraction(start: str, end: str, fraction: float) -> str:
    """The moment `fraction` of the way from `start` to `end` (e.g. 0.75: a warning before a deadline)."""
    first, last = _parse(start), _parse(end)
    return (first + (last - first) * fraction).isoformat()


CALENDAR_HELPERS = {"now_iso": now_iso, "month_end": month_end, "add_days": add_days, "add_hours": add_hours,
                    "at_fraction": at_fraction}


class RestrictedEnvironment(TaskDataEnvironment):
    """Evaluates checked code with a small builtins table; instance data are the globals."""

    def __init__(self):
        super().__init__({"__builtins__": SAFE_BUILTINS, "datetime": _dt, **CALENDAR_HELPERS})

    def evaluate(self, expression, context, external_context=None):
        code = _compile_checked(expression.strip(), "eval")
        scope = copy.copy(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        scope.setdefault("get", lambda key, default=None: context.get(key, default))
        return eval(code, scope)  # noqa: S307 - code is AST-checked, builtins restricted

    def execute(self, script, context, external_context=None):
        code = _compile_checked(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(copy.copy(self.globals))
        context.update(external_context or {})
        try:
            exec(code, context)  # noqa: S102 - code is AST-checked, builtins restricted
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


ServiceCaller = Callable[[Any, str, dict[str, Any]], Any]


class ScriptEngine(PythonScriptEngine):
    """Restricted evaluation plus our own service-task dispatch.

    SpiffWorkflow's own `call_service` hides the handler's exception behind a
    `NameError: script`; the runtime installs `service_caller` to call the handler
    registry and keep the real error.
    """

    def __init__(self, service_caller: ServiceCaller | None = None):
        super().__init__(environment=RestrictedEnvironment())
        self.service_caller = service_caller

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        if self.service_caller is None:
            raise ScriptError(f"no handler dispatch installed for service task {operation_name!r}")
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        return self.service_caller(task, operation_name, params)
