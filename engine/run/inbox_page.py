"""One page of the inbox, served by indexes at 100,000 open tasks (docs/performance.md); the counts are
engine/run/inbox_counts.py's.

The due order is `due_at NULLS LAST, id`: on SQLite and PostgreSQL alike the index
(state, due_at, id, lane, assignee) yields it without a sort (ascending NULLS LAST is PostgreSQL's
index order; SQLite walks the NULL entries after the others). A page is reached by offset (the
web inbox's page numbers) or by an opaque keyset cursor (`after`, the API): the tasks after the
last one a client holds, at the same cost however deep it is. The cursor walks the dated tasks
by (due_at, id) and then the undated ones by id, two index ranges, so it never scans from the top.
A search (a LIKE no index serves) reads its matches once and orders them here instead
(`narrow_page`), so its total and its page do not cost two passes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, or_, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Join

from engine.store.models import HumanTask

SORTS = ("due", "age")


class BadCursor(ValueError):
    """An `after` value this module did not write (or written for another sort)."""


@dataclass(frozen=True)
class Cursor:
    """Where a keyset page starts: after the task (`moment`, `task_id`) in `sort` order; `moment` is
    due_at (None: an undated task) for `due`, created_at for `age`."""

    sort: str
    moment: datetime | None
    task_id: int

    def encode(self) -> str:
        moment = None if self.moment is None else self.moment.isoformat()
        raw = json.dumps([self.sort, moment, self.task_id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_after(row: HumanTask, sort: str) -> Cursor:
    return Cursor(sort, row.created_at if sort == "age" else row.due_at, row.id)


def decode(value: str, sort: str) -> Cursor:
    """The cursor `value` names, or BadCursor when it is not one this module wrote for `sort`."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        kind, moment, task_id = json.loads(raw)
        when = None if moment is None else datetime.fromisoformat(moment).astimezone(UTC)
    except (binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise BadCursor("not a cursor this inbox answered") from exc
    if kind not in SORTS or type(task_id) is not int or not 0 < task_id < 2**31:
        raise BadCursor("not a cursor this inbox answered")
    if kind != sort:
        raise BadCursor(f"a cursor of the {kind!r} order, not {sort!r}")
    if when is None and kind == "age":
        raise BadCursor("not a cursor this inbox answered")
    return Cursor(kind, when, task_id)


def order_of(sort: str) -> list[Any]:
    if sort == "age":
        return [HumanTask.created_at, HumanTask.id]
    return [HumanTask.due_at.asc().nulls_last(), HumanTask.id]


def page_query(conditions: list[Any], sort: str):
    """The page statement without offset or limit (for EXPLAIN and the smoke test)."""
    return select(HumanTask).where(*conditions).order_by(*order_of(sort))


def _keyset(session: Session, conditions: list[Any], after: Cursor, limit: int) -> list[HumanTask]:
    if after.sort == "age":
        after_age = tuple_(HumanTask.created_at, HumanTask.id) > tuple_(after.moment, after.task_id)
        return list(session.execute(page_query([*conditions, after_age], "age").limit(limit)).scalars())
    rows: list[HumanTask] = []
    if after.moment is not None:
        dated = [*conditions, HumanTask.due_at.is_not(None),
                 tuple_(HumanTask.due_at, HumanTask.id) > tuple_(after.moment, after.task_id)]
        rows = list(session.execute(select(HumanTask).where(*dated)
                                    .order_by(HumanTask.due_at, HumanTask.id).limit(limit)).scalars())
    if len(rows) < limit:
        undated = [*conditions, HumanTask.due_at.is_(None)]
        if after.moment is None:
            undated.append(HumanTask.id > after.task_id)
        rows += session.execute(select(HumanTask).where(*undated).order_by(HumanTask.id)
                                .limit(limit - len(rows))).scalars()
    return rows


def page(session: Session, conditions: list[Any], sort: str, per_page: int, offset: int = 0,
         after: Cursor | None = None) -> tuple[list[HumanTask], Cursor | None]:
    """(rows, cursor of the next page or None at the end): by keyset after `after`, else by offset."""
    if after is not None:
        rows = _keyset(session, conditions, after, per_page + 1)
    elif offset:  # skip the first rows in the index alone (PostgreSQL would read each one's row otherwise)
        skipped = select(HumanTask.id).where(*conditions).order_by(*order_of(sort)).offset(offset).limit(per_page + 1)
        rows = list(session.execute(page_query([HumanTask.id.in_(skipped)], sort)).scalars())
    else:
        rows = list(session.execute(page_query(conditions, sort).limit(per_page + 1)).scalars())
    if len(rows) <= per_page:
        return rows, None
    return rows[:per_page], cursor_after(rows[per_page - 1], sort)


def visible_to(username: str, reads_all: bool):
    """The inbox's default assignee condition: unclaimed or mine (everyone's for who reads all)."""
    return None if reads_all else or_(HumanTask.assignee.is_(None), HumanTask.assignee == username)


SEARCH_CAP = 2000  # matches a search sorts in Python; beyond that the indexed order pays off


def _sort_key(sort: str):
    if sort == "age":
        return lambda row: (row.created_at, row.id)
    far = datetime.max.replace(tzinfo=UTC)
    return lambda row: (row.due_at is None, row.due_at or far, row.id)


class StartingFrom(Join):
    """An inner join that SQLite runs in the order written (`CROSS JOIN`): from the few task ids the
    search's index found to their rows by primary key. Without it SQLite, knowing nothing of how many
    tasks are open, walks every open task in an index on state and probes the ids for each."""

    inherit_cache = True


@compiles(StartingFrom, "sqlite")
def _cross_join(element: StartingFrom, compiler, **kw) -> str:
    kw["asfrom"] = True
    return (f"{compiler.process(element.left, **kw)} CROSS JOIN "
            f"{compiler.process(element.right, **kw)} ON {compiler.process(element.onclause, **kw)}")


def narrow_query(conditions: list[Any], start: Select | None = None) -> Select:
    """The keys of a search's matches, read from the task ids `start` selects when given."""
    statement = select(HumanTask.id, HumanTask.due_at, HumanTask.created_at).where(*conditions)
    if start is None:
        return statement
    found = start.subquery("found")
    return statement.select_from(StartingFrom(found, HumanTask.__table__, found.c.task_id == HumanTask.id))


def narrow_page(session: Session, conditions: list[Any], sort: str, per_page: int, offset: int = 0,
                after: Cursor | None = None, start: Select | None = None
                ) -> tuple[list[HumanTask], Cursor | None, int] | None:
    """A search's page and total from ONE pass over its matches (a LIKE no index serves would
    otherwise be evaluated twice, for the count and for the page): (rows, next cursor, total), or
    None when more than SEARCH_CAP tasks match (the caller pages through the index then). `start`
    (a SELECT of task ids, engine/run/search_terms.py) is where the pass starts: only those are read."""
    keys = session.execute(narrow_query(conditions, start).limit(SEARCH_CAP + 1)).all()
    if len(keys) > SEARCH_CAP:
        return None
    key = _sort_key(sort)
    ordered = sorted(keys, key=key)
    if after is not None:
        mark = key(_Position(after))
        ordered = [row for row in ordered if key(row) > mark]
        offset = 0
    chosen = ordered[offset:offset + per_page + 1]
    wanted = [row.id for row in chosen[:per_page]]
    found = {row.id: row for row in session.execute(select(HumanTask).where(HumanTask.id.in_(wanted))).scalars()}
    rows = [found[task_id] for task_id in wanted if task_id in found]
    following = cursor_after(rows[-1], sort) if len(chosen) > per_page and rows else None
    return rows, following, len(keys)


@dataclass(frozen=True)
class _Position:
    """A cursor as the sort key sees a row."""

    cursor: Cursor

    @property
    def id(self) -> int:
        return self.cursor.task_id

    @property
    def due_at(self) -> datetime | None:
        return self.cursor.moment

    @property
    def created_at(self) -> datetime | None:
        return self.cursor.moment
