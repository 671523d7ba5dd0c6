"""Query arguments of the HTML pages: forgiving, unlike the API's (webapp/api_args.py), a bad
value falls back to the default instead of answering 422."""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import MultiDict

CHECKED = ("1", "on", "true")


def int_arg(name: str, default: int, low: int = 1, high: int = 10**9, args: MultiDict | None = None) -> int:
    try:
        value = int((request.args if args is None else args).get(name, default))
    except (TypeError, ValueError):
        value = default
    return max(low, min(value, high))


def flag_arg(name: str, args: MultiDict | None = None) -> bool:
    """A checkbox of a filter form: ticked or not."""
    return (request.args if args is None else args).get(name) in CHECKED
