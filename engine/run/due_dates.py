"""A due date on every human step, and how long its work has waited (docs/due-dates.md).

The due date of a task, when it becomes ready: its earliest boundary timer (the step's SLA,
engine/run/step.py `due_dates`), else its `dueIn`, else its lane's `laneDueIn`
(engine/bpmn/due_rules.py), else the setting TOURFLOW_DEFAULT_DUE_IN (default `working:P2D`).

How an open task stands, for the colours of the inbox and the task page:
overdue (due passed) > due_soon (due within TOURFLOW_DUE_SOON, default PT30M) >
waiting_long (open longer than TOURFLOW_WAITING_LONG, default P3D) > ok.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime, timedelta

from engine.bpmn.due_rules import DueSpan, DueSpanInvalid, parse_due_span
from engine.bpmn.specs import ProcessModel
from engine.errors import TourflowError

DEFAULT_DUE_SETTING = "TOURFLOW_DEFAULT_DUE_IN"
DEFAULT_DUE_IN = "working:P2D"
DUE_SOON_SETTING = "TOURFLOW_DUE_SOON"
DUE_SOON = "PT30M"
WAITING_LONG_SETTING = "TOURFLOW_WAITING_LONG"
WAITING_LONG = "P3D"

# Where a task's due date came from (the task page says it).
SOURCE_TIMER, SOURCE_TASK, SOURCE_LANE, SOURCE_DEFAULT = "timer", "task", "lane", "default"


class DueSettingInvalid(TourflowError):
    code = "due_setting_invalid"


def setting_span(name: str, default: str) -> DueSpan:
    """The span a due-date setting gives (its default when unset); DueSettingInvalid when malformed."""
    value = os.environ.get(name) or default
    try:
        return _parsed(value)
    except DueSpanInvalid as exc:
        raise DueSettingInvalid(f"{name}: {exc}") from None


@functools.lru_cache(maxsize=64)
def _parsed(value: str) -> DueSpan:
    """A setting's text parsed once per text (read for every new task; a DueSpan never changes)."""
    return parse_due_span(value)


def clock_span(span: DueSpan) -> timedelta:
    """A span as clock time (working spans too: the thresholds of the colours are clock time)."""
    return timedelta(days=span.days, hours=span.hours, minutes=span.minutes)


def default_due(model: ProcessModel, task_id: str, lane: str | None, ready_at: datetime) -> tuple[datetime, str]:
    """The due date of a task without a boundary timer, and where it came from."""
    if task_id in model.due.tasks:
        return model.due.tasks[task_id].after(_aware(ready_at)), SOURCE_TASK
    if lane and lane in model.due.lanes:
        return model.due.lanes[lane].after(_aware(ready_at)), SOURCE_LANE
    return setting_span(DEFAULT_DUE_SETTING, DEFAULT_DUE_IN).after(_aware(ready_at)), SOURCE_DEFAULT


def due_source(model: ProcessModel | None, task_id: str, lane: str | None) -> str:
    """Where the default due date of this step comes from (a boundary timer wins over the rest)."""
    if model is None:
        return SOURCE_DEFAULT
    if any(t.attached_to == task_id for t in model.timers.values()):
        return SOURCE_TIMER
    if task_id in model.due.tasks:
        return SOURCE_TASK
    return SOURCE_LANE if lane and lane in model.due.lanes else SOURCE_DEFAULT


def due_state(due_at: datetime | None, now: datetime, created_at: datetime | None = None) -> str:
    """overdue / due_soon / waiting_long / ok / none (no due date, not waiting long)."""
    now = _aware(now)
    if due_at is not None and _aware(due_at) <= now:
        return "overdue"
    if due_at is not None and _aware(due_at) - now <= clock_span(setting_span(DUE_SOON_SETTING, DUE_SOON)):
        return "due_soon"
    if created_at is not None and now - _aware(created_at) >= clock_span(setting_span(WAITING_LONG_SETTING,
                                                                                       WAITING_LONG)):
        return "waiting_long"
    return "ok" if due_at is not None else "none"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


__all__ = ["DEFAULT_DUE_IN", "DEFAULT_DUE_SETTING", "DueSettingInvalid", "SOURCE_DEFAULT", "SOURCE_LANE",
           "SOURCE_TASK", "SOURCE_TIMER", "clock_span", "default_due", "due_source", "due_state", "setting_span"]
