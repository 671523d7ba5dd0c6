"""Plain data (what JSON holds) recognised without a JSON round trip.

Task data, handler parameters and event payloads are nearly always plain: dicts with string
keys, lists, strings, whole numbers, floats, booleans and None. For such a value a JSON round
trip (`json.loads(json.dumps(value))`) or a deep copy gives the same value again; these
functions answer that in one walk of Python, and say "not plain" (None / False) for anything
else, where the caller keeps its JSON round trip or deep copy and so its exact answer
(an error included). A container met twice (shared, or a cycle) or nested deeper than
`PLAIN_DEPTH` counts as not plain.
"""

from __future__ import annotations

import copy
import math
from typing import Any

PLAIN_DEPTH = 64


class _NotPlain(Exception):
    pass


def _container(value: Any, seen: set[int], depth: int) -> type:
    """The kind of a container that may be walked (dict or list), else _NotPlain."""
    kind = type(value)
    if (kind is not dict and kind is not list) or depth >= PLAIN_DEPTH or id(value) in seen:
        raise _NotPlain
    seen.add(id(value))
    return kind


# Leaves a walk takes as they are, tested in the container's loop (most values of task data and payloads are
# leaves: no call for each of them). A float is one too unless NaN and infinities are refused.
_LEAVES = frozenset({str, int, bool, float, type(None)})
_FINITE_LEAVES = frozenset({str, int, bool, type(None)})


def _copy(value: Any, seen: set[int], depth: int, finite: bool) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if finite and not math.isfinite(value):
            raise _NotPlain
        return value
    leaves = _FINITE_LEAVES if finite else _LEAVES
    if _container(value, seen, depth) is list:
        return [item if type(item) in leaves else _copy(item, seen, depth + 1, finite) for item in value]
    copied = {}
    for key, item in value.items():
        if type(key) is not str:
            raise _NotPlain
        copied[key] = item if type(item) in leaves else _copy(item, seen, depth + 1, finite)
    return copied


def _check(value: Any, seen: set[int], depth: int) -> None:
    kind = type(value)
    if kind in _LEAVES:
        return
    if _container(value, seen, depth) is list:
        for item in value:
            if type(item) not in _LEAVES:
                _check(item, seen, depth + 1)
        return
    for key, item in value.items():
        if type(key) is not str:
            raise _NotPlain
        if type(item) not in _LEAVES:
            _check(item, seen, depth + 1)


def plain_copy(value: Any, *, finite: bool = False) -> tuple[Any] | None:
    """(copy,) of a plain `value`: new dicts and lists, equal to its JSON round trip and to its deep
    copy; None when it is not plain. `finite`: NaN and infinities count as not plain (JSON with
    allow_nan=False refuses them)."""
    try:
        return (_copy(value, set(), 0, finite),)
    except _NotPlain:
        return None


def deep_copy(value: Any) -> Any:
    """copy.deepcopy(value): for plain data (nearly always) made by one walk, without deepcopy's memo."""
    copied = plain_copy(value)
    return copied[0] if copied is not None else copy.deepcopy(value)


def is_plain(value: Any) -> bool:
    """Is `value` plain (its JSON round trip gives it back, NaN and infinities included)?"""
    try:
        _check(value, set(), 0)
    except _NotPlain:
        return False
    return True


__all__ = ["PLAIN_DEPTH", "deep_copy", "is_plain", "plain_copy"]
