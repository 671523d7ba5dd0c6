"""SQLAlchemy event listeners for the length of a block: the tests' counters and spies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def listening(target: Any, **listeners: Callable[..., Any]) -> Iterator[None]:
    """Each `event_name=function` listens on `target` (an engine, the Session class...) inside the block only."""
    for name, function in listeners.items():
        event.listen(target, name, function)
    try:
        yield
    finally:
        for name, function in listeners.items():
            event.remove(target, name, function)


@contextmanager
def transaction_events(engine: Any, *names: str) -> Iterator[list[str]]:
    """The engine's transaction events named (default: how each transaction ended, "commit" or "rollback")
    that fire inside the block, in order."""
    seen: list[str] = []
    recorders = {name: (lambda _connection, name=name: seen.append(name)) for name in names or ("commit", "rollback")}
    with listening(engine, **recorders):
        yield seen
