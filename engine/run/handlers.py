"""The service-task handler registry: plain functions registered by name.

A handler receives a `HandlerContext` and the service task's evaluated parameters as
keyword arguments, and returns a JSON-serialisable dict stored under the task's
`resultVariable`. Delivery is at least once: a handler that writes keys its writes by
`ctx.idempotency_key`, which is the same on every attempt of the same step.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.history.audit import SYSTEM_ACTOR

HandlerFunc = Callable[..., dict[str, Any]]

_REGISTRY: dict[str, HandlerFunc] = {}
_READ_ONLY: set[str] = set()
_loaded = False


class BusinessError(Exception):
    """A failure no retry can fix (no capacity on that date, a supplier refused): the engine raises
    an incident at once, for the people of `lane` to resolve (e.g. with other data) and retry."""

    def __init__(self, message: str, lane: str | None = None):
        super().__init__(message)
        self.lane = lane


@dataclass(frozen=True)
class HandlerContext:
    session: Session
    now: datetime
    instance_id: int
    process_id: str
    task_id: str
    task_spec: str
    idempotency_key: str
    attempt: int
    data: dict[str, Any]
    actor: str = SYSTEM_ACTOR  # who made the step happen (the user completing the task before it)
    on_business_key: Callable[[str], None] | None = None

    def set_business_key(self, key: str) -> None:
        """Key this instance by `key` (e.g. a booking code only known mid-process), so messages
        correlated on it find the instance. Audited; an instance keeps its first key."""
        if self.on_business_key is not None:
            self.on_business_key(key)


def handler(name: str, *, writes: bool = True) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register `func` as the handler of service tasks whose operator id is `name`.

    `writes=False` declares that the handler never writes to the database, which spares
    it the savepoint a writing handler runs in.
    """

    def register(func: HandlerFunc) -> HandlerFunc:
        if name in _REGISTRY and _REGISTRY[name] is not func:
            raise ValueError(f"handler {name!r} is registered twice")
        _REGISTRY[name] = func
        if not writes:
            _READ_ONLY.add(name)
        return func

    return register


def load_all() -> None:
    """Import every module of the `handlers` package (once) so their decorators run, then the
    modules named in TOURFLOW_HANDLER_MODULES (comma-separated dotted names: the agency's
    own handlers, kept outside this package)."""
    global _loaded
    if _loaded:
        return
    import handlers

    for module in pkgutil.iter_modules(handlers.__path__):
        if module.name != "registry":
            importlib.import_module(f"handlers.{module.name}")
    for name in os.environ.get("TOURFLOW_HANDLER_MODULES", "").split(","):
        if name.strip():
            importlib.import_module(name.strip())
    _loaded = True


def get_handler(name: str) -> HandlerFunc | None:
    load_all()
    return _REGISTRY.get(name)


def handler_names() -> set[str]:
    load_all()
    return set(_REGISTRY)


def handler_writes(func: HandlerFunc) -> bool:
    return not any(_REGISTRY.get(name) is func for name in _READ_ONLY)
