"""Who has a task's form open, and what each of them typed so far (their draft): table task_edit.

A page with a task's form open says so every few seconds (`heartbeat`: the row's seen_at); the
others who said so within the last `PRESENCE_SECONDS` are "editing it too". What a user types is
kept as their draft (the form's values as the page holds them, only keys of the task's form,
`DRAFT_BYTES_MAX` at most), to restore when they open the task again.

Scratch data, not process state (docs/engine.md, "Who is editing, drafts"): no audit event, no
part of the instance's state hash or replay; a user sees only their own draft. The rows of a task
go when it leaves the inbox (engine/run/task_edit_cleanup.py): `forget_closed` runs at the end of every step (completed, cancelled,
instance ended), `forget_instance` when an instance moves to another version (its forms may change).
Who may write them: engine/access/policy.py `task_edit_refusal` (who may open the task page, except
read-only viewers)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.access import policy
from engine.clock import iso_z, utcnow
from engine.errors import TaskConflict
from engine.limits import check_data, invalid
from engine.run.core import EngineCore
from engine.run.rows import task_row, viewer_named
from engine.store.models import HumanTask, ProcessInstance, TaskEdit, User
from engine.store.states import HumanTaskState

PRESENCE_SECONDS = 120  # a page heartbeats every ~10 s; a hidden tab pauses, and shows as "N 分钟前"
DRAFT_BYTES_MAX = 32 * 1024  # of the draft's JSON (UTF-8): a form's typed values, not attachments


def check_draft(data: Any, fields: set[str]) -> dict[str, Any]:
    """A draft as it may be kept: a JSON object of the form's fields, each a text, a list of texts
    (check boxes) or null; FormInvalid (422) naming the first bad part otherwise."""
    if not isinstance(data, dict):
        raise invalid("data", "must be an object of the form's field values", "draft.not_object")
    unknown = sorted(set(data) - fields)
    if unknown:
        raise invalid(f"data.{unknown[0]}", "is not a field of this task's form", "draft.unknown_field")
    for key, value in data.items():
        texts = value if isinstance(value, list) else [value]
        if not all(v is None or isinstance(v, str) for v in texts) or (isinstance(value, list) and None in value):
            raise invalid(f"data.{key}", "must be a text, a list of texts or null", "draft.bad_value")
    check_data(data, "data")
    if len(json.dumps(data, ensure_ascii=False).encode()) > DRAFT_BYTES_MAX:
        raise invalid("data", f"a draft holds at most {DRAFT_BYTES_MAX} bytes", "draft.too_big", max=DRAFT_BYTES_MAX)
    return data


def _editable(session: Session, task_id: int, actor: str) -> HumanTask:
    """The task, when the actor may keep presence and a draft on it (NotFound, NotAllowed) and it
    is still open (TaskConflict)."""
    row = task_row(session, task_id)
    policy.refuse_if(policy.task_edit_refusal(viewer_named(session, actor), row))
    if row.state != HumanTaskState.READY:
        raise TaskConflict(f"task {row.id} is {row.state}: nothing to edit any more", key="draft.task_closed",
                           params={"id": row.id, "status": str(row.state)})
    return row


def _mine(session: Session, task_id: int, actor: str) -> TaskEdit | None:
    return session.execute(select(TaskEdit).where(TaskEdit.human_task_id == task_id,
                                                  TaskEdit.username == actor)).scalar_one_or_none()


def _draft_dict(row: TaskEdit | None) -> dict[str, Any] | None:
    if row is None or row.saved_at is None:
        return None
    return {"data": row.data, "saved_at": iso_z(row.saved_at)}


def _editors(session: Session, task_id: int, actor: str, since: datetime) -> list[dict[str, Any]]:
    rows = session.execute(
        select(TaskEdit.username, User.display_name, TaskEdit.seen_at)
        .outerjoin(User, User.username == TaskEdit.username)
        .where(TaskEdit.human_task_id == task_id, TaskEdit.username != actor, TaskEdit.seen_at >= since)
        .order_by(TaskEdit.seen_at.desc(), TaskEdit.username))
    return [{"username": username, "display_name": name or username, "seen_at": iso_z(seen)}
            for username, name, seen in rows]


class TaskEditCommands(EngineCore):
    """Presence and drafts of task forms (see the module's docstring)."""

    def _touch(self, task_id: int, actor: str, change, answer=None):
        """Upsert the actor's row of the task with `change(row, now)`, in one write transaction that
        returns `answer(session, now)` (default: the row). One retry when a second tab of the same
        user inserted the row meanwhile (PostgreSQL: both tried to insert)."""
        for attempt in (1, 2):
            try:
                with self.transaction() as tx:
                    _editable(tx.session, task_id, actor)
                    row = _mine(tx.session, task_id, actor)
                    now = utcnow()
                    if row is None:
                        row = TaskEdit(human_task_id=task_id, username=actor, data={}, saved_at=None, seen_at=now)
                        tx.session.add(row)
                    change(row, now)
                    return row if answer is None else answer(tx.session, now)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def check_task_edit(self, task_id: int, actor: str) -> None:
        """NotFound, NotAllowed or TaskConflict as the commands below would raise them: callers check
        who asks before what they sent."""
        with self.reading() as session:
            _editable(session, task_id, actor)

    def task_heartbeat(self, task_id: int, actor: str, window_seconds: int = PRESENCE_SECONDS) -> list[dict[str, Any]]:
        """Record that `actor` has the task's form open; returns the others who had it open within
        `window_seconds` (username, display_name, seen_at), most recently seen first."""

        def seen(row: TaskEdit, now: datetime) -> None:
            row.seen_at = now

        def others(session: Session, now: datetime) -> list[dict[str, Any]]:
            return _editors(session, task_id, actor, now - timedelta(seconds=window_seconds))

        return self._touch(task_id, actor, seen, others)

    def task_editors(self, task_id: int, actor: str, window_seconds: int = PRESENCE_SECONDS) -> list[dict[str, Any]]:
        """The others who had the task's form open within `window_seconds`."""
        with self.reading() as session:
            _editable(session, task_id, actor)
            return _editors(session, task_id, actor, utcnow() - timedelta(seconds=window_seconds))

    def save_task_draft(self, task_id: int, actor: str, data: Any) -> dict[str, Any]:
        """Keep `data` (the form's values as typed) as the actor's draft of the task; returns it
        with its saved_at. FormInvalid (422) for a draft that is not one of the task's form."""
        draft = check_draft(data, self._form_fields(task_id, actor))

        def save(row: TaskEdit, now: datetime) -> None:
            row.data, row.saved_at, row.seen_at = draft, now, now

        return _draft_dict(self._touch(task_id, actor, save))

    def task_draft(self, task_id: int, actor: str) -> dict[str, Any] | None:
        """The actor's own draft of the task (data, saved_at), None if they kept none."""
        with self.reading() as session:
            _editable(session, task_id, actor)
            return _draft_dict(_mine(session, task_id, actor))

    def discard_task_draft(self, task_id: int, actor: str) -> bool:
        """Forget the actor's draft of the task (they still have it open); False if there was none."""
        with self.transaction() as tx:
            _editable(tx.session, task_id, actor)
            row = _mine(tx.session, task_id, actor)
            if row is None or row.saved_at is None:
                return False
            row.data, row.saved_at = {}, None
            return True

    def _form_fields(self, task_id: int, actor: str) -> set[str]:
        """The field names of the task's form (none for a task without a form)."""
        with self.reading() as session:
            row = _editable(session, task_id, actor)
            if not row.form_ref:
                return set()
            deployment_id = session.get(ProcessInstance, row.instance_id).deployment_id
            schema = self.deployed(session, deployment_id).forms.get(row.form_ref) or {}
            properties = schema.get("properties") or {}
            return {name for name, prop in properties.items() if isinstance(prop, dict)}


__all__ = ["DRAFT_BYTES_MAX", "PRESENCE_SECONDS", "TaskEditCommands", "check_draft"]
