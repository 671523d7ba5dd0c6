"""The inbox's stamp: a short string that changes whenever a viewer's open tasks change.

An open inbox polls it (GET /api/v1/inbox/stamp, webapp/api_inbox.py) and reloads its rows only
when it differs (docs/inbox.md). The viewer's part covers the tasks the inbox counts under 全部待办:
open, in the viewer's lanes and routing (engine/access/policy.py `lane_access`; every lane for those
who read all), claimed or not. Its digest folds how many there are and the newest id (a task added,
completed or gone), the sum of the claimed ones' ids (a claim, a release), how many are overdue now,
and the newest audit event of their instances (anything audited: a reassignment, a new due date).
A task that comes into a viewer's set (opened, or moved into their lane or routing) does so in an
audited write on its instance, which then has an open task of theirs: that event is their newest;
one that leaves lowers the count. So the sum of all their ids, which the digest folded until the
third pass of docs/performance.md, told nothing more, and cost an auditor a read of every open row.

That takes one statement but reads every open task of the viewer, so an idle poll does not run it:
every write transaction appends to the audit log, and while the log's newest event id (one
primary-key lookup) is the one the stamp saw, no task is due and the stamp is younger than
`RECHECK`, nothing can have changed. The recheck bounds how late a change shows whose event id
is below one seen already (on PostgreSQL two transactions may commit out of id order).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from engine.access.policy import Viewer, lane_access
from engine.clock import utcnow
from engine.run.queries import visible_lanes
from engine.store.models import AuditEvent, HumanTask
from engine.store.states import HumanTaskState

DIGEST_LENGTH = 16
RECHECK = timedelta(seconds=30)
# <newest audit event id>.<checked at>.<next due, 0: none>.<digest>: times in epoch seconds
STAMP_PATTERN = re.compile(rf"([0-9]{{1,19}})\.([0-9]{{1,12}})\.([0-9]{{1,12}})\.([0-9a-f]{{{DIGEST_LENGTH}}})")


@dataclass(frozen=True)
class InboxStamp:
    stamp: str
    open: int | None  # open tasks the viewer sees (the inbox's 全部待办); None: not counted (an idle poll)
    newest_task_id: int | None = None

    @property
    def digest(self) -> str:
        return self.stamp.rsplit(".", 1)[1]


def is_stamp(value: str) -> bool:
    """Is `value` shaped like a stamp (what a client may send back as `since`)?"""
    return STAMP_PATTERN.fullmatch(value) is not None


def open_task_conditions(viewer: Viewer) -> list:
    """WHERE conditions of 'an open task in this viewer's inbox' (as engine/run/queries.py `inbox`)."""
    conditions = [HumanTask.state == HumanTaskState.READY]
    if visible_lanes(viewer) is not None:
        conditions.append(lane_access(viewer))
    return conditions


class Unindexed(ColumnElement):
    """A column no index may serve on SQLite (`+column`): the newest open task is then a walk from the
    table's end, where SQLite would rather read all of ix_human_task_state_created and sort it."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column):
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _plain(element: Unindexed, compiler, **kw) -> str:
    return compiler.process(element.column, **kw)


@compiles(Unindexed, "sqlite")
def _unindexed(element: Unindexed, compiler, **kw) -> str:
    return "+" + compiler.process(element.column, **kw)


def _epoch(moment: datetime | None) -> int:
    if moment is None:
        return 0
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def stamp_query(viewer: Viewer, now_db: datetime):
    """The statement of the viewer's stamp: ONE statement (one snapshot) over their open tasks.
    One pass over an index counts them (with the newest id, unless every open task is theirs: then the
    newest is a seek from the table's end); every other figure is a subquery that its own index answers
    by a range or a seek (claimed: the assignee index; overdue and next due: the due date; the newest
    event: the audit log walked from its end), where a CASE per row over all of them cost the auditor 5
    times the count (docs/performance.md, third pass)."""
    conditions = open_task_conditions(viewer)

    def figure(*columns, where=()):
        return select(*columns).where(*conditions, *where).scalar_subquery()

    if visible_lanes(viewer) is None:
        tasks = select(func.count().label("count")).where(*conditions).subquery()
        newest = (select(HumanTask.id).where(Unindexed(HumanTask.state) == HumanTaskState.READY)
                  .order_by(HumanTask.id.desc()).limit(1).scalar_subquery())
    else:
        tasks = select(func.count().label("count"), func.max(HumanTask.id).label("newest")).where(*conditions).subquery()
        newest = tasks.c.newest
    theirs = select(HumanTask.id).where(*conditions, HumanTask.instance_id == AuditEvent.instance_id)
    their_last_event = select(AuditEvent.id).where(theirs.exists()).order_by(AuditEvent.id.desc()).limit(1)
    return select(
        tasks.c.count, newest,
        figure(func.sum(HumanTask.id), where=[HumanTask.assignee.is_not(None)]),
        figure(func.count(), where=[HumanTask.due_at <= now_db]),
        their_last_event.scalar_subquery(),
        figure(func.min(HumanTask.due_at), where=[HumanTask.due_at > now_db]),
        select(func.max(AuditEvent.id)).scalar_subquery()).select_from(tasks)


def inbox_stamp(session: Session, viewer: Viewer, now: datetime | None = None) -> InboxStamp:
    """The viewer's stamp, counted afresh: ONE statement (`stamp_query`)."""
    now_db = now or utcnow()
    row = session.execute(stamp_query(viewer, now_db)).one()
    count, newest, next_due, marker = row[0], row[1], row[5], row[6]
    figures = "/".join(str(value or 0) for value in row[:5])
    digest = hashlib.sha256(f"{viewer.username}/{figures}".encode()).hexdigest()[:DIGEST_LENGTH]
    stamp = f"{marker or 0}.{_epoch(now_db)}.{_epoch(next_due)}.{digest}"
    return InboxStamp(stamp, count, newest)


def unchanged_since(session: Session, since: str, now: datetime | None = None) -> bool:
    """Can nothing have changed since the stamp `since` was counted? ONE primary-key lookup:
    no newer audit event, no task of the viewer due meanwhile, and the stamp younger than RECHECK."""
    match = STAMP_PATTERN.fullmatch(since)
    if match is None:
        return False
    marker, checked, next_due = (int(match.group(n)) for n in (1, 2, 3))
    moment = _epoch(now or utcnow())
    if not checked <= moment < checked + RECHECK.total_seconds() or (next_due and moment >= next_due):
        return False
    return session.execute(select(func.max(AuditEvent.id))).scalar() == (marker or None)


def current_stamp(session: Session, viewer: Viewer, since: str | None,
                  now: datetime | None = None) -> tuple[bool, InboxStamp]:
    """(changed?, the stamp to hold next) for a poll that holds `since` (None: holds nothing).
    Changed means the viewer's tasks differ, not merely that the stamp was counted again."""
    if since is not None and unchanged_since(session, since, now):
        return False, InboxStamp(since, None)
    found = inbox_stamp(session, viewer, now)
    return since is None or since.rsplit(".", 1)[-1] != found.digest, found
