"""The inbox search's index (`task_search_term`): what makes a search an index lookup at 100,000 tasks.

A task's search text (engine/run/task_search.py, `names | codes | phones `) is stored as terms:
- kind `n` / `c`: every ending of every word of its names / codes (cut to WORD_KEEP characters). A
  part of a word is the start of one of its endings, so "the names hold `建国`" is the index range
  of the `n` terms starting with `建国`;
- kind `p`: every ending of 4 to PHONE_KEEP digits of each phone, so "a phone ends with 4567" is
  one key.
The lookup only narrows: the search keeps its LIKE on `search_text` over the tasks found, so what
it answers is exactly what the LIKE alone answered. A search term with spaces looks up its longest
word (each of its words lies within one word of the text); a longer one its first WORD_KEEP
characters, a longer phone its last PHONE_KEEP digits. A task with more than MAX_TERMS terms gets the
one term EVERY instead, which every lookup includes.

Written with the task row (engine/run/step.py, a migration retargeting it, `backfill`), dropped
when the task closes: only open tasks are searched. Not process state: not in the state hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from engine.store.models import TaskSearchTerm
from engine.store.records import TaskRow

BAR = "|"  # between the segments of a search text; no value keeps one
WORD_KEEP = 12
PHONE_MIN = 4
PHONE_KEEP = 12
MAX_TERMS = 400
NAME, CODE, PHONE = "n", "c", "p"
EVERY = ("*", "")
_LAST = 0x10FFFF


def terms_of(text: str | None) -> set[tuple[str, str]]:
    """(kind, term) of a search text; empty for None."""
    if not text:
        return set()
    names, codes, phones = text.split(BAR)
    found: set[tuple[str, str]] = set()
    for kind, segment in ((NAME, names), (CODE, codes)):
        for word in segment.split():
            found.update((kind, word[start:start + WORD_KEEP]) for start in range(len(word)))
    for phone in phones.split():
        found.update((PHONE, phone[-size:]) for size in range(PHONE_MIN, min(len(phone), PHONE_KEEP) + 1))
    return {EVERY} if len(found) > MAX_TERMS else found


def term_rows(tasks: Iterable[tuple[int, str | None]]) -> list[dict[str, Any]]:
    return [{"kind": kind, "term": term, "task_id": task_id}
            for task_id, text in tasks for kind, term in sorted(terms_of(text))]


def write_terms(session: Session, tasks: Iterable[tuple[int, str | None]]) -> None:
    """Store the terms of (task id, search text) pairs: one INSERT, none when there are no terms."""
    rows = term_rows(tasks)
    if rows:
        session.execute(insert(TaskSearchTerm), rows)


def drop_terms(session: Session, task_ids: Iterable[int]) -> None:
    ids = sorted(set(task_ids))
    if ids:
        session.execute(delete(TaskSearchTerm).where(TaskSearchTerm.task_id.in_(ids)),
                        execution_options={"synchronize_session": False})


def drop_closed(session: Session, rows: Iterable[TaskRow]) -> None:
    """Drop the terms of task rows this session closed; no statement when none of them had search text."""
    drop_terms(session, [row.id for row in rows if row.search_text])


def _after_prefix(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (None: no bound)."""
    stripped = prefix.rstrip(chr(_LAST))
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters of a stored string
        following = 0xE000
    return stripped[:-1] + chr(following)


def _starting_with(kinds: tuple[str, ...], prefix: str):
    prefix = prefix[:WORD_KEEP]
    bound = [TaskSearchTerm.term >= prefix]
    if (end := _after_prefix(prefix)) is not None:
        bound.append(TaskSearchTerm.term < end)
    kind = TaskSearchTerm.kind == kinds[0] if len(kinds) == 1 else TaskSearchTerm.kind.in_(kinds)
    return and_(kind, *bound)


def _tasks(found):
    every = and_(TaskSearchTerm.kind == EVERY[0], TaskSearchTerm.term == EVERY[1])
    return select(TaskSearchTerm.task_id).where(or_(*found, every)).distinct()


def text_lookup(text: str, kinds: tuple[str, ...]):
    """Tasks whose names (NAME) or codes (CODE) may hold the normalized `text`: a superset, for IN."""
    longest = max(text.split(" "), key=len)
    return _tasks([_starting_with(kinds, longest)])


def phone_lookup(digits: str):
    """Tasks with a phone ending in `digits` (at least PHONE_MIN), plus those past MAX_TERMS."""
    return _tasks([and_(TaskSearchTerm.kind == PHONE, TaskSearchTerm.term == digits[-PHONE_KEEP:])])


def word_lookup(word: str, digits: str | None):
    """A free-text word: in the names or codes, or (digits) a phone's ending."""
    found = [_starting_with((NAME, CODE), word)]
    if digits:
        found.append(and_(TaskSearchTerm.kind == PHONE, TaskSearchTerm.term == digits[-PHONE_KEEP:]))
    return _tasks(found)


__all__ = ["BAR", "CODE", "NAME", "PHONE", "MAX_TERMS", "PHONE_KEEP", "WORD_KEEP", "drop_closed", "drop_terms", "phone_lookup", "term_rows", "terms_of",
           "text_lookup", "word_lookup", "write_terms"]
