"""The supervisors' overdue list: open tasks past their due date or follow-up date, across the
lanes the viewer supervises (engine/access/policy.py `supervision_access`), oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session

from engine.access.policy import Viewer, overdue_list_refusal, refuse_if, supervision_access
from engine.clock import iso_z, naive_utc, utcnow
from engine.run.queries import inbox_row, process_names
from engine.store.models import HumanTask
from engine.store.states import HumanTaskState

OVERDUE_MAX = 500


def overdue_tasks(session: Session, viewer: Viewer, now: datetime | None = None) -> dict[str, Any]:
    """{"items": [...], "total": n, "now": ...}: each item an inbox row with `follow_up_at`, `since`
    (the earliest passed date) and `reasons` (overdue, follow_up). NotAllowed for who has no list."""
    refuse_if(overdue_list_refusal(viewer))
    now = now or utcnow()
    late = and_(HumanTask.due_at.is_not(None), HumanTask.due_at <= now)
    follow = and_(HumanTask.follow_up_at.is_not(None), HumanTask.follow_up_at <= now)
    since = case((and_(late, follow, HumanTask.follow_up_at < HumanTask.due_at), HumanTask.follow_up_at),
                 (late, HumanTask.due_at), else_=HumanTask.follow_up_at)
    rows = session.execute(
        select(HumanTask).where(HumanTask.state == HumanTaskState.READY, supervision_access(viewer), or_(late, follow))
        .order_by(since, HumanTask.id).limit(OVERDUE_MAX)
    ).scalars().all()
    names = process_names(session)
    items = []
    for row in rows:
        reasons = [name for name, moment in (("overdue", row.due_at), ("follow_up", row.follow_up_at))
                   if moment is not None and naive_utc(moment) <= naive_utc(now)]
        passed = [m for m in (row.due_at, row.follow_up_at) if m is not None and naive_utc(m) <= naive_utc(now)]
        items.append({**inbox_row(row, now, names), "reasons": reasons, "since": iso_z(min(passed, key=naive_utc))})
    return {"items": items, "total": len(items), "now": iso_z(now)}


__all__ = ["OVERDUE_MAX", "overdue_tasks"]
