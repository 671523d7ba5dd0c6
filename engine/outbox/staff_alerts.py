"""Staff alerts: a new task in a user's lanes, a task of theirs overdue, an incident they resolve.

Who hears of what is each user's preference (`staff_alert_preference`: none / email / webhook, an
address, which events). An alert is a `staff_alert` row written in the transaction of the step that
caused it (a new task, an incident) or by the worker's housekeeping (a task that fell overdue), so
it exists if and only if its cause committed; its idempotency key (event:what:user) makes it once.
The housekeeping then sends each user's pending alerts as ONE digest (outbox kind `staff.alert`)
once the oldest of them is a window old (TOURFLOW_STAFF_ALERT_MINUTES, default 5): a user gets at
most one alert per window, and an alert waits at most a window (plus one housekeeping round).

Alerts are notification bookkeeping, not process state: no audit event of their own, not in the
state hash or replay; the digest is an outbox message, audited as `message_queued` and after.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.access.policy import Viewer, may_work, resolve_refusal
from engine.access.viewer import viewer_of_rows
from engine.clock import CHINA, naive_utc
from engine.errors import FormInvalid
from engine.outbox import queue
from engine.outbox.templates import register_kind, render
from engine.store import driver_sql
from engine.store.models import HumanTask, StaffAlert, StaffAlertPreference, User, UserRole
from engine.store.records import TaskRow
from engine.store.states import HumanTaskState
from engine.store.unit_scope import transaction_token

EVENTS = ("new_task", "overdue", "incident")
CHANNELS = ("none", "email", "webhook")
DEFAULT_MINUTES = 5.0
OVERDUE_LOOKBACK = timedelta(days=7)  # tasks overdue for longer were due before alerts could see them
DIGEST_MAX = 50  # alerts listed in one digest; the rest say "and n more"
EVENT_TITLES = {"new_task": "新任务", "overdue": "任务已超期", "incident": "流程故障"}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_HANDLE = re.compile(r"^[^\s]{2,200}$")

register_kind("staff.alert", "员工待办提醒", {
    "username": "agent1", "display_name": "客服一号", "window_minutes": 5, "more": 0,
    "alerts": [{"event": "new_task", "title": "新任务：填写投诉记录", "detail": "游客投诉处理流程 #42",
                "at": "2026-12-04 15:02", "link": "/tasks/17"},
               {"event": "overdue", "title": "任务已超期：回访客户", "detail": "电话回访工作流程 #40",
                "at": "2026-12-04 15:04", "link": ""}]})


def window() -> timedelta:
    """How long a user's alerts are collected before one digest goes (TOURFLOW_STAFF_ALERT_MINUTES)."""
    value = os.environ.get("TOURFLOW_STAFF_ALERT_MINUTES")
    return timedelta(minutes=float(value) if value else DEFAULT_MINUTES)


def link_base() -> str:
    """Where the inbox is reached from a mail (TOURFLOW_BASE_URL, e.g. https://tourflow.example.com);
    empty: digests carry no links."""
    return os.environ.get("TOURFLOW_BASE_URL", "").rstrip("/")


# ---- preferences -----------------------------------------------------------------------------
def preference(session: Session, username: str) -> dict[str, Any]:
    row = session.get(StaffAlertPreference, username)
    if row is None:
        return {"username": username, "channel": "none", "address": "", "events": list(EVENTS), "updated_at": None}
    return {"username": username, "channel": row.channel, "address": row.address, "events": list(row.events),
            "updated_at": row.updated_at}


def _invalid(field: str, message: str, *, key: str) -> FormInvalid:
    return FormInvalid(message, field=field, errors=[{"field": field, "message": message}], key=key)


def set_preference(session: Session, username: str, *, channel: str, address: str, events: Iterable[str],
                   actor: str, now: datetime) -> dict[str, Any]:
    """Save a user's preference after checking it (FormInvalid naming the field otherwise)."""
    address = (address or "").strip()
    events = [e for e in EVENTS if e in set(events)]
    if channel not in CHANNELS:
        raise _invalid("channel", f"channel must be one of {', '.join(CHANNELS)}", key="alerts.channel")
    if channel == "email" and not _EMAIL.match(address):
        raise _invalid("address", "an e-mail alert needs an e-mail address", key="alerts.email")
    if channel == "webhook" and not _HANDLE.match(address):
        raise _invalid("address", "a webhook alert needs the recipient's number or id (2 to 200 characters, "
                                  "no spaces)", key="alerts.handle")
    if len(address) > 200:
        raise _invalid("address", "the address may be at most 200 characters", key="alerts.handle")
    session.info.pop(_NOBODY, None)
    row = session.get(StaffAlertPreference, username)
    if row is None:
        row = StaffAlertPreference(username=username, updated_at=now, updated_by=actor)
        session.add(row)
    row.channel, row.address, row.events = channel, address if channel != "none" else "", events
    row.updated_at, row.updated_by = now, actor
    session.flush()
    return preference(session, username)


