"""The service-task handler port: what a handler receives, how it registers, how plug-ins are found.

A handler receives a `HandlerContext` and the service task's evaluated parameters as
keyword arguments, and returns a JSON-serialisable dict stored under the task's
`resultVariable`. Delivery is at least once: a handler that writes keys its writes by
`ctx.idempotency_key`, which is the same on every attempt of the same step.

The engine imports no handler module. Plug-ins are found on the first lookup (or by
`load_plugins()`): every entry point of the group `tourflow.handlers` (a callable that
imports or registers its handlers), then the modules named in TOURFLOW_HANDLER_MODULES.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy.orm import Session

from engine.plugins.reads import EngineReads
from engine.store.audit import SYSTEM_ACTOR

HandlerFunc = Callable[..., dict[str, Any]]

ENTRY_POINT_GROUP = "tourflow.handlers"
MODULES_VARIABLE = "TOURFLOW_HANDLER_MODULES"


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
    # What the handler may read of the engine's tables, filled in by the engine; None reads the
    # stored instance `instance_id` through `session` (a context built by hand, as in tests).
    reads: EngineReads | None = None

    def set_business_key(self, key: str) -> None:
        """Key this instance by `key` (e.g. a booking code only known mid-process), so messages
        correlated on it find the instance. Audited; an instance keeps its first key."""
        if self.on_business_key is not None:
            self.on_business_key(key)

    def _instance_reads(self) -> EngineReads:
        return self.reads if self.reads is not None else EngineReads(self.session, self.instance_id)

    @property
    def started_by(self) -> str | None:
        """Who started this instance (`system` for a timer or message start)."""
        return self._instance_reads().started_by

    @property
    def started_at(self) -> datetime:
        """When this instance started (aware, UTC)."""
        return self._instance_reads().started_at

    @property
    def business_key(self) -> str | None:
        """This instance's business key, None while it has none."""
        return self._instance_reads().business_key

    def completed_by(self, task_spec_id: str) -> str | None:
        """Who completed the user task `task_spec_id` in this instance (the latest time), or None."""
        return self._instance_reads().completed_by(task_spec_id)

    @property
    def step_completed_by(self) -> str | None:
        """Who completed the user task this step began with; None when a timer, message, retry or
        start began the step."""
        return self._instance_reads().step_completed_by(self.now)

    def open_instances_by_assignee(self, process_id: str, usernames: Iterable[str]) -> dict[str, int]:
        """For each user: how many other instances of `process_id` have a ready task claimed by them."""
        return self._instance_reads().open_instances_by_assignee(process_id, usernames)

    def running_instance_data(self, process_id: str, key: str, value: str) -> dict[str, Any] | None:
        """The data of the newest running instance of `process_id` whose data `key` is `value`."""
        return self._instance_reads().running_instance_data(process_id, key, value)


class HandlerRegistry:
    """Handlers by name. `discover` (run once, on the first lookup) makes plug-ins register."""

    def __init__(self, discover: Callable[[], None] | None = None):
        self._handlers: dict[str, HandlerFunc] = {}
        self._read_only: set[HandlerFunc] = set()  # functions registered with writes=False
        self._discover = discover
        self._loaded = discover is None
        self._loading = False
        self._lock = threading.RLock()

    def register(self, name: str, func: HandlerFunc, *, writes: bool = True) -> HandlerFunc:
        with self._lock:
            if name in self._handlers and self._handlers[name] is not func:
                raise ValueError(f"handler {name!r} is registered twice")
            self._handlers[name] = func
            if not writes:
                self._read_only.add(func)
        return func

    def load_plugins(self) -> None:
        """Run discovery, once (a plug-in looking a handler up while it loads sees what is there)."""
        with self._lock:
            if self._loaded or self._loading or self._discover is None:
                return
            self._loading = True
            try:
                self._discover()
                self._loaded = True
            finally:
                self._loading = False

    def get(self, name: str) -> HandlerFunc | None:
        self.load_plugins()
        return self._handlers.get(name)

    def names(self) -> set[str]:
        self.load_plugins()
        return set(self._handlers)

    def writes(self, func: HandlerFunc) -> bool:
        """False when `func` was registered with `writes=False` (it then runs without a savepoint)."""
        self.load_plugins()
        return func not in self._read_only


def discover_plugins() -> None:
    """Call every `tourflow.handlers` entry point, then import the TOURFLOW_HANDLER_MODULES."""
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        point.load()()
    for name in os.environ.get(MODULES_VARIABLE, "").split(","):
        if name.strip():
            importlib.import_module(name.strip())


registry = HandlerRegistry(discover=discover_plugins)


def handler(name: str, *, writes: bool = True) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register `func` as the handler of service tasks whose operator id is `name`.

    `writes=False` declares that the handler never writes to the database, which spares
    it the savepoint a writing handler runs in.
    """

    def register(func: HandlerFunc) -> HandlerFunc:
        return registry.register(name, func, writes=writes)

    return register


def load_plugins() -> None:
    registry.load_plugins()


def get_handler(name: str) -> HandlerFunc | None:
    return registry.get(name)


def handler_names() -> set[str]:
    return registry.names()


def handler_writes(func: HandlerFunc) -> bool:
    return registry.writes(func)
