"""The audit event kinds read by kind across instances, and the condition of the index that holds only them.

A step's own kinds (instance_started, task_ready, task_completed, handler_called, timer_fired,
instance_completed, state_written, ...) have no kind-led index: each would cost a step one index leaf per
distinct kind it appends (migration 0023). Readers by instance go through the stream, which the unique
(stream, seq) index serves. The kinds below are read over all instances (or a list of them) by kind:
`ix_audit_event_read_by_kind (kind, instance_id, seq)` holds their events only.

A partial index serves a query only when the query's terms imply its condition: a bound kind does not (SQLite then
plans with the value bound and prepares the statement again whenever it changes; PostgreSQL cannot prove it in a
generic plan). Every such reader adds the condition itself, `read_by_kind()` (built once: audit.READ_BY_KIND_TERM),
to its WHERE clause, the same equalities in the index's order.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, literal_column, or_, text
from sqlalchemy.sql.elements import TextClause

# The KPI's deadline events, the incident pages' raised incidents, the login page's demo marker.
READ_BY_KIND = ("demo_loaded", "incident_raised", "sla_breached", "sla_warning")
# An OR of equalities, not `kind IN (...)`: SQLite checks a partial index's condition at every INSERT, and an IN
# list builds an ephemeral table for each row (~2 us per event against ~0.2 us; docs/performance.md, Round 7).
READ_BY_KIND_SQL = " OR ".join(f"kind = '{kind}'" for kind in READ_BY_KIND)


def index_where() -> dict[str, TextClause]:
    """The index's WHERE clause on both databases, as Index options (models.py; migration 0023 spells the
    same text)."""
    return {"sqlite_where": text(READ_BY_KIND_SQL), "postgresql_where": text(READ_BY_KIND_SQL)}


def read_by_kind(kind_column: ColumnElement) -> ColumnElement[bool]:
    """`kind = 'demo_loaded' OR ...` with the kinds as literals: the term that lets a query use the index."""
    return or_(*(kind_column == literal_column(f"'{kind}'") for kind in READ_BY_KIND))


__all__ = ["READ_BY_KIND", "READ_BY_KIND_SQL", "index_where", "read_by_kind"]
