"""The Flask application factory. For now it hosts the `tourflow` CLI; the inbox joins it later."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from engine.config import database_url
from engine.db import Database
from engine.runtime import Runtime


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

    @property
    def db(self) -> Database:
        return self.runtime.db


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(DATABASE_URL=database_url())
    if test_config:
        app.config.update(test_config)
    app.extensions["tourflow"] = Tourflow(app.config["DATABASE_URL"])
    return app


def tourflow() -> Tourflow:
    return current_app.extensions["tourflow"]
