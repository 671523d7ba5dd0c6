"""The query plans of the inbox's main statements, summarized so a regression shows in the bench report.

SQLite answers `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN`; both summaries say which of our indexes
the statement reads and whether it sorts (SQLite: a temporary B-tree; PostgreSQL: a Sort node).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement, Executable

from engine.access.policy import Viewer
from engine.run import inbox_page
from engine.run.inbox_stamp import open_task_conditions, stamp_query
from engine.run.task_search import TaskSearch
from engine.run.task_search import conditions as search_conditions
from engine.run.task_search import lookup as search_lookup
from engine.store.models import HumanTask

SEARCH = TaskSearch(phone="4567")  # the search whose plan is shown: a phone's last digits


class Explain(Executable, ClauseElement):
    """EXPLAIN (QUERY PLAN) of a statement, executed with its own bound parameters."""

    inherit_cache = False

    def __init__(self, statement: Any):
        self.statement = statement


@compiles(Explain)
def _explain(element: Explain, compiler, **kw) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + compiler.process(element.statement, **kw)


def plan_lines(session: Session, statement: Any) -> list[str]:
    rows = session.execute(Explain(statement)).all()
    return [row[-1] for row in rows]


_SQLITE_KEY = re.compile(r"SEARCH (\w+) USING (?:INTEGER )?PRIMARY KEY")


def summary(lines: list[str]) -> dict[str, Any]:
    """Which human_task indexes a plan reads, whether it sorts, whether it reads the whole table."""
    text = "\n".join(lines)
    indexes = {word.strip('"(),') for line in lines for word in line.split()
               if word.strip('"(),').startswith(("ix_human_task", "human_task_pkey", "task_search_term_pkey"))}
    indexes |= {f"{match[1]}_pkey" for match in _SQLITE_KEY.finditer(text)}  # named as PostgreSQL names them
    sorts = ("TEMP B-TREE FOR ORDER BY" in text or "TEMP B-TREE FOR GROUP BY" in text
             or any(line.strip().startswith(("Sort ", "->  Sort ")) for line in lines))
    full = "SCAN human_task" in text.replace('"', "") or "Seq Scan on human_task" in text
    return {"indexes": sorted(indexes), "sorts": sorts, "full_scan": full, "plan": lines}


def statements(viewer: Viewer, now: datetime, per_page: int = 25) -> dict[str, Any]:
    """The inbox's main statements for a viewer with no filter (as engine/run/queries.py `inbox` runs them)."""
    base = open_task_conditions(viewer)
    claimable = inbox_page.visible_to(viewer.username, viewer.reads_all)
    page_conditions = base if claimable is None else [*base, claimable]
    return {
        "page": inbox_page.page_query(page_conditions, "due").limit(per_page),
        "open": select(func.count()).where(*page_conditions),
        "by_lane": select(HumanTask.lane, func.count(),
                          func.sum(case((HumanTask.assignee == viewer.username, 1), else_=0)))
        .where(*base).group_by(HumanTask.lane),
        "overdue": select(func.count()).where(*base, HumanTask.due_at.is_not(None), HumanTask.due_at <= now),
        "mine": select(func.count()).where(*base, HumanTask.assignee == viewer.username),
        "search": inbox_page.narrow_query([*page_conditions, *search_conditions(SEARCH, now)], search_lookup(SEARCH)),
        "stamp": stamp_query(viewer, now),
    }


def inbox_plans(session: Session, viewer: Viewer, now: datetime) -> dict[str, dict[str, Any]]:
    return {name: summary(plan_lines(session, stmt)) for name, stmt in statements(viewer, now).items()}
