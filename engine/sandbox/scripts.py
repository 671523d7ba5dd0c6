"""The engine's script engine for SpiffWorkflow: every expression and script goes to the sandbox.

Gateway conditions, timer expressions, message payloads, script tasks and pre/post scripts are
all evaluated by `engine.sandbox` (checked code, a separate process, time and memory budgets),
whether a step runs them, or replay, or the heatmap. See docs/sandbox.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.clock import install_timer_patch
from engine.errors import ScriptError
from engine.sandbox import check_source
from engine.sandbox.calls import run
from engine.sandbox.guards import CHINA, MONTH_END_HOUR, add_days, add_hours, at_fraction, month_end

__all__ = ["CHINA", "MONTH_END_HOUR", "ScriptEngine", "SandboxedEnvironment", "add_days", "add_hours",
           "at_fraction", "check_source", "month_end"]


class SandboxedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's environment interface, answered by the sandbox."""

    def __init__(self):
        super().__init__({})

    def evaluate(self, expression, context, external_context=None):
        return run("eval", expression.strip(), context, external_context)["value"]

    def execute(self, script, context, external_context=None):
        after = run("exec", script, context, external_context)["data"]
        context.clear()
        context.update(after)
        return True


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
