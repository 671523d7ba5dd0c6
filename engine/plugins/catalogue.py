"""The registered handlers as a process owner picks one for a service task: its name, what it does
(the first paragraph of its docstring), the parameters the diagram passes (beyond the context),
and whether it writes to the database."""

from __future__ import annotations

import inspect
import json
from typing import Any

from engine.plugins.handlers import get_handler, handler_names, handler_writes


def _default(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def describe(name: str) -> dict[str, Any]:
    func = get_handler(name)
    params = list(inspect.signature(func).parameters.values())[1:]  # the first is the context
    doc = inspect.getdoc(func) or ""
    return {
        "name": name,
        "summary": doc.split("\n\n", 1)[0].replace("\n", " ").strip(),
        "parameters": [{"name": p.name, "required": p.default is inspect.Parameter.empty,
                        "default": None if p.default is inspect.Parameter.empty else _default(p.default),
                        "type": None if p.annotation is inspect.Parameter.empty else str(p.annotation)}
                       for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)],
        "writes": handler_writes(func),
        "module": func.__module__,
    }


def handler_catalogue() -> list[dict[str, Any]]:
    """Every registered handler, by name."""
    return [describe(name) for name in sorted(handler_names())]


__all__ = ["describe", "handler_catalogue"]
