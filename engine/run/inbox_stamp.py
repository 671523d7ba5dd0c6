"""The inbox's stamp: one short string that changes whenever a viewer's open tasks change.

An open inbox polls it (GET /api/v1/inbox/stamp, webapp/api_inbox.py) and reloads its rows only
when it differs, so an idle inbox costs one small aggregate query per poll (docs/inbox.md).
The stamp covers the tasks the inbox counts under 全部待办: open, in the viewer's lanes and routing
(engine/access/policy.py `lane_access`; every lane for those who read all), claimed or not. It folds:

- how many there are, the newest id and the sum of the ids: a task added, completed or gone;
- the sum of the claimed ones' ids: a claim or a release;
- how many are overdue now: a due time passing;
- the newest audit event of their instances: a reassignment, a new due date, anything audited.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.access.policy import Viewer, lane_access
from engine.clock import utcnow
from engine.run.queries import visible_lanes
from engine.store.models import AuditEvent, HumanTask
from engine.store.states import HumanTaskState

STAMP_LENGTH = 16
STAMP_PATTERN = re.compile(rf"[0-9a-f]{{{STAMP_LENGTH}}}")


@dataclass(frozen=True)
class InboxStamp:
    stamp: str  # STAMP_LENGTH hex digits
    open: int  # open tasks the viewer sees (the inbox's 全部待办)
    newest_task_id: int | None


def is_stamp(value: str) -> bool:
    """Is `value` shaped like a stamp (what a client may send back as `since`)?"""
    return STAMP_PATTERN.fullmatch(value) is not None


def open_task_conditions(viewer: Viewer) -> list:
    """WHERE conditions of 'an open task in this viewer's inbox' (as engine/run/queries.py `inbox`)."""
    conditions = [HumanTask.state == HumanTaskState.READY]
    if visible_lanes(viewer) is not None:
        conditions.append(lane_access(viewer))
    return conditions


def inbox_stamp(session: Session, viewer: Viewer, now: datetime | None = None) -> InboxStamp:
    """The viewer's stamp, from ONE SQL statement."""
    now_db = now or utcnow()
    conditions = open_task_conditions(viewer)
    instances = select(HumanTask.instance_id).where(*conditions)
    last_event = select(func.max(AuditEvent.id)).where(AuditEvent.instance_id.in_(instances)).scalar_subquery()
    overdue = case((HumanTask.due_at <= now_db, 1), else_=0)
    claimed = case((HumanTask.assignee.is_(None), 0), else_=HumanTask.id)
    row = session.execute(
        select(func.count(HumanTask.id), func.max(HumanTask.id), func.sum(HumanTask.id), func.sum(claimed),
               func.sum(overdue), last_event).where(*conditions)
    ).one()
    count, newest = row[0], row[1]
    figures = "/".join(str(value or 0) for value in row)
    digest = hashlib.sha256(f"{viewer.username}/{figures}".encode()).hexdigest()[:STAMP_LENGTH]
    return InboxStamp(digest, count, newest)
