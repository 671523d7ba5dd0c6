"""Read-side queries for the inbox and the pages: plain dicts, indexed SQL, no workflow loading."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from engine.access.policy import TaskLike, Viewer, instance_conditions, lane_access, may_work, viewer_of
from engine.bpmn.specs import ProcessModel
from engine.clock import iso_z, utcnow
from engine.run import due_dates, inbox_counts, inbox_page
from engine.run.catalog import model_of
from engine.run.task_search import TaskSearch
from engine.run.task_search import conditions as search_conditions
from engine.run.task_search import lookup as search_lookup
from engine.store.models import CurrentVersion, Deployment, HumanTask, ProcessInstance, Role, User
from engine.store.states import FINISHED, HumanTaskState, InstanceStatus

DUE_SOON = timedelta(minutes=30)
PER_PAGE_MAX = 200


@dataclass(frozen=True)
class InboxFilter:
    lane: str | None = None
    process: str | None = None
    routing: Mapping[str, str] = field(default_factory=dict, hash=False)  # e.g. {"desk": "邮轮"}: only those
    overdue: bool = False
    mine: bool = False
    unclaimed: bool = False
    page: int = 1
    per_page: int = 25
    sort: str = "due"  # due | age
    search: TaskSearch | None = None  # customer, phone, tour/booking code, due (engine/run/task_search.py)
    after: str | None = None  # a keyset cursor (`next` of the page before); `page` is ignored then


def due_state(due_at: datetime | None, now: datetime, created_at: datetime | None = None) -> str:
    """ok / due_soon / overdue / waiting_long / none, for the due badge (engine/run/due_dates.py)."""
    return due_dates.due_state(due_at, now, created_at)


def visible_lanes(viewer: Viewer) -> frozenset[str] | None:
    """The lanes whose tasks a viewer sees; None means all of them."""
    return None if viewer.reads_all else viewer.roles


def inbox(session: Session, viewer: Viewer, flt: InboxFilter, now: datetime | None = None) -> dict[str, Any]:
    """Open tasks of the viewer's lanes with filters, counts and one page of rows: by page number, or
    after the keyset cursor `flt.after` (engine/run/inbox_page.py); `next` is the cursor of the page
    after this one (None at the end). Raises BadCursor for an `after` it did not write."""
    now_db = now or utcnow()
    lanes = visible_lanes(viewer)
    base = [HumanTask.state == HumanTaskState.READY]
    if lanes is not None:
        base.append(lane_access(viewer))
    conditions = list(base)
    if flt.lane:
        conditions.append(HumanTask.lane == flt.lane)
    if flt.process:
        conditions.append(HumanTask.process_id == flt.process)
    for key, value in sorted(flt.routing.items()):
        conditions.append(HumanTask.routing_key(key) == value)
    if flt.overdue:
        conditions.append(and_(HumanTask.due_at.is_not(None), HumanTask.due_at <= now_db))
    conditions.extend(search_conditions(flt.search, now_db))
    narrowed = len(conditions) > len(base)
    claimable = inbox_page.visible_to(viewer.username, viewer.reads_all)
    if flt.mine:
        conditions.append(HumanTask.assignee == viewer.username)
    elif flt.unclaimed:
        conditions.append(HumanTask.assignee.is_(None))
    elif claimable is not None:
        conditions.append(claimable)
    per_page = max(1, min(flt.per_page, PER_PAGE_MAX))
    page = max(1, flt.page)
    after = inbox_page.decode(flt.after, flt.sort) if flt.after else None
    cache = inbox_counts.CountCache(session, viewer)
    counts = inbox_counts.counts(session, viewer, base, claimable, now_db, cache)
    open_total = counts.pop("open")
    searched = inbox_page.narrow_page(session, conditions, flt.sort, per_page, (page - 1) * per_page, after,
                                      search_lookup(flt.search)) if flt.search is not None and flt.search.active else None
    if searched is not None:
        rows, following, total = searched
    else:
        if narrowed and not flt.overdue and not (flt.search and flt.search.active):  # lane, process, desk
            key = (flt.lane, flt.process, tuple(sorted(flt.routing.items())), flt.mine, flt.unclaimed)
            total = inbox_counts.total(session, cache, key, conditions)
        elif narrowed or (flt.unclaimed and claimable is None):
            total = session.execute(select(func.count()).where(*conditions)).scalar_one()
        elif flt.mine:
            total = counts["mine"]
        else:  # the rows counted already: unclaimed or mine (open), unclaimed (open less mine)
            total = open_total - counts["mine"] if flt.unclaimed else open_total
        rows, following = inbox_page.page(session, conditions, flt.sort, per_page, (page - 1) * per_page, after)
    names = process_names(session)
    return {
        "items": [inbox_row(row, now_db, names) for row in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": max(1, -(-total // per_page)),
        "next": following.encode() if following else None,
        "counts": counts,
    }


def inbox_row(row: HumanTask, now_db: datetime, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "process": row.process_id,
        "process_name": names.get(row.process_id, row.process_id),
        "task": row.task,
        "name": row.name,
        "lane": row.lane,
        "routing": row.routing or {},
        "assignee": row.assignee,
        "summary": row.summary,
        "created_at": _iso(row.created_at),
        "age_seconds": int((now_db - row.created_at).total_seconds()),
        "due_at": _iso(row.due_at),
        "due_state": due_state(row.due_at, now_db, row.created_at),
        "follow_up_at": _iso(row.follow_up_at),
    }


# Built once: a statement built per call costs its construction and its cache key again (each inbox page reads it).
_PROCESS_NAMES = select(Deployment.process_id, Deployment.name).where(
    Deployment.id.in_(select(func.max(Deployment.id)).group_by(Deployment.process_id)))


def process_names(session: Session) -> dict[str, str]:
    """process id -> name of its newest version."""
    return dict(session.execute(_PROCESS_NAMES).all())


def instance_tasks(session: Session, instance_id: int) -> list[dict[str, Any]]:
    """Every task row of an instance, oldest first (open and finished)."""
    rows = session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)
    ).scalars()
    return [instance_task_dict(r) for r in rows]


def instance_task_dict(r: HumanTask) -> dict[str, Any]:
    """One task row as `instance_tasks` lists it (the API's InstanceTask)."""
    return {"id": r.id, "task": r.task, "name": r.name, "lane": r.lane, "routing": r.routing or {},
            "state": r.state, "assignee": r.assignee, "due_at": _iso(r.due_at), "created_at": _iso(r.created_at),
            "completed_at": _iso(r.completed_at), "completed_by": r.completed_by}


def deployments(session: Session) -> list[dict[str, Any]]:
    """Every deployed version, newest first within each process."""
    rows = session.execute(
        select(Deployment.id, Deployment.process_id, Deployment.version, Deployment.name, Deployment.sha256,
               Deployment.filename, Deployment.deployed_at, Deployment.deployed_by)
        .order_by(Deployment.process_id, Deployment.version.desc())
    ).all()
    counts = dict(session.execute(
        select(ProcessInstance.deployment_id, func.count(ProcessInstance.id)).group_by(ProcessInstance.deployment_id)
    ).all())
    running = dict(session.execute(
        select(ProcessInstance.deployment_id, func.count(ProcessInstance.id))
        .where(ProcessInstance.status.not_in(FINISHED)).group_by(ProcessInstance.deployment_id)
    ).all())
    current = set(session.execute(select(CurrentVersion.deployment_id)).scalars())
    return [{"id": r.id, "process_id": r.process_id, "version": r.version, "name": r.name,
             "sha256": r.sha256, "filename": r.filename, "deployed_at": _iso(r.deployed_at),
             "deployed_by": r.deployed_by, "instances": counts.get(r.id, 0), "running": running.get(r.id, 0),
             "current": r.id in current}
            for r in rows]


def users_with_role(session: Session, role: str) -> list[dict[str, str]]:
    """Active users holding a role (= lane), e.g. the targets of a reassignment."""
    rows = session.execute(
        select(User.username, User.display_name).join(User.roles)
        .where(Role.id == role, User.active.is_(True)).order_by(User.username)
    ).all()
    return [{"username": r.username, "display_name": r.display_name} for r in rows]


def task_workers(session: Session, task: TaskLike) -> list[dict[str, str]]:
    """Active users who may work a task (its lane and routing): the targets of a reassignment."""
    users = session.execute(
        select(User).options(selectinload(User.roles)).join(User.roles)
        .where(Role.id == task.lane, User.active.is_(True)).order_by(User.username)
    ).unique().scalars()
    return [{"username": u.username, "display_name": u.display_name} for u in users
            if may_work(viewer_of(u), task)]


def routing_values(session: Session, key: str) -> list[str]:
    """The values of one routing key that open tasks carry (e.g. the desks, for the inbox filter)."""
    value = HumanTask.routing_key(key)
    if key == "desk":  # ix_human_task_state_desk: one index seek per desk, not a read of every open task
        return sorted(d for d in session.execute(_distinct_desks()).scalars() if d)
    rows = session.execute(select(value).where(HumanTask.state == HumanTaskState.READY, value.is_not(None)).distinct())
    return sorted(d for d in rows.scalars() if d)


def _distinct_desks():
    """The open tasks' desks, each found as the smallest one above the one before (a skip scan)."""
    desk, is_open = HumanTask.route_desk, HumanTask.state == HumanTaskState.READY
    found = select(func.min(desk).label("desk")).where(is_open, desk.is_not(None)).cte("desks", recursive=True)
    following = select(func.min(desk)).where(is_open, desk > found.c.desk).scalar_subquery()
    found = found.union_all(select(following).where(found.c.desk.is_not(None)))
    return select(found.c.desk).where(found.c.desk.is_not(None))


INSTANCE_STATUSES = tuple(InstanceStatus)


def instances(session: Session, viewer: Viewer, process: str | None = None, status: str | None = None,
              page: int = 1, per_page: int = 25) -> dict[str, Any]:
    """One page of the instances a viewer may see (engine/access/policy.py), newest first."""
    conditions = instance_conditions(viewer)
    if process:
        conditions.append(ProcessInstance.process_id == process)
    if status:
        conditions.append(ProcessInstance.status == status)
    result = instance_page(session, conditions, page, per_page)
    names = process_names(session)
    models = deployed_models(session, {r.deployment_id for r in result["items"]})
    result["items"] = [
        {"id": r.id, "process": r.process_id, "process_name": names.get(r.process_id, r.process_id),
         "version": r.version, "status": r.status, "business_key": r.business_key,
         "summary": models[r.deployment_id].summary_of(r.data or {}),
         "started_at": _iso(r.started_at), "started_by": r.started_by, "ended_at": _iso(r.ended_at)}
        for r in result["items"]]
    return result


def deployed_models(session: Session, deployment_ids: set[int]) -> dict[int, ProcessModel]:
    """deployment id -> its parsed process (cached by the BPMN's sha256), for its summary keys."""
    if not deployment_ids:
        return {}
    rows = session.execute(select(Deployment).where(Deployment.id.in_(deployment_ids))).scalars()
    return {r.id: model_of(r) for r in rows}


def instance_page(session: Session, conditions: list[Any], page: int, per_page: int) -> dict[str, Any]:
    """One page of instance rows matching `conditions`, newest first, with the paging figures;
    `items` holds the rows (instance columns plus its version) for the caller to shape."""
    per_page = max(1, min(per_page, PER_PAGE_MAX))
    page = max(1, page)
    total = session.execute(select(func.count(ProcessInstance.id)).where(*conditions)).scalar_one()
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.deployment_id, ProcessInstance.process_id, ProcessInstance.status,
               ProcessInstance.business_key,
               ProcessInstance.data, ProcessInstance.started_at, ProcessInstance.started_by,
               ProcessInstance.ended_at, Deployment.version)
        .join(Deployment, Deployment.id == ProcessInstance.deployment_id)
        .where(*conditions).order_by(ProcessInstance.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return {"items": rows, "total": total, "page": page, "per_page": per_page,
            "pages": max(1, -(-total // per_page))}


def _iso(moment: datetime | None) -> str | None:
    return iso_z(moment)
