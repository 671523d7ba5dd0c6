"""The inbox search: what a task is found by (`human_task.search_text`) and the SQL that finds it.

`search_text` is written with the task row (engine/run/step.py) from the task's data, lower-cased,
in three segments: `names | codes | phones ` (every phone as its digits, each followed by a
space). No value keeps a `|`, so a LIKE pattern can say which segment a term must lie in: a
customer term before both bars, a code term between them, a phone term after both and followed
by a space, i.e. at the end of a number ("4567" finds 138-0123-4567, "0123" does not).
A query starts from the tasks the search's index finds for one field (`lookup`,
engine/run/search_terms.py) and applies the LIKE conditions to those only. Rows written before this
column was filled have NULL and are found by no search term; `tourflow search-backfill` (`backfill`)
fills the open ones from their instance's data, and the index of open rows written before it existed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.clock import CHINA
from engine.run.search_terms import (
    BAR,
    CODE,
    NAME,
    drop_terms,
    phone_lookup,
    terms_of,
    text_lookup,
    word_lookup,
    write_terms,
)
from engine.store.models import HumanTask, ProcessInstance, TaskSearchTerm
from engine.store.states import HumanTaskState

# The data keys the processes' forms use for a customer, a phone and a tour or booking code
# (the same as the instance search's, handlers/domain/search.py); summary keys (process property
# summaryKeys) named like them count too.
NAME_KEYS = ("customer_name", "complainant_name", "problem_customer_name", "customer_handle")
PHONE_KEYS = ("contact_phone", "customer_phone", "complainant_phone", "problem_contact_phone", "caller_number")
CODE_KEYS = ("tour_id", "problem_tour_id", "booking_code")
DUE_CHOICES = ("overdue", "today", "week", "none")
TEXT_MAX = 120
PHONE_MIN_DIGITS = 4
_NOT_DIGIT = re.compile(r"\D")
_PHONE_NOISE = re.compile(r"[\s\-+()（）]")


def _kind(key: str) -> str | None:
    if key in NAME_KEYS or key.endswith(("_name", "_handle")):
        return "name"
    if key in PHONE_KEYS or key.endswith(("_phone", "_number")):
        return "phone"
    if key in CODE_KEYS or key.endswith(("tour_id", "_code")):
        return "code"
    return None


def _text(value: Any) -> str:
    return " ".join(str(value).replace(BAR, "/").lower().split())


def search_text(data: Mapping[str, Any], summary_keys: Iterable[str] = ()) -> str | None:
    """The searchable text of a task with this data; None when it holds no name, phone or code."""
    parts: dict[str, list[str]] = {"name": [], "code": [], "phone": []}
    for key, kind in _keys_of(tuple(summary_keys)):
        value = data.get(key)
        if value is None or isinstance(value, (dict, list, bool)):
            continue
        text = _NOT_DIGIT.sub("", str(value)) if kind == "phone" else _text(value)
        if text and text not in parts[kind]:
            parts[kind].append(text)
    if not any(parts.values()):
        return None
    phones = "".join(f"{p} " for p in parts["phone"])
    return f"{' '.join(parts['name'])} {BAR} {' '.join(parts['code'])} {BAR} {phones}"


@functools.lru_cache(maxsize=256)
def _keys_of(summary_keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(key, kind) of each data key a task's search text reads, in order: worked out once per model's
    summary keys (the same for every task of a process), not for every new task."""
    keys = dict.fromkeys((*NAME_KEYS, *PHONE_KEYS, *CODE_KEYS, *summary_keys))
    return tuple((key, kind) for key in keys if (kind := _kind(key)) is not None)


def backfill(session: Session) -> int:
    """Make open task rows written before the search existed searchable: fill their search text (NULL)
    from their instance's current data and their summary, and their search terms (none before migration
    0016, engine/run/search_terms.py); returns how many rows changed. Finished rows stay as they are."""
    rows = session.execute(
        select(HumanTask, ProcessInstance.data).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(HumanTask.state == HumanTaskState.READY, HumanTask.search_text.is_(None))
    ).all()
    filled: dict[int, str] = {}
    for row, data in rows:
        summary = row.summary or {}
        text = search_text({**(data or {}), **summary}, summary)
        if text is not None:
            row.search_text = filled[row.id] = text
    indexed = select(TaskSearchTerm.task_id).where(TaskSearchTerm.task_id == HumanTask.id)
    unindexed = dict(session.execute(select(HumanTask.id, HumanTask.search_text).where(
        HumanTask.state == HumanTaskState.READY, HumanTask.search_text.is_not(None), ~indexed.exists())).all())
    drop_terms(session, filled)
    write_terms(session, {**unindexed, **filled}.items())
    return len({*filled, *(task_id for task_id, text in unindexed.items() if terms_of(text))})


