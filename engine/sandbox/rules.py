"""What sandboxed code may use: syntax, builtins, methods of plain data, and the limits.

This module is imported by the sandbox's child process too, so it imports nothing of the
engine's and no third-party package.
"""

from __future__ import annotations

import ast
import os

# ---- syntax: every node type not listed here is refused -----------------------------------
ALLOWED_NODES: frozenset[type] = frozenset({
    ast.Module, ast.Expression, ast.Expr, ast.Assign, ast.AugAssign, ast.For, ast.If, ast.Pass, ast.Break,
    ast.Continue, ast.Delete,
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.keyword,
    ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.Starred,
    ast.Dict, ast.Set, ast.List, ast.Tuple,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
    ast.JoinedStr, ast.FormattedValue,
    ast.Load, ast.Store, ast.Del,
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd,
    ast.Invert, ast.Not, ast.UAdd, ast.USub,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
})

# Why a refused construct is refused, in words a process owner can act on.
REFUSED_NODES: dict[type, str] = {
    ast.Import: "import is not allowed",
    ast.ImportFrom: "import is not allowed",
    ast.While: "while loops are not allowed (use for over a list or range)",
    ast.Global: "global is not allowed",
    ast.Nonlocal: "nonlocal is not allowed",
    ast.ClassDef: "class definitions are not allowed",
    ast.FunctionDef: "function definitions are not allowed",
    ast.AsyncFunctionDef: "async code is not allowed",
    ast.Await: "async code is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.Yield: "generators are not allowed",
    ast.YieldFrom: "generators are not allowed",
    ast.Try: "try/except is not allowed",
    ast.With: "with is not allowed",
    ast.Raise: "raise is not allowed",
    ast.Assert: "assert is not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.Match: "match is not allowed",
}

# ---- names: the builtins a script can call (plus the calendar helpers, guards.py) ----------
SAFE_BUILTIN_NAMES: tuple[str, ...] = (
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "len", "list", "max", "min", "range",
    "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
)
HELPER_NAMES: tuple[str, ...] = ("get", "now_iso", "month_end", "add_days", "add_hours", "at_fraction",
                                 "add_working_hours")

# ---- attributes: methods of plain data, by exact type; nothing else is reachable -------------
_STR_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isdecimal",
    "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rpartition", "rsplit",
    "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper",
})
_LIST_METHODS = frozenset({"append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove",
                           "reverse", "sort"})
_DICT_METHODS = frozenset({"clear", "copy", "get", "items", "keys", "pop", "setdefault", "update", "values"})
_SET_METHODS = frozenset({"add", "clear", "copy", "difference", "discard", "intersection", "isdisjoint",
                          "issubset", "issuperset", "remove", "symmetric_difference", "union", "update"})
ALLOWED_METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    list: _LIST_METHODS,
    dict: _DICT_METHODS,
    set: _SET_METHODS,
    tuple: frozenset({"count", "index"}),
    int: frozenset({"bit_length"}),
    float: frozenset({"is_integer"}),
}
ANY_ALLOWED_METHOD: frozenset[str] = frozenset().union(*ALLOWED_METHODS.values())

# ---- limits --------------------------------------------------------------------------------
MAX_SOURCE_CHARS = 20_000
MAX_RANGE = 1_000_000  # range() longer than this is refused: loops are for lists of customers, not counting
MAX_REPEAT_CHARS = 1_000_000  # 'x' * n and [x] * n beyond this many items are refused
MAX_POW_DIGITS = 10_000  # an integer power with a result longer than this is refused
MAX_RESULT_BYTES = 4 * 1024 * 1024  # the data a script hands back, as JSON


def time_budget() -> float:
    """Seconds one expression or script may run (TOURFLOW_SCRIPT_TIMEOUT, default 1)."""
    return _positive_float("TOURFLOW_SCRIPT_TIMEOUT", 1.0)


def memory_budget_mb() -> int:
    """Megabytes of address space one script may add to the sandbox (TOURFLOW_SCRIPT_MEMORY_MB, 256)."""
    return int(_positive_float("TOURFLOW_SCRIPT_MEMORY_MB", 256))


def lock_grace() -> float:
    """Seconds a script may run while its step holds the write lock before the step lets it go
    (TOURFLOW_SCRIPT_LOCK_GRACE, default 0.1)."""
    return _positive_float("TOURFLOW_SCRIPT_LOCK_GRACE", 0.1)


def _positive_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if not 0 < value < 3600:
        raise ValueError(f"{name} must be between 0 and 3600, not {raw!r}")
    return value
