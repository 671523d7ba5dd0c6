"""Checking and compiling sandboxed code: an allowlist of syntax, then RestrictedPython.

Both passes run at lint/deploy (every finding, located) and again in the sandbox before the
code runs, so a file that skipped lint is refused the same way.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from types import CodeType

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec

from engine.sandbox.rules import (
    ALLOWED_NODES,
    ANY_ALLOWED_METHOD,
    MAX_SOURCE_CHARS,
    REFUSED_NODES,
    SAFE_BUILTIN_NAMES,
)

Problem = tuple[int, int, str]

# Builtins that scripts might reach for, with the reason they are absent (the rest: "not defined").
_ABSENT_BUILTINS = {
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr", "globals", "locals", "vars",
    "dir", "type", "object", "breakpoint", "input", "help", "memoryview", "super", "print", "format", "iter",
    "next", "id", "hash", "callable", "classmethod", "staticmethod", "property", "bytes", "bytearray",
    "isinstance", "issubclass", "map", "filter", "chr", "ord", "repr", "ascii", "exit", "quit", "license",
}


def check_source(source: str, mode: str = "eval") -> list[Problem]:
    """(line, col, message) for every construct the sandbox refuses; empty means it may run."""
    if len(source) > MAX_SOURCE_CHARS:
        return [(1, 1, f"script is longer than {MAX_SOURCE_CHARS} characters")]
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        return [(exc.lineno or 1, exc.offset or 1, f"syntax error: {exc.msg}")]
    except (RecursionError, MemoryError, ValueError):  # absurd nesting; NUL bytes
        return [(1, 1, "syntax error: nested too deeply or not text")]
    problems: list[Problem] = []
    stack: list[ast.AST] = [tree]
    while stack:  # a refused node's parts are not reported again (an import's alias, a lambda's args)
        node = stack.pop()
        found = _node_problems(node)
        problems.extend(found)
        if not found or not isinstance(node, tuple(REFUSED_NODES)):
            stack.extend(ast.iter_child_nodes(node))
    if problems:
        return sorted(set(problems))
    result = _restricted_compile(source, mode)
    return [(1, 1, f"refused by the restricted compiler: {error}") for error in result.errors]


def _node_problems(node: ast.AST) -> list[Problem]:
    where = (getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)
    if type(node) not in ALLOWED_NODES:
        reason = REFUSED_NODES.get(type(node), f"{type(node).__name__} is not allowed")
        return [(*where, reason)]
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            return [(*where, f"name '{node.id}' is not allowed (names may not start with '_')")]
        if node.id in _ABSENT_BUILTINS:
            return [(*where, f"name '{node.id}' is not allowed")]
        if isinstance(node.ctx, ast.Store | ast.Del) and node.id in SAFE_BUILTIN_NAMES:
            return [(*where, f"'{node.id}' is a function scripts use; pick another name")]
    elif isinstance(node, ast.Attribute):
        if not isinstance(node.ctx, ast.Load):
            return [(*where, f"setting an attribute ('.{node.attr} = ...') is not allowed")]
        if node.attr not in ANY_ALLOWED_METHOD:
            return [(*where, f"attribute '{node.attr}' is not allowed (only methods of text, numbers, "
                             "lists and dicts such as .get, .upper, .append)")]
    return []


class _GuardingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus `*`, `**` and `<<` through `_binop_` (guards.py), which
    refuses results too large to build before they are built."""

    _GUARDED = {ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<"}

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        symbol = self._GUARDED.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(symbol), node.left, node.right],
                        keywords=[])
        for part in (call, call.func, call.args[0]):
            ast.copy_location(part, node)
        return call


def _restricted_compile(source: str, mode: str):
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    return compiler(source, "<script>", policy=_GuardingTransformer)


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: str) -> CodeType:
    """Compiled, guarded code for `source`; raises ValueError naming the first refusal."""
    problems = check_source(source, mode)
    if problems:
        line, col, message = problems[0]
        raise ValueError(f"unsafe expression at {line}:{col}: {message}")
    return _restricted_compile(source, mode).code
