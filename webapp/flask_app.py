"""The Flask class the app is made of: Flask, with two per-request costs paid once instead.

- `ensure_sync`: Flask asks, for every hook and view of every request, whether the function is a
  coroutine function (`inspect.iscoroutinefunction`, about a dozen times a request). Our functions do
  not change: the answer is kept per function (a bounded dictionary; functions are few).
- The session cookie's signing serializer: Flask builds a new one for every request (and a second to
  save a changed session). Here it is kept while the secret key and its fallbacks stay the same (a
  test may change `SECRET_KEY`: the serializer is then built again).
Answers, cookies and signatures are unchanged (the same class with the same arguments signs them).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

SYNC_CACHE_MAX = 4096


class CachedSerializerSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, with the serializer built once per secret key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: tuple[Any, ...] | None = None
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        with self._lock:
            if keys != self._keys or self._serializer is None:
                self._serializer, self._keys = super().get_signing_serializer(app), keys
            return self._serializer


class TourflowFlask(Flask):
    """Flask, answering `ensure_sync` once per function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = CachedSerializerSessions()
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._sync[func]
        except (KeyError, TypeError):  # TypeError: an unhashable callable
            pass
        answer = super().ensure_sync(func)
        if len(self._sync) < SYNC_CACHE_MAX:
            with contextlib.suppress(TypeError):
                self._sync[func] = answer
        return answer