def phone_digits(text: str) -> str | None:
    """The digits of a phone query (spaces, dashes, + and brackets ignored; at least 4), else None."""
    digits = _PHONE_NOISE.sub("", text)
    return digits if len(digits) >= PHONE_MIN_DIGITS and digits.isdigit() else None


@dataclass(frozen=True)
class TaskSearch:
    """The search part of an inbox filter; every field given must match (AND)."""

    q: str | None = None  # free text: each word a name or code part, or a phone's last digits
    customer: str | None = None  # part of a customer's name
    phone: str | None = None  # the end of a phone number, at least 4 digits
    code: str | None = None  # part of a tour id or booking code
    due: str | None = None  # DUE_CHOICES: overdue / today / this week (China calendar) / none

    @property
    def active(self) -> bool:
        return any((self.q, self.customer, self.phone, self.code, self.due))


# What is wrong with a search field, by problem code (English; the page says it in its language).
MESSAGES = {
    "long": f"must be at most {TEXT_MAX} characters",
    "phone": f"must be at least {PHONE_MIN_DIGITS} digits (spaces, dashes and + allowed)",
    "due": f"must be one of {', '.join(DUE_CHOICES)}",
}


def problems(search: TaskSearch) -> dict[str, str]:
    """field -> problem code (MESSAGES); {} when the search can run."""
    found: dict[str, str] = {}
    for name in ("q", "customer", "phone", "code"):
        value = getattr(search, name)
        if value and len(value) > TEXT_MAX:
            found[name] = "long"
    if search.phone and "phone" not in found and phone_digits(search.phone) is None:
        found["phone"] = "phone"
    if search.due and search.due not in DUE_CHOICES:
        found["due"] = "due"
    return found


def _like(term: str) -> str:
    return _text(term).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _matches(pattern: str):
    return HumanTask.search_text.like(pattern, escape="\\")


def _phone_end(digits: str):
    return _matches(f"%{BAR}%{BAR}%{digits} %")


def _word(word: str):
    """A free-text word: part of a name or code, or (digits) the end of a phone."""
    name_or_code = _matches(f"%{_like(word)}%{BAR}%")
    digits = phone_digits(word)
    return or_(name_or_code, _phone_end(digits)) if digits else name_or_code


def china_day(now: datetime) -> datetime:
    """00:00 (China time) of the day `now` falls on, in UTC."""
    local = now.astimezone(CHINA)
    return datetime.combine(local.date(), time(0), tzinfo=CHINA).astimezone(UTC)


def _due(choice: str, now: datetime):
    if choice == "none":
        return HumanTask.due_at.is_(None)
    if choice == "overdue":
        return and_(HumanTask.due_at.is_not(None), HumanTask.due_at <= now)
    start = china_day(now)
    if choice == "week":
        start -= timedelta(days=now.astimezone(CHINA).weekday())
    end = start + timedelta(days=1 if choice == "today" else 7)
    return and_(HumanTask.due_at >= start, HumanTask.due_at < end)


def conditions(search: TaskSearch | None, now: datetime) -> list[Any]:
    """The WHERE conditions of a search (call `problems` first: bad values are ignored here)."""
    if search is None:
        return []
    found = []
    for word in (search.q or "").split():
        found.append(_word(word))
    if search.customer and _text(search.customer):
        found.append(_matches(f"%{_like(search.customer)}%{BAR}%{BAR}%"))
    if search.code and _text(search.code):
        found.append(_matches(f"%{BAR}%{_like(search.code)}%{BAR}%"))
    if search.phone and (digits := phone_digits(search.phone)):
        found.append(_phone_end(digits))
    if search.due in DUE_CHOICES:
        found.append(_due(search.due, now))
    return found


def lookup(search: TaskSearch | None):
    """A SELECT of the task ids the search's index finds for one of the search's fields (the phone,
    else the code, the customer, the longest word): a superset of its matches, for the query to start
    from; `conditions` still decide. None when no field is looked up (a due window alone)."""
    if search is None:
        return None
    if search.phone and (digits := phone_digits(search.phone)):
        return phone_lookup(digits)
    for value, kind in ((search.code, CODE), (search.customer, NAME)):
        if value and (text := _text(value)):
            return text_lookup(text, (kind,))
    words = (search.q or "").split()
    if not words:
        return None
    word = max(words, key=len)
    return word_lookup(_text(word), phone_digits(word))


__all__ = ["CODE_KEYS", "DUE_CHOICES", "MESSAGES", "NAME_KEYS", "PHONE_KEYS", "TEXT_MAX", "TaskSearch", "backfill", "china_day",
           "conditions", "lookup", "phone_digits", "problems", "search_text"]
