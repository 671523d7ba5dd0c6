"""The engine's script engine for SpiffWorkflow: every expression and script goes to the sandbox.

Gateway conditions, timer expressions, message payloads, script tasks and pre/post scripts are
all evaluated by `engine.sandbox` (checked code, a separate process, time and memory budgets),
whether a step runs them, or replay, or the heatmap. See docs/sandbox.md.
"""

from __future__ import annotations

import ast
import functools
import json
import math
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.clock import install_timer_patch
from engine.errors import ScriptError
from engine.sandbox import check_source
from engine.sandbox.calls import check_plain, run
from engine.sandbox.guards import (
    CHINA,
    FIXED_NAMES,
    MONTH_END_HOUR,
    add_days,
    add_hours,
    at_fraction,
    month_end,
)
from engine.sandbox.plain import plain_copy

__all__ = ["CHINA", "MONTH_END_HOUR", "ScriptEngine", "SandboxedEnvironment", "add_days", "add_hours",
           "at_fraction", "check_source", "month_end"]


class SandboxedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's environment interface, answered by the sandbox."""

    def __init__(self):
        super().__init__({})

    def evaluate(self, expression, context, external_context=None):
        source = expression.strip()
        known = literal_value(source) or data_lookup(source, context)
        if known is not None:
            check_plain(context, external_context)  # data scripts cannot read is refused all the same
            return known[0]
        return run("eval", source, context, external_context)["value"]

    def execute(self, script, context, external_context=None):
        after = run("exec", script, context, external_context)["data"]
        context.clear()
        context.update(after)
        return True


LITERAL_MAX = 200  # characters: longer expressions go to the sandbox whatever they hold


def _expression(source: str) -> ast.expr | None:
    """The parsed expression of a short `source`; None when it is too long or not an expression."""
    if len(source) > LITERAL_MAX:
        return None
    try:
        return ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError):
        return None


@functools.lru_cache(maxsize=1024)
def literal_value(source: str) -> tuple[Any] | None:
    """(value,) when `source` is a lone literal (a string, a whole or finite decimal number, True,
    False or None, e.g. a service task's parameter `0` or `"confirm"`), else None. Such an
    expression reads no data and calls nothing: its value is the sandbox's answer, known without
    a round trip to the sandbox process."""
    node = _expression(source)
    negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    if negative:
        node = node.operand
    if not isinstance(node, ast.Constant) or type(node.value) not in (str, int, float, bool, type(None)):
        return None
    value = node.value
    if negative:
        if type(value) not in (int, float):
            return None
        value = -value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return (value,)


@functools.lru_cache(maxsize=1024)
def _data_path(source: str) -> tuple[str, tuple[str | int, ...]] | None:
    """`counter['n']` -> ("counter", ("n",)): a data key, then constant keys and indexes; else None."""
    node = _expression(source)
    keys: list[str | int] = []
    while isinstance(node, ast.Subscript):
        key = node.slice
        if not isinstance(key, ast.Constant) or type(key.value) not in (str, int):
            return None
        keys.append(key.value)
        node = node.value
    if not isinstance(node, ast.Name) or node.id.startswith("_") or node.id in FIXED_NAMES:
        return None
    return node.id, tuple(reversed(keys))


def data_lookup(source: str, data: dict[str, Any]) -> tuple[Any] | None:
    """(value,) when `source` only reads the data (a key, then constant keys or list indexes, e.g.
    `counter['n']`) and every step finds its value; else None, and the sandbox answers (a missing
    key's error included). The value is what the sandbox would hand back: its JSON copy."""
    path = _data_path(source)
    if path is None or path[0] not in data:
        return None
    value = data[path[0]]
    for key in path[1]:
        found = (type(value) is dict and type(key) is str and key in value) or (
            type(value) is list and type(key) is int and -len(value) <= key < len(value))
        if not found:
            return None
        value = value[key]
    copied = plain_copy(value, finite=True)  # the JSON copy, without writing the JSON
    if copied is not None:
        return copied
    try:
        return (json.loads(json.dumps(value, allow_nan=False)),)
    except (TypeError, ValueError):
        return None


ServiceCaller = Callable[[Any, str, dict[str, Any]], Any]


class ScriptEngine(PythonScriptEngine):
    """Sandboxed evaluation plus our own service-task dispatch.

    SpiffWorkflow's own `call_service` hides the handler's exception behind a
    `NameError: script`; the runtime installs `service_caller` to call the handler
    registry and keep the real error.
    """

    def __init__(self, service_caller: ServiceCaller | None = None):
        install_timer_patch()
        super().__init__(environment=SandboxedEnvironment())
        self.service_caller = service_caller

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        if self.service_caller is None:
            raise ScriptError(f"no handler dispatch installed for service task {operation_name!r}",
                              key="script.no_dispatch", params={"operation": operation_name})
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        return self.service_caller(task, operation_name, params)