# Who has alerts on, with their roles: one statement, built once (engine/run/rows.py says why), run on the
# connection (no ORM objects are made: most steps find nobody, and those that do need only these columns).
_LISTENERS = (select(StaffAlertPreference.events, User.username, User.active, User.attributes, UserRole.role_id)
              .join(User, User.username == StaffAlertPreference.username)
              .outerjoin(UserRole, UserRole.user_id == User.id)
              .where(StaffAlertPreference.channel != "none", User.active.is_(True))
              .order_by(User.username))


# Whether anyone may have alerts on (an inactive user's preference counts: its step then reads the listeners
# as before): a column another statement of the step's transaction reads (a start's first,
# engine/run/start_reads.py), which then says so by nobody_listens.
ANYONE_LISTENING = select(StaffAlertPreference.username).where(StaffAlertPreference.channel != "none").exists()
_NOBODY = "tourflow_nobody_listens"  # session.info: the transaction that read nobody has alerts on


def nobody_listens(session: Session) -> None:
    """This transaction read ANYONE_LISTENING false: until it ends, its steps' alerts read no listeners
    (the start holds the write lock on SQLite; set_preference in it forgets this)."""
    session.info[_NOBODY] = transaction_token(session)


def _listeners(session: Session, event: str) -> list[Viewer]:
    """The active users who want alerts of `event`."""
    if session.info.get(_NOBODY) is not None and session.info[_NOBODY] is transaction_token(session):
        return []
    found = driver_sql.run(driver_sql.connection_of(session), _LISTENERS, {}).all()
    wanting = [row for row in found if event in (row.events or [])]
    found = (viewer_of_rows(username, list(rows)) for username, rows in groupby(wanting, key=attrgetter("username")))
    return [viewer for viewer in found if viewer is not None]


# ---- writing alerts ----------------------------------------------------------------------------
def _add(session: Session, keys_taken: set[str], *, key: str, username: str, event: str, instance_id: int | None,
         task_id: int | None, title: str, detail: str, now: datetime) -> bool:
    if key in keys_taken:
        return False
    keys_taken.add(key)
    session.add(StaffAlert(idempotency_key=key[:160], username=username, event=event, instance_id=instance_id,
                           human_task_id=task_id, title=title[:200], detail=detail, created_at=now))
    return True


