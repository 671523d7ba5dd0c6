"""One injectable clock for the engine, SpiffWorkflow's timers included.

SpiffWorkflow's timer code calls `datetime.now(timezone.utc)`; we swap the `datetime`
name in that module for a subclass whose `now()` asks the current clock, so that
`tourflow tick --at` and the tests move time for the library too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

_frozen: ContextVar[datetime | None] = ContextVar("tourflow_frozen_now", default=None)


def utcnow() -> datetime:
    """Aware UTC now, or the moment set by `frozen_at`."""
    frozen = _frozen.get()
    return frozen if frozen is not None else datetime.now(UTC)


def is_frozen() -> bool:
    return _frozen.get() is not None


@contextlib.contextmanager
def frozen_at(moment: datetime | None) -> Iterator[None]:
    """Run a block as if the time were `moment` (None: real time)."""
    if moment is not None:
        # Naive means UTC; any other zone is converted, so every recorded time reads the same way.
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    token = _frozen.set(moment)
    try:
        yield
    finally:
        _frozen.reset(token)


def to_db(moment: datetime) -> datetime:
    """Datetimes are stored naive, in UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def from_db(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        current = utcnow()
        return current if tz is None or tz is UTC else current.astimezone(tz)


def install_spiff_clock() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _ClockDatetime


install_spiff_clock()
