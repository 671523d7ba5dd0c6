"""Inbox indexes for 100,000 open tasks: the page in due order and the counts read indexes only

(state, due_at, id, lane, assignee) serves `ORDER BY due_at NULLS LAST, id` and the keyset
cursor without a sort, and holds the lane and assignee so rows that fail them are skipped
without reading the table; (state, lane, due_at, assignee, instance_id) counts by lane, overdue
and claimed-or-not from the index alone, and serves the live inbox's stamp (engine/run/inbox_stamp.py)
without reading rows; (state, assignee, lane) counts mine. It replaces (lane, state, due_at).

Revision ID: 0014_inbox_indexes
Revises: 0013_task_edit
Create Date: 2026-12-04 03:00:00
"""

from alembic import op

revision = '0014_inbox_indexes'
down_revision = '0013_task_edit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_human_task_state_due_id', 'human_task', ['state', 'due_at', 'id', 'lane', 'assignee'])
    op.create_index('ix_human_task_state_lane_due', 'human_task', ['state', 'lane', 'due_at', 'assignee', 'instance_id'])
    op.create_index('ix_human_task_state_assignee', 'human_task', ['state', 'assignee', 'lane'])
    op.drop_index('ix_human_task_lane_state_due', table_name='human_task')


def downgrade() -> None:
    op.create_index('ix_human_task_lane_state_due', 'human_task', ['lane', 'state', 'due_at'])
    op.drop_index('ix_human_task_state_assignee', table_name='human_task')
    op.drop_index('ix_human_task_state_lane_due', table_name='human_task')
    op.drop_index('ix_human_task_state_due_id', table_name='human_task')
