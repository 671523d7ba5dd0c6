"""What every /api/v1 module shares: reading query arguments and the JSON body, the 4xx errors
they raise, and `Routes`, the views of one area that webapp/api.py adds to its blueprint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from flask_login import current_user

from engine.errors import FormInvalid
from engine.limits import BadJson, check_data, parse_json

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})

View = Callable[..., Any]


class ApiError(Exception):
    """An API answer other than the engine's errors: 401, bad JSON."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class Routes:
    """The views of one area of the API, with their rules: webapp/api.py adds them to the `api`
    blueprint, so every endpoint keeps its `api.<view>` name."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, str, View]] = []

    def get(self, rule: str) -> Callable[[View], View]:
        return self.route(rule, "GET")

    def post(self, rule: str) -> Callable[[View], View]:
        return self.route(rule, "POST")

    def route(self, rule: str, method: str) -> Callable[[View], View]:
        def decorator(view: View) -> View:
            self.rules.append((rule, method, view))
            return view

        return decorator


def invalid(field: str, message: str, key: str | None = None, **params: object) -> FormInvalid:
    """A 422 naming one field, shaped like the form validation errors; `key` names its Chinese
    (webapp/error_messages.py)."""
    return FormInvalid(f"field '{field}': {message}", field=field, errors=[{"field": field, "message": message}],
                       key=key, params={"field": field, **params})


def actor() -> str:
    """Who is asking: the user name written into the audit log."""
    return current_user.username


def json_body() -> dict[str, Any]:
    """The request body as a JSON object; an empty body is {}. Anything else is a 400, and a value
    the store cannot keep (engine/limits.py: surrogates, 64-bit integers, depth) a 422."""
    if request.mimetype in FORM_TYPES:
        raise ApiError(400, "invalid_json", "send the body as JSON (Content-Type: application/json)")
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        value = parse_json(raw)
    except BadJson as exc:
        raise ApiError(400, "invalid_json", f"the request body is {exc.message}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    check_data(value, text_max=None)  # each field's length: its own check, or the engine's for data
    return value


def bool_arg(name: str) -> bool:
    value = request.args.get(name)
    if value is None:
        return False
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise invalid(name, "must be true or false", "arg.bool")


def int_arg(name: str, default: int, low: int, high: int | None = None) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise invalid(name, "must be an integer", "arg.int") from None
    if number < low or (high is not None and number > high):
        if high is not None:
            raise invalid(name, f"must be between {low} and {high}", "arg.range", low=low, high=high)
        raise invalid(name, f"must be at least {low}", "arg.min", low=low)
    return number


def text_arg(name: str) -> str | None:
    return request.args.get(name) or None
