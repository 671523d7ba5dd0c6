"""The names sandboxed code runs with: guards RestrictedPython calls, builtins, calendar helpers.

Only this module's functions and plain JSON data are ever in a script's scope: no module, no
class other than the data types' constructors, no function that reaches either.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import operator
from collections.abc import Callable
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from engine.calendar import load_calendar
from engine.clock import CHINA, parse_iso_china
from engine.sandbox.rules import (
    ALLOWED_METHODS,
    MAX_POW_DIGITS,
    MAX_RANGE,
    MAX_REPEAT_CHARS,
    SAFE_BUILTIN_NAMES,
)

MONTH_END_HOUR = 18


class SandboxViolation(Exception):
    """Sandboxed code tried something outside its allowlist at run time."""


def guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    allowed = ALLOWED_METHODS.get(type(obj), frozenset())
    if name not in allowed:
        raise SandboxViolation(f"attribute '{name}' of a {type(obj).__name__} is not available to scripts")
    return getattr(obj, name)


def guarded_getitem(obj: Any, key: Any) -> Any:
    if type(obj) not in (dict, list, tuple, str):
        raise SandboxViolation(f"a {type(obj).__name__} cannot be indexed in scripts")
    return obj[key]


def guarded_getiter(obj: Any) -> Any:
    if type(obj) not in (dict, list, tuple, str, set, range, enumerate, zip, reversed) \
            and type(obj).__name__ not in ("dict_keys", "dict_values", "dict_items", "generator"):
        raise SandboxViolation(f"a {type(obj).__name__} cannot be iterated in scripts")
    return iter(obj)


def guarded_write(obj: Any) -> Any:
    if type(obj) not in (dict, list):
        raise SandboxViolation(f"a {type(obj).__name__} cannot be changed in scripts")
    return obj


_INPLACE = {"+=": operator.add, "-=": operator.sub, "*=": operator.mul, "/=": operator.truediv,
            "//=": operator.floordiv, "%=": operator.mod, "**=": operator.pow, "<<=": operator.lshift,
            ">>=": operator.rshift, "|=": operator.or_, "^=": operator.xor, "&=": operator.and_}


def guarded_inplace(op: str, left: Any, right: Any) -> Any:
    if op in ("*=", "**=", "<<="):
        _check_growth(op[:-1], left, right)
    return _INPLACE[op](left, right)


_BINOPS = {"*": operator.mul, "**": operator.pow, "<<": operator.lshift}


def guarded_binop(op: str, left: Any, right: Any) -> Any:
    _check_growth(op, left, right)
    return _BINOPS[op](left, right)


def guarded_apply(func: Callable, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _check_growth(op: str, left: Any, right: Any) -> None:
    """Refuse `'x' * 10**9`, `[0] * 10**9`, `10 ** 10**9` and `1 << 10**9` before they allocate."""
    if op == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > MAX_REPEAT_CHARS:
                raise SandboxViolation(f"repeating a sequence to more than {MAX_REPEAT_CHARS:,} items is not allowed")
    elif op == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
        if right * abs(left).bit_length() * 0.302 > MAX_POW_DIGITS:
            raise SandboxViolation(f"a power with more than {MAX_POW_DIGITS:,} digits is not allowed")
    elif op == "<<" and isinstance(right, int) and right > MAX_POW_DIGITS * 3.33:
        raise SandboxViolation(f"a shift by more than {int(MAX_POW_DIGITS * 3.33):,} bits is not allowed")


def safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SandboxViolation(f"range() of more than {MAX_RANGE:,} numbers is not allowed")
    return result


# ---- calendar helpers (the agency works in China time, no DST) --------------------------------
def _parse(moment: str) -> _dt.datetime:
    return parse_iso_china(moment)


def month_end(moment: str) -> str:
    """The next month-end close (last day of the month, 18:00 China time) strictly after `moment`."""
    local = _parse(moment).astimezone(CHINA)
    year, month = local.year, local.month
    while True:
        first_of_next = _dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=CHINA)
        close = (first_of_next - _dt.timedelta(days=1)).replace(hour=MONTH_END_HOUR)
        if close > local:
            return close.isoformat()
        year, month = first_of_next.year, first_of_next.month


def add_days(moment: str, days: float) -> str:
    return (_parse(moment) + _dt.timedelta(days=days)).isoformat()


def add_hours(moment: str, hours: float) -> str:
    return (_parse(moment) + _dt.timedelta(hours=hours)).isoformat()


def at_fraction(start: str, end: str, fraction: float) -> str:
    """The moment `fraction` of the way from `start` to `end` (e.g. 0.75: a warning before a deadline)."""
    first, last = _parse(start), _parse(end)
    return (first + (last - first) * fraction).isoformat()


def add_working_hours(moment: str, hours: float, calendar_setting: str | None = None) -> str:
    """`hours` working hours after `moment` (engine/calendar.py; `calendar_setting` is the file
    TOURFLOW_CALENDAR names, passed in by the engine), in China time."""
    return load_calendar(calendar_setting).add_working_hours(_parse(moment), hours).astimezone(CHINA).isoformat()


# The functions and guards every run sees; the guards are put last, over the data (child.py).
_FUNCTIONS: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES} | {
    "range": safe_range, "month_end": month_end, "add_days": add_days, "add_hours": add_hours,
    "at_fraction": at_fraction,
}
GUARDS: dict[str, Any] = {
    "__builtins__": {},
    "_getattr_": guarded_getattr, "_getitem_": guarded_getitem, "_getiter_": guarded_getiter,
    "_write_": guarded_write, "_inplacevar_": guarded_inplace, "_apply_": guarded_apply, "_binop_": guarded_binop,
    "_unpack_sequence_": guarded_unpack_sequence, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
}


def scope(data: dict[str, Any], now: str, calendar_setting: str | None = None) -> dict[str, Any]:
    """The functions one run of sandboxed code sees besides the data and the guards."""
    return {**_FUNCTIONS, "get": lambda key, default=None: data.get(key, default), "now_iso": lambda: now,
            "add_working_hours": lambda moment, hours: add_working_hours(moment, hours, calendar_setting)}


FIXED_NAMES = frozenset(scope({}, "")) | frozenset(GUARDS)
