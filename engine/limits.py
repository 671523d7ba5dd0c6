"""The limits on what users send: lengths of reasons, names and free text, and what JSON data may hold.

One place for every cap, applied by the engine (so the CLI, the pages and the API all get them)
and read by the web layer for its early checks and its OpenAPI document. A value over a cap is
a `FormInvalid` naming the field (422 in the API, exit code 2 in the CLI).

JSON data must also fit the database and UTF-8: no lone UTF-16 surrogates ("\\ud800": not
encodable), no NUL characters (PostgreSQL's text and JSONB cannot hold one), integers within
64 bits (SQLite's integers; JSON readers in other languages), finite numbers, and nesting no
deeper than `JSON_DEPTH_MAX`.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from engine.errors import FormInvalid, TourflowError

REASON_MAX = 2000  # reassign, cancel, resolve an incident: recorded in the audit log
NAME_MAX = 200  # user names, process ids, data keys, filters
MESSAGE_NAME_MAX = 100
KEY_MAX = 120  # business keys, correlation keys, message_ref
TEXT_MAX = 20_000  # any string inside submitted data, unless its form field sets its own maxLength
JSON_DEPTH_MAX = 32
JSON_BODY_MAX = 1024 * 1024  # bytes of a JSON request body (uploads have MAX_CONTENT_LENGTH)
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # integers in data: what SQLite and JSON readers elsewhere take
ID_MAX = 2**31 - 1  # ids and versions: the tables' INTEGER columns (32-bit on PostgreSQL)
PAGE_MAX = 10**9
URI_MAX = 4096  # path and query string of a request, in characters
MODEL_CACHE_MAX = 256  # parsed BPMN models kept in memory (engine/bpmn/specs.py), by file digest
DEPLOYED_CACHE_MAX = 256  # deployments kept by each Runtime (version, forms, parsed model)
HEATMAP_REPLAYS_MAX = 10_000  # replays of finished instances the heatmap keeps (engine/history/heatmap.py)


class BadJson(TourflowError):
    """Text that is not JSON we accept (syntax, NaN/Infinity, huge numbers, nesting). The message
    completes "<what> is ...": "not valid JSON: ...", "nested too deeply ..."."""

    code = "invalid_json"


def invalid(field: str | None, message: str, key: str | None = None, **params: object) -> FormInvalid:
    """A 422 naming one field, shaped like the form validation errors; `key` and `params` name the
    message in the catalogue of the web layer (webapp/error_messages.py)."""
    label = f"field '{field}': " if field else ""
    return FormInvalid(f"{label}{message}", field=field, errors=[{"field": field, "message": message}],
                       key=key, params={"field": field, **params})


NUL_MESSAGE = "holds a NUL character (\\u0000), which cannot be stored"
SURROGATE_MESSAGE = "holds a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode"


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_text(field: str, value: Any, limit: int, *, required: bool = True) -> str | None:
    """A string of at most `limit` characters that UTF-8 can encode (None allowed unless required)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        if value in (None, ""):
            raise invalid(field, "is required", "limit.required")
        raise invalid(field, "must be a string", "limit.not_string")
    if len(value) > limit:
        raise invalid(field, f"must be at most {limit} characters (got {len(value)})", "limit.too_long",
                      limit=limit, got=len(value))
    if has_lone_surrogate(value):
        raise invalid(field, SURROGATE_MESSAGE, "limit.surrogate")
    if "\x00" in value:
        raise invalid(field, NUL_MESSAGE, "limit.nul")
    return value


def check_reason(value: Any, field: str = "reason") -> str:
    """A required reason of at most REASON_MAX characters, stripped."""
    return check_text(field, value, REASON_MAX).strip()


def check_data(value: Any, field: str | None = None, text_max: int | None = TEXT_MAX) -> None:
    """JSON data that can be stored: see the module's docstring. `field` prefixes the paths named;
    `text_max` None leaves the strings' lengths to the fields' own checks."""
    _check(value, field, 0, field, text_max)


def _join(path: str | None, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path or ''}[{part}]"
    return f"{path}.{part}" if path else part


def _check(value: Any, path: str | None, depth: int, top: str | None, text_max: int | None) -> None:
    if isinstance(value, dict | list):
        if depth >= JSON_DEPTH_MAX:
            raise invalid(top, f"is nested deeper than {JSON_DEPTH_MAX} levels", "limit.too_deep", depth=JSON_DEPTH_MAX)
        if isinstance(value, list):
            for i, item in enumerate(value):
                _check(item, _join(path, i), depth + 1, top if top is not None else _join(None, i), text_max)
            return
        for key, item in value.items():
            printable = isinstance(key, str) and not has_lone_surrogate(key) and "\x00" not in key
            where = _join(path, key if printable else "?")
            if not isinstance(key, str):
                raise invalid(path, "object keys must be strings", "limit.key_not_string")
            if len(key) > NAME_MAX:
                raise invalid(path, f"has a key of {len(key)} characters; keys may have at most {NAME_MAX}",
                              "limit.key_too_long", got=len(key), limit=NAME_MAX)
            if has_lone_surrogate(key):
                raise invalid(where, f"has a key that {SURROGATE_MESSAGE}", "limit.surrogate")
            if "\x00" in key:
                raise invalid(where, f"has a key that {NUL_MESSAGE}", "limit.nul")
            _check(item, where, depth + 1, top if top is not None else where, text_max)
    elif isinstance(value, str):
        if text_max is not None and len(value) > text_max:
            raise invalid(path, f"must be at most {text_max} characters (got {len(value)})", "limit.too_long",
                          limit=text_max, got=len(value))
        if has_lone_surrogate(value):
            raise invalid(path, SURROGATE_MESSAGE, "limit.surrogate")
        if "\x00" in value:
            raise invalid(path, NUL_MESSAGE, "limit.nul")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise invalid(path, "integers must fit in 64 bits (-2^63 to 2^63-1)", "limit.int_range")
    elif isinstance(value, float) and not math.isfinite(value):
        raise invalid(path, "must be a finite number", "limit.not_finite")


def _no_constant(name: str) -> Any:
    raise BadJson(f"not valid JSON: {name} is not a JSON number")


def parse_json(text: str | bytes) -> Any:
    """json.loads that refuses what json.loads lets through or crashes on: NaN and Infinity,
    numbers over Python's 4,300-digit limit, and nesting deep enough to exhaust the stack."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BadJson("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadJson(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadJson(f"nested too deeply (at most {JSON_DEPTH_MAX} levels)") from None
    except ValueError:  # int("9" * 5000): Python's int-str conversion limit
        raise BadJson(f"not valid JSON here: a number has more than {sys.get_int_max_str_digits()} digits") from None


K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe LRU map holding at most `maxsize` entries: for values that never change, or that are
    taken out whole to be changed (`take`)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The cached value (now the most recently used), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        """Keep `value`, dropping the least recently used entries beyond `maxsize`."""
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def take(self, key: K) -> V | None:
        """The cached value, no longer cached; or None."""
        with self._lock:
            return self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The cached value, or `make()`'s (made outside the lock: two threads may both make it)."""
        cached = self.get(key)
        if cached is not None:
            return cached
        value = make()
        self.put(key, value)
        return value

    def __len__(self) -> int:
        return len(self._items)

# A deploy's zip file (engine/run/zip_bundle.py) is untrusted input: entries and bytes once unpacked.
ZIP_ENTRIES_MAX = 200
ZIP_TOTAL_MAX = 20 * 1024 * 1024
