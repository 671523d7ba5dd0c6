"""The agency's working calendar: working hours, weekends, public holidays and make-up working days
(调休), and deadlines counted in working hours (`add_working_hours`), for any timer of any process.

The calendar is data: engine/data/holidays_cn.json (China's schedules, hours 09:00-12:00 and
13:00-18:00 China time). The setting TOURFLOW_CALENDAR names a JSON file of the same shape whose
keys replace the shipped ones (a year given there replaces that year). docs/calendar.md.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.clock import CHINA
from engine.config import instance_dir
from engine.errors import TourflowError

SHIPPED_CALENDAR = Path(__file__).resolve().parent / "data" / "holidays_cn.json"
SETTING = "TOURFLOW_CALENDAR"
MAX_SEARCH_DAYS = 3660  # a calendar without a working day in ten years is an error, not a loop
_ONE_DAY = timedelta(days=1)
WINDOW_DAYS_KEPT = 4096  # days whose working windows a calendar keeps worked out (every due date reads a few)


class CalendarError(TourflowError):
    """The calendar data is unusable (a bad settings file, a calendar with no working time)."""

    code = "calendar_invalid"


@dataclass(frozen=True)
class WorkingCalendar:
    """Working periods of a working day (local times), the weekend (ISO weekdays), the public
    holidays and the make-up working days that fall on a weekend, in the time zone `zone`."""

    zone: tzinfo = CHINA
    periods: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13), time(18)))
    weekend: frozenset[int] = frozenset({6, 7})
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    provisional_years: frozenset[int] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.isoweekday() not in self.weekend

    @functools.cached_property
    def day_hours(self) -> float:
        """The working hours of one working day (the periods' lengths added up)."""
        return sum((datetime.combine(datetime.min, end) - datetime.combine(datetime.min, begin)).total_seconds()
                   for begin, end in self.periods) / 3600

    @functools.cached_property
    def _windows_of(self) -> dict[date, tuple[tuple[datetime, datetime], ...]]:
        return {}  # a day's working windows, worked out once (a calendar never changes; bounded in `windows`)

    def windows(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working periods of `day` as moments in the calendar's zone (none on a day off)."""
        known = self._windows_of.get(day)
        if known is None:
            if len(self._windows_of) >= WINDOW_DAYS_KEPT:
                self._windows_of.clear()
            known = self._windows_of[day] = () if not self.is_working_day(day) else tuple(
                (datetime.combine(day, start, self.zone), datetime.combine(day, end, self.zone))
                for start, end in self.periods)
        return known

    def is_working_time(self, moment: datetime) -> bool:
        local = _aware(moment).astimezone(self.zone)
        return any(start <= local < end for start, end in self.windows(local.date()))

    def next_working_time(self, moment: datetime) -> datetime:
        """`moment` itself in working time, else the start of the next working period (aware UTC)."""
        return self.add_working_hours(moment, 0)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `start` (aware UTC). Time outside the working
        periods does not count; zero hours gives the next working moment."""
        if hours < 0:
            raise ValueError(f"working hours must not be negative, not {hours!r}")
        left = timedelta(hours=hours)
        cursor = _aware(start).astimezone(self.zone)
        day, windows = cursor.date(), self.windows
        for _ in range(MAX_SEARCH_DAYS):
            for begin, end in windows(day):
                if begin < cursor:  # the period it starts in: only what is left of it counts
                    begin = cursor
                if end <= begin:
                    continue
                span = end - begin
                if left <= span:  # a deadline may fall on a period's end (Friday 17:00 + 1h: 18:00)
                    return (begin + left).astimezone(UTC)
                left -= span
            day += _ONE_DAY
        raise CalendarError(f"the working calendar has no working time within {MAX_SEARCH_DAYS} days of {start}")


# ---- reading the data ------------------------------------------------------------------------
def calendar_from_data(data: Any, source: str = "calendar") -> WorkingCalendar:
    """A calendar from the JSON shape of holidays_cn.json; CalendarError names what is wrong."""
    if not isinstance(data, dict):
        raise CalendarError(f"{source}: the calendar must be a JSON object")
    holidays: set[date] = set()
    workdays: set[date] = set()
    provisional: set[int] = set()
    years = data.get("years", {})
    if not isinstance(years, dict):
        raise CalendarError(f"{source}: 'years' must be an object of year -> schedule")
    for year, schedule in years.items():
        where = f"{source}: years.{year}"
        if not isinstance(schedule, dict):
            raise CalendarError(f"{where} must be an object")
        for entry in _list(schedule.get("holidays", []), f"{where}.holidays"):
            first, last = _day(entry, "from", where), _day(entry, "to", where)
            if last < first:
                raise CalendarError(f"{where}: holiday {entry.get('name', '')!r} ends before it starts")
            holidays.update(first + timedelta(days=n) for n in range((last - first).days + 1))
        workdays.update(_day(entry, "date", where) for entry in _list(schedule.get("workdays", []),
                                                                      f"{where}.workdays"))
        if schedule.get("provisional"):
            provisional.add(int(year) if str(year).isdigit() else 0)
    return WorkingCalendar(zone=_zone(data.get("zone", "Asia/Shanghai"), source),
                           periods=_periods(data.get("hours", ["09:00-12:00", "13:00-18:00"]), source),
                           weekend=_weekend(data.get("weekend", [6, 7]), source),
                           holidays=frozenset(holidays), workdays=frozenset(workdays),
                           provisional_years=frozenset(provisional))


def _list(value: Any, where: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CalendarError(f"{where} must be a list of objects")
    return value


def _day(entry: dict, key: str, where: str) -> date:
    try:
        return date.fromisoformat(str(entry[key]))
    except (KeyError, ValueError):
        raise CalendarError(f"{where}: {key!r} of {entry!r} must be a date YYYY-MM-DD") from None


def _zone(name: Any, source: str) -> tzinfo:
    if name == "Asia/Shanghai":
        return CHINA  # engine.clock's, which works without a tz database too
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"{source}: unknown time zone {name!r}") from None


def _periods(value: Any, source: str) -> tuple[tuple[time, time], ...]:
    if not isinstance(value, list) or not value:
        raise CalendarError(f"{source}: 'hours' must be a non-empty list like [\"09:00-12:00\", \"13:00-18:00\"]")
    periods = []
    for text in value:
        try:
            start, end = (time.fromisoformat(part.strip()) for part in str(text).split("-"))
        except ValueError:
            raise CalendarError(f"{source}: working hours {text!r} must read HH:MM-HH:MM") from None
        if end <= start or (periods and start < periods[-1][1]):
            raise CalendarError(f"{source}: working hours {text!r} must end after they start, in order, not overlapping")
        periods.append((start, end))
    return tuple(periods)


def _weekend(value: Any, source: str) -> frozenset[int]:
    if not isinstance(value, list) or not all(isinstance(d, int) and 1 <= d <= 7 for d in value):
        raise CalendarError(f"{source}: 'weekend' must list ISO weekdays 1 (Monday) to 7 (Sunday)")
    return frozenset(value)


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalendarError(f"{what} {path}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise CalendarError(f"{what} {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CalendarError(f"{what} {path}: the calendar must be a JSON object")
    return data


def merged(shipped: dict, override: dict) -> dict:
    """The override's keys replace the shipped ones; its years replace those years."""
    result = {**shipped, **{k: v for k, v in override.items() if k != "years"}}
    years = override.get("years", {})
    result["years"] = {**shipped.get("years", {}), **(years if isinstance(years, dict) else {})}
    return result


# ---- the configured calendar -----------------------------------------------------------------
def calendar_setting() -> str | None:
    """The absolute path of the settings file TOURFLOW_CALENDAR names (relative: in TOURFLOW_HOME),
    or None when it is not set."""
    raw = os.environ.get(SETTING)
    if not raw:
        return None
    path = Path(raw)
    return str(path if path.is_absolute() else instance_dir() / path)


_cache: dict[tuple[str | None, int], WorkingCalendar] = {}


def load_calendar(setting: str | None) -> WorkingCalendar:
    """The shipped calendar with the settings file `setting` (a path, or None) over it; cached per
    file version."""
    override = Path(setting) if setting else None
    try:
        version = override.stat().st_mtime_ns if override else 0
    except OSError as exc:
        raise CalendarError(f"{SETTING} {override}: cannot be read ({exc.strerror})") from None
    key = (setting, version)
    if key not in _cache:
        data = _read_json(SHIPPED_CALENDAR, "the shipped calendar")
        source = f"{SETTING} {override}" if override else str(SHIPPED_CALENDAR)
        if override:
            data = merged(data, _read_json(override, SETTING))
        _cache.clear()
        _cache[key] = calendar_from_data(data, source)
    return _cache[key]


def configured_calendar() -> WorkingCalendar:
    """The calendar in force: the shipped one with TOURFLOW_CALENDAR's file over it."""
    return load_calendar(calendar_setting())


def add_working_hours(start: datetime, hours: float, calendar: WorkingCalendar | None = None) -> datetime:
    """`hours` working hours after `start` (aware UTC in and out; naive is read as UTC)."""
    return (calendar or configured_calendar()).add_working_hours(start, hours)


def is_working_time(moment: datetime, calendar: WorkingCalendar | None = None) -> bool:
    return (calendar or configured_calendar()).is_working_time(moment)


def next_working_time(moment: datetime, calendar: WorkingCalendar | None = None) -> datetime:
    return (calendar or configured_calendar()).next_working_time(moment)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