def _existing(session: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(session.execute(select(StaffAlert.idempotency_key).where(StaffAlert.idempotency_key.in_(keys)))
               .scalars())


def _workers(viewers: list[Viewer], task: HumanTask) -> list[Viewer]:
    """Who the task is for: its assignee when it has one, else everyone who may work it."""
    if task.assignee:
        return [v for v in viewers if v.username == task.assignee]
    return [v for v in viewers if may_work(v, task)]


def note_new_tasks(session: Session, tasks: list[TaskRow], now: datetime, process_name: str = "") -> int:
    """In the step's transaction: an alert for each user who wants to hear of these new tasks."""
    if not tasks:
        return 0
    viewers = _listeners(session, "new_task")
    if not viewers:
        return 0
    wanted = [(task, v) for task in tasks for v in _workers(viewers, task)]
    taken = _existing(session, [f"new_task:{t.id}:{v.username}" for t, v in wanted])
    return sum(_add(session, taken, key=f"new_task:{t.id}:{v.username}", username=v.username, event="new_task",
                    instance_id=t.instance_id, task_id=t.id, title=f"新任务：{t.name}",
                    detail=f"{process_name or t.process_id} #{t.instance_id}", now=now) for t, v in wanted)


def note_incident(session: Session, *, instance_id: int, lane: str | None, name: str, error: str, now: datetime,
                  process_name: str = "", ref: str = "") -> int:
    """In the step's transaction: an alert for the users who may resolve this incident (the one rule,
    `policy.resolve_refusal`: its lane's holders; supervisors and process owners for a system-lane failure).
    `ref` tells incidents of one instance and moment apart (a message that failed for good: its id)."""
    viewers = _listeners(session, "incident")
    if not viewers:
        return 0
    chosen = [v for v in viewers if resolve_refusal(v, lane) is None]
    moment = ref or naive_utc(now).isoformat(timespec="seconds")
    taken = _existing(session, [f"incident:{instance_id}:{moment}:{v.username}" for v in chosen])
    return sum(_add(session, taken, key=f"incident:{instance_id}:{moment}:{v.username}", username=v.username,
                    event="incident", instance_id=instance_id, task_id=None, title=f"流程故障：{name}",
                    detail=f"{process_name} #{instance_id}：{error[:300]}", now=now) for v in chosen)


def note_overdue(session: Session, now: datetime) -> int:
    """Housekeeping: an alert for each open task that fell due (within the lookback), once per due date."""
    viewers = _listeners(session, "overdue")
    if not viewers:
        return 0
    tasks = session.execute(select(HumanTask).where(
        HumanTask.state == HumanTaskState.READY, HumanTask.due_at.is_not(None), HumanTask.due_at <= now,
        HumanTask.due_at > now - OVERDUE_LOOKBACK).order_by(HumanTask.due_at, HumanTask.id)).scalars().all()

    def key(task: HumanTask, viewer: Viewer) -> str:
        return f"overdue:{task.id}:{naive_utc(task.due_at).isoformat(timespec='seconds')}:{viewer.username}"

    wanted = [(t, v) for t in tasks for v in _workers(viewers, t)]
    taken = _existing(session, [key(t, v) for t, v in wanted])
    return sum(_add(session, taken, key=key(t, v), username=v.username, event="overdue", instance_id=t.instance_id,
                    task_id=t.id, title=f"任务已超期：{t.name}",
                    detail=f"#{t.instance_id}，应于 {t.due_at.astimezone(CHINA):%Y-%m-%d %H:%M} 前完成", now=now)
               for t, v in wanted)


# ---- digests -------------------------------------------------------------------------------------
def send_digests(session: Session, now: datetime, link_base: str = "") -> int:
    """Housekeeping: each user whose oldest pending alert is a window old gets one digest of them all
    (enqueued in this transaction with the alerts marked, so a digest is made once). Alerts of a user
    who turned alerts off are dropped. Returns the digests enqueued."""
    due = session.execute(select(StaffAlert.username).where(StaffAlert.settled_at.is_(None))
                          .group_by(StaffAlert.username)
                          .having(func.min(StaffAlert.created_at) <= now - window())).scalars().all()
    sent = 0
    for username in sorted(due):
        query = select(StaffAlert).where(StaffAlert.username == username, StaffAlert.settled_at.is_(None)) \
            .order_by(StaffAlert.id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        alerts = session.execute(query).scalars().all()
        if not alerts:
            continue
        pref = session.get(StaffAlertPreference, username)
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        message_id = None
        if pref is not None and pref.channel != "none" and user is not None and user.active:
            message_id = _enqueue_digest(session, user, pref, alerts, now, link_base)
            sent += 1
        for alert in alerts:
            alert.message_id, alert.settled_at = message_id, now
    session.flush()
    return sent


def digest_data(user: User, alerts: list[StaffAlert], link_base: str = "") -> dict[str, Any]:
    shown = alerts[:DIGEST_MAX]
    return {"username": user.username, "display_name": user.display_name,
            "window_minutes": f"{window().total_seconds() / 60:g}", "more": len(alerts) - len(shown),
            "alerts": [{"event": a.event, "title": a.title, "detail": a.detail,
                        "at": f"{a.created_at.astimezone(CHINA):%Y-%m-%d %H:%M}",
                        "link": f"{link_base}/instances/{a.instance_id}" if link_base and a.instance_id else ""}
                       for a in shown]}


def _enqueue_digest(session: Session, user: User, pref: StaffAlertPreference, alerts: list[StaffAlert],
                    now: datetime, link_base: str) -> int:
    data = digest_data(user, alerts, link_base)
    rendered = render("staff.alert", pref.channel, data)
    message = queue.enqueue(session, kind="staff.alert", channel=pref.channel, recipient=pref.address,
                            subject=rendered.subject, body=rendered.body,
                            payload={"data": data, "template": rendered.template},
                            idempotency_key=f"staff.alert:{user.username}:{alerts[0].id}", now=now)
    return message.id


def pending_count(session: Session, username: str) -> int:
    return int(session.execute(select(func.count(StaffAlert.id)).where(
        StaffAlert.username == username, StaffAlert.settled_at.is_(None))).scalar() or 0)


def recent_alerts(session: Session, username: str, limit: int = 20) -> list[dict[str, Any]]:
    """A user's newest alerts with whether they went out (for their settings page)."""
    rows = session.execute(select(StaffAlert).where(StaffAlert.username == username)
                           .order_by(StaffAlert.id.desc()).limit(limit)).scalars().all()
    return [{"id": a.id, "event": a.event, "title": a.title, "detail": a.detail, "created_at": a.created_at,
             "message_id": a.message_id, "settled_at": a.settled_at} for a in rows]


__all__ = ["CHANNELS", "EVENTS", "EVENT_TITLES", "note_incident", "note_new_tasks", "note_overdue", "pending_count",
           "preference", "recent_alerts", "send_digests", "set_preference", "window"]
