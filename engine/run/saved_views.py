"""Saved inbox views: a user's named inbox filters (their query strings), theirs alone.

Names are unique per user and at most VIEWS_MAX views a user; another user's view is "not found"
(nobody learns which ids exist). The query string is kept as given, minus paging: the inbox page
reads it as it reads any link (webapp/inbox.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import iso_z
from engine.errors import FormInvalid, NotFound
from engine.store.models import SavedView

VIEWS_MAX = 20
NAME_MAX = 40
QUERY_MAX = 1000
NOT_KEPT = frozenset({"page", "csrf_token", "name"})


class ViewInvalid(FormInvalid):
    """A view that cannot be saved; `problem` says why: name_missing, name_long, name_taken, too_many, query_long."""

    def __init__(self, field: str, problem: str, message: str):
        super().__init__(f"field '{field}': {message}", field=field, errors=[{"field": field, "message": message}])
        self.problem = problem


def clean_query(query: str) -> str:
    """A filter's query string without paging or form tokens, keys in order, empty values dropped."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=False) if k not in NOT_KEPT]
    return urlencode(sorted(pairs))


def parse_query(query: str) -> list[tuple[str, str]]:
    """A kept query string as (key, value) pairs."""
    return parse_qsl(query or "", keep_blank_values=False)


def views_of(session: Session, username: str) -> list[dict[str, Any]]:
    """A user's views, oldest first (their tab order)."""
    rows = session.execute(select(SavedView).where(SavedView.username == username)
                           .order_by(SavedView.id)).scalars()
    return [{"id": r.id, "name": r.name, "query": r.query, "created_at": iso_z(r.created_at)} for r in rows]


def save_view(session: Session, username: str, name: str, query: str, now: datetime) -> dict[str, Any]:
    """Keep a new view; a bad or taken name, too many views or too long a query is a ViewInvalid (422)."""
    name = " ".join((name or "").split())
    query = clean_query(query or "")
    if not name:
        raise ViewInvalid("name", "name_missing", "a name is required")
    if len(name) > NAME_MAX:
        raise ViewInvalid("name", "name_long", f"must be at most {NAME_MAX} characters")
    if len(query) > QUERY_MAX:
        raise ViewInvalid("query", "query_long", f"the filters must be at most {QUERY_MAX} characters")
    mine = select(SavedView).where(SavedView.username == username)
    if session.execute(mine.where(SavedView.name == name)).first() is not None:
        raise ViewInvalid("name", "name_taken", f"you already have a view named {name!r}")
    count = session.execute(select(func.count(SavedView.id)).where(SavedView.username == username)).scalar_one()
    if count >= VIEWS_MAX:
        raise ViewInvalid("name", "too_many", f"at most {VIEWS_MAX} views: delete one first")
    row = SavedView(username=username, name=name, query=query, created_at=now)
    session.add(row)
    session.flush()
    return {"id": row.id, "name": row.name, "query": row.query, "created_at": iso_z(row.created_at)}


def delete_view(session: Session, username: str, view_id: int) -> str:
    """Delete one of the user's views; returns its name. Someone else's or no such view: NotFound."""
    row = session.get(SavedView, view_id)
    if row is None or row.username != username:
        raise NotFound(f"saved view {view_id} does not exist", key="view.missing", params={"id": view_id})
    session.delete(row)
    return row.name


__all__ = ["NAME_MAX", "VIEWS_MAX", "ViewInvalid", "clean_query", "delete_view", "parse_query", "save_view", "views_of"]
