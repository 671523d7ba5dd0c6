"""One injectable clock for the engine, SpiffWorkflow's timers included; the agency's time zone;
reading and writing ISO 8601 moments.

SpiffWorkflow's timer code calls `datetime.now(timezone.utc)`; `install_timer_patch()` swaps the
`datetime` name in that module for a subclass whose `now()` asks the current clock, so that
`tourflow tick --at` and the tests move time for the library too.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextvars import ContextVar, Token
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    CHINA: tzinfo = ZoneInfo("Asia/Shanghai")  # the agency works in China time (UTC+8, no DST since 1991)
except ZoneInfoNotFoundError:  # no tz database on this system (and no `tzdata` package): the same offset
    CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

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
    token = freeze(moment)
    try:
        yield
    finally:
        unfreeze(token)


def freeze(moment: datetime | None) -> Token:
    """`frozen_at` without its context manager (a command's wrapper, every call): the time is `moment` (None:
    real time) until `unfreeze` is given the answer."""
    if moment is not None:
        # Naive means UTC; any other zone is converted, so every recorded time reads the same way.
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return _frozen.set(moment)


def unfreeze(token: Token) -> None:
    _frozen.reset(token)


# ---- ISO 8601 ---------------------------------------------------------------------------------
def parse_iso(value: object, naive_zone: tzinfo | None = UTC) -> datetime:
    """ISO 8601 text (a trailing `Z` allowed) -> a datetime in the offset it was written with (so it
    prints back as written); text without an offset is read in `naive_zone` (None: left naive, for
    callers that treat it as unknown). Raises ValueError for text that is not ISO 8601."""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=naive_zone)


def parse_iso_utc(value: object) -> datetime:
    """ISO 8601 text -> aware UTC; text without an offset is UTC (the engine's own timestamps)."""
    return parse_iso(value, UTC).astimezone(UTC)


def parse_iso_china(value: object) -> datetime:
    """ISO 8601 text -> aware datetime; text without an offset is China time (what people type)."""
    return parse_iso(value, CHINA)


# The readings of the moments asked last, by the moment's identity (the entry holds the moment, so its id is not
# reused while kept): a step reads its one moment (Step.now) again and again, for its rows, events and hashes.
# A datetime never changes; at READINGS_KEPT entries the table starts again.
READINGS_KEPT = 64
_naive: dict[int, tuple[datetime, datetime]] = {}
_iso_z: dict[tuple[int, str], tuple[datetime, str]] = {}


def naive_utc(moment: datetime) -> datetime:
    """The naive UTC reading of a moment (naive is taken as UTC): the store's and the hashes' form."""
    if moment.tzinfo is None:
        return moment
    known = _naive.get(id(moment))
    if known is not None and known[0] is moment:
        return known[1]
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    if len(_naive) >= READINGS_KEPT:
        _naive.clear()
    _naive[id(moment)] = (moment, naive)
    return naive


def naive_utc_iso(moment: datetime, sep: str = "T", timespec: str = "auto") -> str:
    """The ISO text of a moment's naive UTC reading. A UTC moment (the clock's, the store's) writes its own text
    without its "+00:00": the same text, without the naive copy `naive_utc` makes (~1.3 µs)."""
    if moment.tzinfo is UTC:
        return moment.isoformat(sep, timespec)[:-6]
    return naive_utc(moment).isoformat(sep, timespec)


def iso_z(moment: datetime | None, timespec: str = "auto") -> str | None:
    """A moment as ISO 8601 in UTC with a `Z` (2026-12-01T07:20:00Z), None for None."""
    if moment is None:
        return None
    key = (id(moment), timespec)
    known = _iso_z.get(key)
    if known is not None and known[0] is moment:
        return known[1]
    text = naive_utc_iso(moment, timespec=timespec) + "Z"
    if len(_iso_z) >= READINGS_KEPT:
        _iso_z.clear()
    _iso_z[key] = (moment, text)
    return text


# ---- SpiffWorkflow's timers -------------------------------------------------------------------
class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        current = utcnow()
        return current if tz is None or tz is UTC else current.astimezone(tz)


def install_timer_patch() -> None:
    """Make SpiffWorkflow's timer events read `utcnow()` (idempotent). Called wherever timers are
    parsed or evaluated: the Runtime, spec parsing, the sandbox's script engine, replay and lint."""
    timer = sys.modules.get(_TIMER_MODULE)  # imported already (every step's script engine calls this): no import
    if timer is None:
        from SpiffWorkflow.bpmn.specs.event_definitions import timer
    timer.datetime = _ClockDatetime


_TIMER_MODULE = "SpiffWorkflow.bpmn.specs.event_definitions.timer"
