"""Who is asking: a user name, the roles (= lanes) they hold and their routing attributes.

What a viewer may do is decided in engine/access/policy.py (which re-exports these names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.access.roles import READ_ALL, READ_ONLY, TASK_RECOVERERS
from engine.store.models import User


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a user name, the roles (= lanes) they hold, their routing attributes
    (e.g. {"desk": "邮轮"}: they work the tasks of that desk, and of none, only)."""

    username: str
    roles: frozenset[str]
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def has(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & set(roles))

    @property
    def reads_all(self) -> bool:
        return self.has(READ_ALL)

    @property
    def read_only(self) -> bool:
        return self.has(READ_ONLY)

    @property
    def recovers_tasks(self) -> bool:
        return self.has(TASK_RECOVERERS) and not self.read_only

    @property
    def sees_every_instance(self) -> bool:
        return self.reads_all or self.recovers_tasks


def viewer_of(user: User) -> Viewer:
    """The Viewer of a user row (roles loaded)."""
    return Viewer(user.username, frozenset(user.role_ids), attributes_of(user.attributes))


def viewer_of_rows(username: str, rows) -> Viewer | None:
    """The Viewer of one user from plain rows with `active`, `attributes` and `role_id` (one row per role,
    `role_id` None for a user without roles, as an outer join gives them); None if no row or inactive."""
    if not rows or not rows[0].active:
        return None
    roles = frozenset(row.role_id for row in rows if row.role_id is not None)
    return Viewer(username, roles, attributes_of(rows[0].attributes))


def attributes_of(values: Mapping[str, Any] | None) -> dict[str, str]:
    """A user's routing attributes: the non-empty string values (others route nothing)."""
    return {k: v for k, v in (values or {}).items() if isinstance(v, str) and v}


# The user a web request authenticated as, loaded once at its start (webapp/api.py): the engine's
# look-ups of that same user during the request (lane checks under the write lock) answer from it
# instead of reading the user again. Set and cleared per request; a thread starts with none.
_acting: ContextVar[Viewer | None] = ContextVar("tourflow_acting_viewer", default=None)


def set_acting_viewer(viewer: Viewer | None) -> None:
    """The active user this request was authenticated as (None at its end)."""
    _acting.set(viewer)


def acting_viewer(username: str) -> Viewer | None:
    """The request's authenticated viewer if it is `username`, else None (then read the user)."""
    viewer = _acting.get()
    return viewer if viewer is not None and viewer.username == username else None


def viewer_named(session: Session, username: str) -> Viewer | None:
    """The Viewer of an active user, None for an unknown or inactive one."""
    if (known := acting_viewer(username)) is not None:
        return known
    user = session.execute(
        select(User).options(selectinload(User.roles)).where(User.username == username)
    ).scalar_one_or_none()
    return viewer_of(user) if user is not None and user.active else None
