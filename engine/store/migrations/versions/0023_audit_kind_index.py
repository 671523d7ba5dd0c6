"""The audit index by kind holds only the kinds read by kind; readers by instance go through the stream

ix_audit_event_kind_instance (kind, instance_id, seq) took an entry for every event, and a step's events
land at the end of each kind's range: one more index leaf per distinct kind in the commit (~7.9 of a
user-task instance's 46.6 WAL frames, the largest single item; docs/performance.md, "Round 7: the audit
index by kind"). It becomes ix_audit_event_read_by_kind, the same columns for the kinds read by kind only
(engine/store/audit_kinds.py):
- by kind over all instances or a list of them: the KPI's sla_breached / sla_warning, the incident pages'
  incident_raised, the login page's demo_loaded: the partial index (each query repeats its condition with
  the kinds as literals: a bound kind does not imply it, on SQLite nor in PostgreSQL's generic plans);
- by instance (the state hash's newest state_written, the plugins' last completer, an incident's history,
  an outbox message's events): the unique (stream, seq) index, stream = 'instance:<id>';
- the timer bench's timer_fired events: by the bench's instance streams.
No step writes an entry in it; a step that raises an incident or fires a deadline writes one.

Revision ID: 0023_audit_kind_index
Revises: 0022_step_write_indexes
Create Date: 2026-12-04 23:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0023_audit_kind_index'
down_revision = '0022_step_write_indexes'
branch_labels = None
depends_on = None

COLUMNS = ['kind', 'instance_id', 'seq']
# engine/store/audit_kinds.py READ_BY_KIND_SQL: equalities, not an IN list (one ephemeral table per INSERT on SQLite)
READ_BY_KIND = ("kind = 'demo_loaded' OR kind = 'incident_raised' OR kind = 'sla_breached' "
                "OR kind = 'sla_warning'")


def upgrade() -> None:
    op.create_index('ix_audit_event_read_by_kind', 'audit_event', COLUMNS, unique=False,
                    sqlite_where=sa.text(READ_BY_KIND), postgresql_where=sa.text(READ_BY_KIND))
    op.drop_index('ix_audit_event_kind_instance', table_name='audit_event')


def downgrade() -> None:
    op.create_index('ix_audit_event_kind_instance', 'audit_event', COLUMNS, unique=False)
    op.drop_index('ix_audit_event_read_by_kind', table_name='audit_event')
