"""The registered handlers as a process owner picks one for a service task: its name, what it does
(the first paragraph of its docstring), the parameters the diagram passes (beyond the context),
the keys of the dict it returns (read from its `return {...}` statements), and whether it writes
to the database."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from typing import Any

from engine.plugins.handlers import get_handler, handler_names, handler_writes


def _default(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _walk_own(body: ast.AST):
    """The nodes of a function body, not those of functions or classes nested in it."""
    stack = list(ast.iter_child_nodes(body))
    while stack:
        node = stack.pop(0)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _dict_keys(value: ast.AST) -> list[str] | None:
    if isinstance(value, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str)
                                           for k in value.keys if k is not None):
        return [k.value for k in value.keys if k is not None]
    return None


def _variable_keys(body: ast.AST, name: str) -> list[str] | None:
    """Keys of `name = {...}` and `name["key"] = ...` in the function; None if `name` is bound otherwise."""
    keys: list[str] = []
    for node in _walk_own(body):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == name:
                    found = _dict_keys(node.value) if node.value is not None else None
                    if found is None:
                        return None
                    keys.extend(found)
                elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                      and target.value.id == name and isinstance(target.slice, ast.Constant)
                      and isinstance(target.slice.value, str)):
                    keys.append(target.slice.value)
    return keys or None


def result_keys(func: Any, depth: int = 0) -> list[str] | None:
    """The keys of the dict the handler returns, in order of first appearance: from `return {...}`,
    from `return result` with `result = {...}` / `result["key"] = ...`, and through a call to a
    function of the same module. None when some return is none of these (the keys are unknown)."""
    try:
        body = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None
    keys: list[str] = []
    for node in _walk_own(body):
        if not isinstance(node, ast.Return):
            continue
        value, found = node.value, None
        if isinstance(value, ast.Dict):
            found = _dict_keys(value)
        elif isinstance(value, ast.Name):
            found = _variable_keys(body, value.id)
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and depth < 2:
            callee = getattr(func, "__globals__", {}).get(value.func.id)
            if inspect.isfunction(callee) and callee.__module__ == func.__module__:
                found = result_keys(callee, depth + 1)
        if found is None:
            return None
        keys.extend(k for k in found if k not in keys)
    return keys


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
        "results": result_keys(func),
        "writes": handler_writes(func),
        "module": func.__module__,
    }


def handler_catalogue() -> list[dict[str, Any]]:
    """Every registered handler, by name."""
    return [describe(name) for name in sorted(handler_names())]


__all__ = ["describe", "handler_catalogue"]
