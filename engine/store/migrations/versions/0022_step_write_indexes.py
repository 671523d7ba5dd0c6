"""Fewer indexes for each step to write: the redundant ones of human_task and audit_event go

Every step pays for each index entry its rows add or move (SQLite: one more page per index in the
commit's WAL frames). Each of these indexes is served by another one for every query that reads it
(docs/performance.md, "Round 4: the indexes each step writes"):
- ix_human_task_instance_id (instance_id) is the prefix of ix_human_task_instance_state (instance_id, state);
- ix_human_task_assignee (assignee): every statement that compares the assignee also says state = 'ready'
  (the inbox, its counts and stamp, the plugins' workload read) or names the instance, so
  ix_human_task_state_assignee (state, assignee, lane) or ix_human_task_instance_state serves it;
- ix_audit_event_kind (kind) and ix_audit_event_instance_id (instance_id) become one
  ix_audit_event_kind_instance (kind, instance_id, seq): every reader by instance also names the kind
  (the state hash's newest state_written event, the raised incidents, the plugins' last completer),
  every reader by kind keeps its prefix (the KPI's SLA events, "has any event of this kind");
- ix_human_task_open (the partial index of open tasks) stays on PostgreSQL only: SQLite's planner never
  picked it (a partial index needs the literal state in the query; ix_human_task_state_lane_due serves),
  and each task row paid for it twice, at its INSERT and when it closed, computing the routing columns.

Revision ID: 0022_step_write_indexes
Revises: 0021_inbox_routing
Create Date: 2026-12-04 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0022_step_write_indexes'
down_revision = '0021_inbox_routing'
branch_labels = None
depends_on = None

OPEN_COLUMNS = ['lane', 'route_desk', 'assignee', 'due_at', 'instance_id', 'id', 'route_branch']


def on_sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade() -> None:
    op.drop_index('ix_human_task_instance_id', table_name='human_task')
    op.drop_index('ix_human_task_assignee', table_name='human_task')
    op.create_index('ix_audit_event_kind_instance', 'audit_event', ['kind', 'instance_id', 'seq'], unique=False)
    op.drop_index('ix_audit_event_kind', table_name='audit_event')
    op.drop_index('ix_audit_event_instance_id', table_name='audit_event')
    if on_sqlite():
        op.drop_index('ix_human_task_open', table_name='human_task')


def downgrade() -> None:
    if on_sqlite():
        op.create_index('ix_human_task_open', 'human_task', OPEN_COLUMNS, unique=False,
                        sqlite_where=sa.text("state = 'ready'"))
    op.create_index('ix_audit_event_instance_id', 'audit_event', ['instance_id'], unique=False)
    op.create_index('ix_audit_event_kind', 'audit_event', ['kind'], unique=False)
    op.drop_index('ix_audit_event_kind_instance', table_name='audit_event')
    op.create_index('ix_human_task_assignee', 'human_task', ['assignee'], unique=False)
    op.create_index('ix_human_task_instance_id', 'human_task', ['instance_id'], unique=False)
