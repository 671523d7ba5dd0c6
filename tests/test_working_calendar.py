"""The working calendar (engine/calendar.py): working hours, weekends, China's public holidays and
make-up working days, as the engine and the sandbox's `add_working_hours` count them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from engine.calendar import (
    SHIPPED_CALENDAR,
    CalendarError,
    WorkingCalendar,
    add_working_hours,
    calendar_from_data,
    configured_calendar,
    is_working_time,
    next_working_time,
)
from engine.clock import CHINA
from engine.sandbox.errors import ScriptFailed
from engine.sandbox.scripts import SandboxedEnvironment


def cn(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CHINA).astimezone(UTC)


@pytest.fixture(autouse=True)
def shipped_calendar(monkeypatch):
    monkeypatch.delenv("TOURFLOW_CALENDAR", raising=False)


def test_friday_evening_plus_an_hour_is_the_next_working_morning():
    due = add_working_hours(cn(2026, 11, 27, 17, 30), 1)
    assert due == cn(2026, 11, 30, 9, 30) and due.tzinfo == UTC
    assert add_working_hours(cn(2026, 11, 27, 17, 0), 1) == cn(2026, 11, 27, 18, 0), "the hour may end the day"
    assert add_working_hours(cn(2026, 11, 28, 3, 0), 1) == cn(2026, 11, 30, 10, 0), "a weekend night counts nothing"
    assert add_working_hours(cn(2026, 11, 30, 10, 0), 16) == cn(2026, 12, 2, 10, 0), "two working days of 8 hours"


def test_a_complaint_on_a_public_holiday_counts_from_the_next_working_day():
    assert not is_working_time(cn(2026, 10, 2, 10, 0)), "国庆: Oct 1-7 off"
    assert add_working_hours(cn(2026, 10, 2, 10, 0), 1) == cn(2026, 10, 8, 10, 0)
    assert add_working_hours(cn(2026, 2, 20, 11, 0), 1) == cn(2026, 2, 24, 10, 0), "春节: Feb 15-23 off"
    assert add_working_hours(cn(2026, 12, 31, 17, 30), 1) == cn(2027, 1, 4, 9, 30), "元旦 2027, then the weekend"


def test_a_make_up_saturday_counts_as_working():
    calendar = configured_calendar()
    assert calendar.is_working_day(date(2026, 10, 10)) and date(2026, 10, 10).isoweekday() == 6
    assert add_working_hours(cn(2026, 10, 9, 17, 30), 1) == cn(2026, 10, 10, 9, 30)
    assert add_working_hours(cn(2026, 2, 13, 17, 30), 1) == cn(2026, 2, 14, 9, 30), "春节调休 Saturday Feb 14"
    assert is_working_time(cn(2026, 1, 4, 10, 0)), "元旦调休 Sunday Jan 4"
    assert not is_working_time(cn(2026, 10, 17, 10, 0)), "an ordinary Saturday is not"


def test_the_lunch_break_does_not_count():
    assert add_working_hours(cn(2026, 11, 30, 11, 30), 1) == cn(2026, 11, 30, 13, 30)
    assert not is_working_time(cn(2026, 11, 30, 12, 30))
    assert is_working_time(cn(2026, 11, 30, 13, 0)) and not is_working_time(cn(2026, 11, 30, 18, 0))
    assert next_working_time(cn(2026, 11, 30, 12, 10)) == cn(2026, 11, 30, 13, 0)
    assert next_working_time(cn(2026, 11, 30, 10, 10)) == cn(2026, 11, 30, 10, 10), "working time is itself"


def test_shanghai_has_no_daylight_saving_time():
    for month in (1, 3, 4, 7, 10, 11):
        assert datetime(2026, month, 15, 9, tzinfo=CHINA).utcoffset() == timedelta(hours=8)
    assert add_working_hours(datetime(2026, 7, 15, 1, 0, tzinfo=UTC), 1) == datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
    assert add_working_hours(datetime(2026, 1, 15, 1, 0), 1) == datetime(2026, 1, 15, 2, 0, tzinfo=UTC), \
        "naive is UTC; the same hours in January and July"


def test_the_shipped_data_holds_2026_and_a_provisional_2027():
    data = json.loads(SHIPPED_CALENDAR.read_text(encoding="utf-8"))
    assert (data["years"]["2026"]["provisional"], data["years"]["2027"]["provisional"]) == (False, True)
    calendar = configured_calendar()
    assert calendar.provisional_years == {2027}
    assert len([d for d in calendar.holidays if d.year == 2026]) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert all(d.isoweekday() in (6, 7) for d in calendar.workdays), "make-up days fall on weekends"
    assert {date(2027, 2, 6), date(2027, 9, 15), date(2027, 10, 7)} <= calendar.holidays


def test_a_settings_file_replaces_hours_and_years(monkeypatch, tmp_path):
    settings = tmp_path / "calendar.json"
    settings.write_text(json.dumps({"hours": ["08:30-17:30"], "years": {"2026": {"holidays": [
        {"name": "公司年会", "from": "2026-12-04", "to": "2026-12-04"}]}}}), encoding="utf-8")
    monkeypatch.setenv("TOURFLOW_CALENDAR", str(settings))
    assert add_working_hours(cn(2026, 12, 3, 17, 0), 1) == cn(2026, 12, 7, 9, 0), "Dec 4 off, day ends at 17:30"
    assert is_working_time(cn(2026, 10, 2, 10, 0)), "the file's 2026 replaces the shipped 2026"
    assert add_working_hours(cn(2027, 2, 5, 9, 0), 1) == cn(2027, 2, 9, 9, 30), "2027 stays the shipped one"
    env = SandboxedEnvironment()
    assert env.evaluate("add_working_hours(t, 1)", {"t": "2026-12-03T17:00:00+08:00"}) == "2026-12-07T09:00:00+08:00"


def test_scripts_and_timer_expressions_count_working_hours():
    env = SandboxedEnvironment()
    assert env.evaluate("add_working_hours(t, 1)", {"t": "2026-11-27T17:30:00+08:00"}) == "2026-11-30T09:30:00+08:00"
    assert env.evaluate("add_working_hours(t, 1.5)", {"t": "2026-11-27T09:30:00Z"}) == "2026-11-30T10:00:00+08:00"
    assert env.evaluate("add_working_hours(t, 1)", {"t": "2026-11-27T17:00:00"}) == "2026-11-27T18:00:00+08:00", \
        "no offset: China time, as people type it"
    with pytest.raises(ScriptFailed, match="must not be negative"):
        env.evaluate("add_working_hours(t, -1)", {"t": "2026-11-27T17:30:00+08:00"})


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ('["09:00-18:00"]', "must be a JSON object"),
    ('{"hours": ["09:00-25:00"]}', "'09:00-25:00' must read HH:MM-HH:MM"),
    ('{"hours": ["13:00-18:00", "09:00-12:00"]}', "in order, not overlapping"),
    ('{"weekend": [0]}', "ISO weekdays 1 (Monday) to 7 (Sunday)"),
    ('{"zone": "Mars/Olympus"}', "unknown time zone 'Mars/Olympus'"),
    ('{"years": {"2026": {"holidays": [{"name": "x", "from": "2026-02-30", "to": "2026-03-01"}]}}}',
     "'from' of {'name': 'x', 'from': '2026-02-30', 'to': '2026-03-01'} must be a date YYYY-MM-DD"),
    ('{"years": {"2026": {"holidays": [{"name": "x", "from": "2026-03-02", "to": "2026-03-01"}]}}}',
     "holiday 'x' ends before it starts"),
])
def test_a_bad_calendar_file_is_a_clear_error(monkeypatch, tmp_path, content, words):
    settings = tmp_path / "calendar.json"
    settings.write_text(content, encoding="utf-8")
    monkeypatch.setenv("TOURFLOW_CALENDAR", str(settings))
    with pytest.raises(CalendarError) as error:
        add_working_hours(cn(2026, 11, 30, 10, 0), 1)
    assert words in str(error.value) and "TOURFLOW_CALENDAR" in str(error.value) and str(settings) in str(error.value)
    with pytest.raises(ScriptFailed, match="TOURFLOW_CALENDAR"):
        SandboxedEnvironment().evaluate("add_working_hours(t, 1)", {"t": "2026-11-30T10:00:00+08:00"})


def test_a_missing_file_and_a_calendar_without_working_time_are_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("TOURFLOW_CALENDAR", str(tmp_path / "nowhere.json"))
    with pytest.raises(CalendarError, match="nowhere.json: cannot be read"):
        configured_calendar()
    never = calendar_from_data({"weekend": [1, 2, 3, 4, 5, 6, 7]})
    with pytest.raises(CalendarError, match="no working time within"):
        add_working_hours(cn(2026, 11, 30, 10, 0), 1, never)
    with pytest.raises(ValueError, match="must not be negative"):
        WorkingCalendar().add_working_hours(cn(2026, 11, 30, 10, 0), -1)


def _fresh_windows(calendar: WorkingCalendar, day: date) -> tuple:
    """A day's working windows worked out from the calendar's fields alone."""
    if not calendar.is_working_day(day):
        return ()
    return tuple((datetime.combine(day, start, calendar.zone), datetime.combine(day, end, calendar.zone))
                 for start, end in calendar.periods)


def test_a_calendar_keeps_each_days_windows_and_its_day_length_as_its_fields_give_them(monkeypatch):
    calendar = calendar_from_data({**json.loads(SHIPPED_CALENDAR.read_text(encoding="utf-8")),
                                   "hours": ["08:30-11:45", "13:15-17:00"]})
    assert calendar.day_hours == 7.0
    monkeypatch.setattr("engine.calendar.WINDOW_DAYS_KEPT", 50)  # the bound: kept days are forgotten, then again
    days = [date(2026, 9, 20) + timedelta(days=n) for n in range(120)]  # the National Day week and its make-up days
    for day in days + days[::-1]:  # more days than kept: forgotten and worked out again, alike
        assert calendar.windows(day) == _fresh_windows(calendar, day)
    start = cn(2026, 9, 30, 16, 0)
    expected, left, cursor = None, 7.0 * 2, start.astimezone(CHINA)  # two working days, counted window by window
    for offset in range(30):
        for begin, end in _fresh_windows(calendar, cursor.date() + timedelta(days=offset)):
            begin = max(begin, cursor)
            hours = (end - begin).total_seconds() / 3600 if end > begin else 0
            if expected is None and hours >= left:
                expected = (begin + timedelta(hours=left)).astimezone(UTC)
            left -= 0 if expected is not None else hours
    assert calendar.add_working_hours(start, 2 * calendar.day_hours) == expected
    assert expected > cn(2026, 10, 8, 17, 0), "the holiday week counts nothing"


def _counted_window_by_window(calendar: WorkingCalendar, start: datetime, hours: float) -> datetime:
    """The moment `hours` working hours after `start`, counted over the calendar's fields' windows."""
    left, cursor = timedelta(hours=hours), start.astimezone(calendar.zone)
    for offset in range(60):
        for begin, end in _fresh_windows(calendar, cursor.date() + timedelta(days=offset)):
            begin = max(begin, cursor)
            if end > begin and left <= end - begin:
                return (begin + left).astimezone(UTC)
            left -= max(end - begin, timedelta(0))
    raise AssertionError("no working time within 60 days")


def test_every_start_and_span_around_the_national_day_week_counts_as_the_windows_give_it():
    calendar = configured_calendar()
    starts = [cn(2026, 9, 25, 0, 0) + timedelta(minutes=47 * n) for n in range(700)]  # nights, lunches, holidays
    starts += [cn(2026, 10, 9, 12, 0), cn(2026, 10, 10, 9, 0), cn(2026, 9, 30, 18, 0)]  # a period's edges
    for start in starts:
        for hours in (0, 0.25, 1, 3, 8, 16, 40):
            due = calendar.add_working_hours(start, hours)
            assert due == _counted_window_by_window(calendar, start, hours), (start, hours)
            assert due.tzinfo == UTC
