"""The inbox's counts (by lane, mine, all open, overdue), kept per database state in a small cache.

At 100,000 open tasks an auditor's counts read every index entry, and a viewer with routing
attributes (a desk) reads every row of their lanes for its JSON. Those figures change only when a
write commits, so they are kept, per viewer, under a marker of what is committed, and counted
again once it moves:
- PostgreSQL: `pg_current_snapshot()`, which names the set of committed transactions exactly
  (any transaction that writes takes a transaction id and moves its xmax);
- SQLite: the newest audit event id and the newest task id, read in the same snapshot as the
  counts. SQLite commits one writer at a time, and every change of an open task's state, lane or
  assignee is audited in its transaction (the audit record explains the whole state), so no
  commit that changes a count leaves both unchanged.
The overdue count depends on the clock and is counted each time (an index range). Counts stay
exact: a cached figure is only used in the state it was counted in.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from engine.access.policy import Viewer
from engine.store.models import AuditEvent, HumanTask

CACHE_SIZE = 1024  # entries per database: (viewer, figure) pairs
_lock = threading.Lock()
_caches: weakref.WeakKeyDictionary[Engine, OrderedDict] = weakref.WeakKeyDictionary()


# Built once (every inbox page reads one after any write).
_SNAPSHOT = text("SELECT pg_current_snapshot()::text")
_NEWEST_IDS = select(select(func.max(AuditEvent.id)).scalar_subquery(), select(func.max(HumanTask.id)).scalar_subquery())


def marker(session: Session) -> tuple[Any, ...]:
    """What is committed, as this session sees it (see the module's note)."""
    if session.get_bind().dialect.name == "postgresql":
        return (session.execute(_SNAPSHOT).scalar_one(),)
    return tuple(session.execute(_NEWEST_IDS).one())


def _viewer_key(viewer: Viewer) -> tuple[Any, ...]:
    return viewer.username, tuple(sorted(viewer.roles)), tuple(sorted(viewer.attributes.items()))


class CountCache:
    """The cached figures of one session's database state; `figure(name, count)` answers from the
    cache or calls `count()` and keeps its answer."""

    def __init__(self, session: Session, viewer: Viewer):
        self.engine = session.get_bind().engine
        self.prefix = (marker(session), _viewer_key(viewer))

    def figure(self, name: Hashable, count: Callable[[], Any]) -> Any:
        key = (*self.prefix, name)
        with _lock:
            cache = _caches.setdefault(self.engine, OrderedDict())
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = count()
        with _lock:
            cache[key] = value
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        return value


def clear() -> None:
    """Forget every cached figure (the bench times the counting itself with it)."""
    with _lock:
        _caches.clear()


def counts(session: Session, viewer: Viewer, base: list[Any], claimable: Any, now: datetime,
           cache: CountCache | None = None) -> dict[str, Any]:
    """by lane, overdue, mine and all among the open tasks `base` selects, and `open`: those of them
    `claimable` admits (unclaimed or mine; None: all), the inbox's unfiltered total."""
    cache = cache or CountCache(session, viewer)
    tally = cache.figure("tally", lambda: _tally(session, viewer, base, claimable))
    overdue = session.execute(select(func.count()).where(
        *base, HumanTask.due_at.is_not(None), HumanTask.due_at <= now)).scalar_one()
    return {"by_lane": dict(tally["by_lane"]), "overdue": overdue, "mine": tally["mine"],
            "all": sum(tally["by_lane"].values()), "open": tally["open"]}


def _tally(session: Session, viewer: Viewer, base: list[Any], claimable: Any) -> dict[str, Any]:
    """by lane, mine and open. PostgreSQL: ONE grouped pass (a pass over 100,000 entries is what costs
    there), over the partial index of open tasks ix_human_task_open when the planner likes it; SQLite: a plain count per figure, each over a covering index range (its per-row CASE
    costs more than a second index range: 66 against 20 ms for an auditor, docs/performance.md)."""
    mine_case = func.sum(case((HumanTask.assignee == viewer.username, 1), else_=0))
    if session.get_bind().dialect.name == "postgresql":
        figures = [HumanTask.lane, func.count(), mine_case]
        if claimable is not None:
            figures.append(func.sum(case((claimable, 1), else_=0)))
        rows = session.execute(select(*figures).where(*base).group_by(HumanTask.lane)).all()
        by_lane = {row[0]: row[1] for row in rows}
        return {"by_lane": by_lane, "mine": sum(int(row[2]) for row in rows),
                "open": sum(by_lane.values()) if claimable is None else sum(int(row[3]) for row in rows)}
    by_lane = dict(session.execute(
        select(HumanTask.lane, func.count()).where(*base).group_by(HumanTask.lane)).all())
    mine = session.execute(select(func.count()).where(*base, HumanTask.assignee == viewer.username)).scalar_one()
    open_total = sum(by_lane.values()) if claimable is None else session.execute(
        select(func.count()).where(*base, claimable)).scalar_one()
    return {"by_lane": by_lane, "mine": mine, "open": open_total}


def total(session: Session, cache: CountCache, key: tuple[Any, ...], conditions: list[Any]) -> int:
    """The count of a filtered inbox whose filter does not move with the clock, kept like the counts."""
    return cache.figure(("total", *key), lambda: session.execute(select(func.count()).where(*conditions)).scalar_one())
