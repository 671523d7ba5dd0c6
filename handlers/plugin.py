"""The travel agency's plug-in: the engine calls `load()` through the `tourflow.handlers` entry point
(pyproject.toml) and so finds the agency's handlers and tables without importing this package."""

from __future__ import annotations

import importlib
import pkgutil

import handlers
from handlers.domain import models  # noqa: F401  (the agency's tables, for the migrations)


def load() -> None:
    """Import every handler module of the package, so their `@handler` decorators register."""
    for module in pkgutil.iter_modules(handlers.__path__):
        if not module.ispkg and module.name != "plugin":
            importlib.import_module(f"{handlers.__name__}.{module.name}")
