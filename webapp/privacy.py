"""Personal data on the pages and in the API: masked for the current user unless
`policy.may_see_personal_data` (through engine/run/instance_access.py) says they serve the instance (engine/access/privacy.py masks)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy.orm import Session

from engine.access.policy import TaskFacts
from engine.access.privacy import Masker
from engine.run import instance_access
from webapp.app_state import runtime


def masker(instance_id: int, forms: dict[str, Any] | None = None) -> Masker:
    """The masker of one instance for the current user (a pass-through when they may see it all)."""
    rt = runtime()
    with rt.reading() as session:
        shown = instance_access.may_see_personal_data(session, current_user.viewer, instance_id)
    return Masker(rt.instance_forms(instance_id) if forms is None else forms, masked=not shown)


def events(items: list[dict[str, Any]], mask: Masker) -> list[dict[str, Any]]:
    """Audit events with their payloads masked; the stored events and their hashes are untouched."""
    if not mask.masked:
        return items
    return [{**e, "payload": mask(e.get("payload"))} for e in items]


def task(item: dict[str, Any], mask: Masker) -> dict[str, Any]:
    """A task answer with its summary masked (its form schema is left as it is)."""
    return {**item, "summary": mask(item.get("summary"))} if mask.masked else item


def step_answer(answer: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A step's answer from its own transaction (engine/run/step_answer.py), masked as its viewer may see it:
    the instance and its open tasks."""
    mask = Masker(answer["forms"], masked=not answer["personal_data_shown"])
    return mask(answer["instance"]), [task(t, mask) for t in answer["open_tasks"]]


def rows(items: list[dict[str, Any]], id_key: str = "id", session: Session | None = None,
         task_rows: bool = False) -> list[dict[str, Any]]:
    """List rows (search, instances, inbox) masked one by one, by the rule for each row's instance;
    in `session` when the caller's read is still open (no second read transaction). `task_rows`: each
    row is a task row of its instance (id, lane, routing, assignee), which may decide without a query;
    one decision per instance either way (a task row only finds sooner what the query would say)."""
    if session is None:
        with runtime().reading() as own:
            return rows(items, id_key, own, task_rows)
    viewer, plain = current_user.viewer, Masker()
    shown: dict[int, bool] = {}
    out = []
    for row in items:
        instance_id = row[id_key]
        if instance_id not in shown:
            known = TaskFacts.of(row) if task_rows else None
            shown[instance_id] = instance_access.may_see_personal_data(session, viewer, instance_id, known)
        out.append(row if shown[instance_id] else plain(row))
    return out
