"""Default due dates of human steps, as the diagram gives them (docs/bpmn-conventions.md, "Due dates").

- `dueIn` on a user task: how long the step may take, e.g. `PT4H` (clock time) or
  `working:P1D` (working time of engine/calendar.py: a working day is the calendar's working
  hours of one day, 8 by default);
- `laneDueIn` on the process: the default of each lane, e.g. `qc=working:P1D, supervisor=working:PT4H`.

A boundary timer on the task still wins (engine/run/due_dates.py); the global fallback is the
setting TOURFLOW_DEFAULT_DUE_IN. Values are ISO 8601 durations of weeks, days, hours and minutes
(no years or months: their length depends on the date).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from engine.calendar import WorkingCalendar, configured_calendar

DUE_PROPERTY = "dueIn"  # on a user task
LANE_DUE_PROPERTY = "laneDueIn"  # on the process
WORKING_PREFIX = "working:"
_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
       "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?)?")
MAX_DAYS = 366  # a step allowed more than a year is a typo


class DueSpanInvalid(ValueError):
    """A dueIn / laneDueIn value that is not a positive duration of the accepted form."""


@dataclass(frozen=True)
class DueSpan:
    """How long a step may take: days, hours and minutes of clock or working time."""

    text: str
    days: int = 0
    hours: int = 0
    minutes: int = 0
    working: bool = False

    def after(self, start: datetime, calendar: WorkingCalendar | None = None) -> datetime:
        """The due moment of a step that became ready at `start` (aware UTC; naive is UTC)."""
        if not self.working:
            return start + timedelta(days=self.days, hours=self.hours, minutes=self.minutes)
        calendar = calendar or configured_calendar()
        return calendar.add_working_hours(start, self.days * calendar.day_hours + self.hours + self.minutes / 60)


def parse_due_span(text: str) -> DueSpan:
    """`PT4H`, `P2D`, `P1W`, `working:PT8H`, `working:P1DT4H`; DueSpanInvalid says why not."""
    raw = (text or "").strip()
    working = raw.startswith(WORKING_PREFIX)
    body = raw[len(WORKING_PREFIX):].strip() if working else raw
    match = _DURATION.fullmatch(body)
    if not match or not any(match.groups()):
        raise DueSpanInvalid(f"{raw!r} is not a duration like PT4H, P2D or working:P1D "
                             "(weeks, days, hours, minutes; no years or months)")
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    days += 7 * weeks
    if days + hours + minutes == 0:
        raise DueSpanInvalid(f"{raw!r} is zero: a step needs some time")
    if days + hours / 24 > MAX_DAYS:
        raise DueSpanInvalid(f"{raw!r} is longer than {MAX_DAYS} days")
    return DueSpan(raw, days, hours, minutes, working)


def parse_lane_spans(text: str) -> dict[str, DueSpan]:
    """`qc=working:P1D, supervisor=PT4H` -> {lane: span}; DueSpanInvalid names the bad entry."""
    spans: dict[str, DueSpan] = {}
    for entry in (part.strip() for part in (text or "").split(",")):
        if not entry:
            continue
        lane, sep, value = entry.partition("=")
        if not sep or not lane.strip():
            raise DueSpanInvalid(f"{entry!r} is not lane=duration (e.g. qc=working:P1D)")
        spans[lane.strip()] = parse_due_span(value)
    return spans


def property_element(element: etree._Element, name: str) -> etree._Element | None:
    """The spiffworkflow:property `name` of a task or process element, if it has one."""
    return element.find(f"bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='{name}']",
                        _NS)


@dataclass(frozen=True)
class DueRules:
    """A process's due-date rules: per user task, per lane (invalid values left out: lint reports them)."""

    tasks: dict[str, DueSpan]
    lanes: dict[str, DueSpan]

    def span_for(self, task_id: str, lane: str | None) -> DueSpan | None:
        return self.tasks.get(task_id) or (self.lanes.get(lane) if lane else None)


def due_rules(processes: list[etree._Element]) -> DueRules:
    """The rules of a process and of the processes it calls (the first given wins)."""
    tasks: dict[str, DueSpan] = {}
    lanes: dict[str, DueSpan] = {}
    for process in reversed(processes):
        prop = property_element(process, LANE_DUE_PROPERTY)
        if prop is not None:
            with contextlib.suppress(DueSpanInvalid):
                lanes.update(parse_lane_spans(prop.get("value") or ""))
        for task in process.iterfind(".//bpmn:userTask", _NS):
            prop = property_element(task, DUE_PROPERTY)
            if prop is not None:
                with contextlib.suppress(DueSpanInvalid):
                    tasks[task.get("id")] = parse_due_span(prop.get("value") or "")
    return DueRules(tasks, lanes)


__all__ = ["DUE_PROPERTY", "LANE_DUE_PROPERTY", "DueRules", "DueSpan", "DueSpanInvalid", "due_rules",
           "parse_due_span", "parse_lane_spans", "property_element"]
