"""Report periods for the KPI dashboard, in the agency's time (China, UTC+8, no daylight saving).

A report covers the dates [start, end) in China time, cut into calendar periods of one
granularity: a day, an ISO week (Monday to Sunday) or a calendar month. The first and last
periods are clipped to the range (`partial`). A moment belongs to the period holding its China
date: 2026-11-02 07:00 in Shanghai is 2026-11-01 23:00 UTC and counts on November 2.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from engine.clock import CHINA

GRANULARITIES = ("day", "week", "month")
MAX_PERIODS = 366  # a year of days, seven years of weeks, thirty years of months
DEFAULT_SPAN = {"day": 14, "week": 8, "month": 6}  # periods shown when no range is given
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


class RangeError(ValueError):
    """A bad report parameter: `field` names it, `code` says what is wrong (date, order, span, choice)."""

    def __init__(self, field: str, message: str, code: str = "choice"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Period:
    key: str  # 2026-11-23 / 2026-W48 / 2026-11
    label: str  # short, language-neutral: 11-23 / 11-23~11-29 / 2026-11
    start: date  # first date in the range
    end: date  # first date after it (exclusive)
    partial: bool  # clipped by the range: fewer days than its calendar period

    @classmethod
    def of(cls, first: date, end: date, granularity: str) -> Period:
        """The part [first, end) of the calendar period holding `first`."""
        calendar = period_start(first, granularity)
        return cls(period_key(calendar, granularity), _label(first, end, granularity), first, end,
                   partial=(first, end) != (calendar, next_start(calendar, granularity)))

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "label": self.label, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "partial": self.partial}


def period_start(day: date, granularity: str) -> date:
    """The first date of the calendar period holding `day`."""
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_start(start: date, granularity: str) -> date:
    if granularity == "day":
        return start + timedelta(days=1)
    if granularity == "week":
        return start + timedelta(days=7)
    return date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def previous_start(start: date, granularity: str) -> date:
    return period_start(start - timedelta(days=1), granularity)


def period_key(start: date, granularity: str) -> str:
    if granularity == "day":
        return start.isoformat()
    if granularity == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m")


def _label(start: date, end: date, granularity: str) -> str:
    if granularity == "day":
        return start.strftime("%m-%d")
    if granularity == "week":
        last = end - timedelta(days=1)
        return f"{start:%m-%d}~{last:%m-%d}" if last != start else f"{start:%m-%d}"
    return start.strftime("%Y-%m")


def periods(start: date, end: date, granularity: str) -> list[Period]:
    """The calendar periods meeting [start, end), clipped to it, oldest first."""
    out = []
    cursor = period_start(start, granularity)
    while cursor < end:
        following = next_start(cursor, granularity)
        out.append(Period.of(max(cursor, start), min(following, end), granularity))
        cursor = following
    return out


def utc_moment(day: date) -> datetime:
    """Midnight of a China date, in UTC."""
    return datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)


def china_date(moment: datetime) -> date:
    """The China date of a stored moment (naive = UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).date()


def today_in_china(now: datetime) -> date:
    return china_date(now)


class Buckets:
    """Maps stored moments to the index of their period (None outside the range)."""

    def __init__(self, items: list[Period]):
        self.items = items
        self.starts = [p.start for p in items]
        self.end = items[-1].end if items else None

    def index(self, moment: datetime | None) -> int | None:
        if moment is None or not self.items:
            return None
        day = china_date(moment)
        if day < self.starts[0] or day >= self.end:
            return None
        return bisect.bisect_right(self.starts, day) - 1


def default_range(today: date, granularity: str) -> tuple[date, date]:
    """The last DEFAULT_SPAN periods up to and including today."""
    start = period_start(today, granularity)
    for _ in range(DEFAULT_SPAN[granularity] - 1):
        start = previous_start(start, granularity)
    return start, today + timedelta(days=1)


def _date(field: str, text: str) -> date:
    try:
        value = date.fromisoformat(text) if ISO_DATE.fullmatch(text) else None
    except ValueError:
        value = None
    if value is None or not EARLIEST <= value <= LATEST:
        raise RangeError(field, f"must be a date YYYY-MM-DD from {EARLIEST} to {LATEST}", "date")
    return value


def parse_range(from_text: str | None, to_text: str | None, granularity: str | None,
                today: date) -> tuple[date, date, str]:
    """The query's range: `from` (inclusive) and `to` (exclusive) China dates and a granularity.

    Missing values take the defaults (granularity week; the last 8 weeks up to today). `to` must
    come after `from`, and the range may hold at most MAX_PERIODS periods.
    """
    granularity = granularity or "week"
    if granularity not in GRANULARITIES:
        raise RangeError("granularity", f"must be one of {', '.join(GRANULARITIES)}")
    default_from, default_to = default_range(today, granularity)
    end = _date("to", to_text) if to_text else default_to
    if from_text:
        start = _date("from", from_text)
    elif to_text:
        start = default_range(end - timedelta(days=1), granularity)[0]
    else:
        start = default_from
    if end <= start:
        raise RangeError("to", "must be after from", "order")
    count, cursor = 0, period_start(start, granularity)
    while cursor < end:
        count += 1
        if count > MAX_PERIODS:
            raise RangeError("from", f"the range holds more than {MAX_PERIODS} periods of one {granularity}", "span")
        cursor = next_start(cursor, granularity)
    return start, end, granularity
