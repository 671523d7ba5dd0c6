"""Camunda's JUEL conditions (`${amount > 1000 && !urgent}`) as the equivalent Python expression.

Only the simple forms map: comparisons (`==` `!=` `<` `>` `<=` `>=` and `eq` `ne` `lt` `gt` `le`
`ge`), `&&` `||` `!` and `and` `or` `not`, `empty x`, parentheses, numbers, quoted strings,
`true` `false` `null` and variable names. Anything else (property access, method calls,
arithmetic, text around the `${...}`) is not translated: `to_python` returns None and the caller
reports the condition (engine/bpmn/camunda.py).
"""

from __future__ import annotations

import ast
import keyword
import re

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
)""", re.VERBOSE)
_WRAPPED = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)
_WORDS = {"and": "and", "or": "or", "not": "not", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=",
          "ge": ">=", "true": "True", "false": "False", "null": "None"}
_OPS = {"&&": "and", "||": "or", "!": "not"}
_EMPTY = "({name} in (None, '', [], {{}}))"


def is_juel(text: str | None) -> bool:
    """Whether a condition is written in JUEL (`${...}` or `#{...}` somewhere in it)."""
    return bool(text) and ("${" in text or "#{" in text)


def to_python(text: str) -> str | None:
    """The Python expression of a JUEL condition, None when it is not one of the simple forms."""
    wrapped = _WRAPPED.match(text)
    if wrapped is None or "${" in wrapped.group("body") or "#{" in wrapped.group("body"):
        return None
    tokens = _tokens(wrapped.group("body"))
    if not tokens:
        return None
    parts: list[str] = []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "word" and value == "empty":
            if i + 1 >= len(tokens) or not _is_variable(tokens[i + 1]):
                return None
            parts.append(_EMPTY.format(name=tokens[i + 1][1]))
            i += 2
            continue
        if kind == "word" and value not in _WORDS and not _is_variable(tokens[i]):
            return None
        parts.append(_WORDS.get(value, value) if kind == "word" else _OPS.get(value, value))
        i += 1
    python = " ".join(parts)
    try:
        tree = ast.parse(python, mode="eval")
    except SyntaxError:
        return None
    return None if any(isinstance(node, ast.Call) for node in ast.walk(tree)) else python


def _tokens(body: str) -> list[tuple[str, str]] | None:
    found: list[tuple[str, str]] = []
    at = 0
    while at < len(body):
        if body[at:].strip() == "":
            break
        match = _TOKEN.match(body, at)
        if match is None or match.end() == at:
            return None
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


def _is_variable(token: tuple[str, str]) -> bool:
    kind, value = token
    return kind == "word" and value not in _WORDS and value != "empty" and not keyword.iskeyword(value)
