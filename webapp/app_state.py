"""The engine objects of the running app: `tourflow()` and its `runtime()`, for the views and the CLI."""

from __future__ import annotations

from flask import current_app

from engine.run.runtime import Runtime
from engine.store.db import Database

EXTENSION = "tourflow"


class Tourflow:
    """The engine objects one app uses; created lazily so `--help` touches no database."""

    def __init__(self, url: str):
        self.url = url
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            db = Database(self.url)
            db.upgrade()
            self._runtime = Runtime(db)
        return self._runtime

    def use_runtime(self, runtime: Runtime) -> None:
        """Share an existing engine (same database), e.g. the one a test or the CLI already opened."""
        self._runtime = runtime

    @property
    def db(self) -> Database:
        return self.runtime.db


def tourflow() -> Tourflow:
    return current_app.extensions[EXTENSION]


def runtime() -> Runtime:
    return tourflow().runtime
