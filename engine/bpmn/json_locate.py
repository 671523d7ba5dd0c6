"""Where a value sits in a JSON text: line and column of the value a path of keys/indexes names.

Python's json module forgets positions once it has parsed; lint wants to point a form schema's
error at its place in the file (`forms/p/x.schema.json:12:5`), so this walks the text itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.decoder import scanstring

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of character `pos`."""
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def locate(text: str, path: Sequence[str | int]) -> tuple[int, int]:
    """Line and column of the value at `path` (object keys, array indexes) in the JSON `text`;
    as far as the path can be followed, the start of the document at worst."""
    pos = _skip(text, 0)
    try:
        for step in path:
            found = _member(text, pos, step)
            if found is None:
                break
            pos = found
    except (ValueError, IndexError, RecursionError):
        pass  # the text is not the JSON it was parsed from: stop at the last good place
    return line_col(text, pos)


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _member(text: str, pos: int, step: str | int) -> int | None:
    """Start of the value `step` names inside the object or array starting at `pos`."""
    opener = text[pos]
    if opener not in "{[" or (opener == "{") != isinstance(step, str):
        return None
    pos, index = _skip(text, pos + 1), 0
    while pos < len(text) and text[pos] not in "}]":
        if opener == "{":
            key, pos = scanstring(text, pos + 1)
            pos = _skip(text, pos)
            if text[pos] != ":":
                return None
            value = _skip(text, pos + 1)
            hit = key == step
        else:
            value, hit = pos, index == step
        if hit:
            return value
        _, end = _DECODER.raw_decode(text, value)
        pos, index = _skip(text, end), index + 1
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
    return None
