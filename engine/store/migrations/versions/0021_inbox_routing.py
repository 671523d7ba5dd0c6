"""The routing keys desk and branch as columns of human_task, in the inbox's indexes

A viewer with a desk attribute (the demo's agents) sees the tasks of their desk and of no desk; the
condition read each candidate row's `routing` JSON. `route_desk` and `route_branch` are generated
columns: the database computes them from `routing` in every INSERT and UPDATE (virtual on SQLite,
stored on PostgreSQL), so they equal the JSON's value by construction, older rows included (the
database fills them when the column is added). The access rule (engine/access/policy.py) and the
desk filter compare the columns, which the count and stamp indexes now hold; the list of desks
open tasks carry is a skip scan of ix_human_task_state_desk (state, route_desk, lane, assignee), which
also answers the desk filter's counts.

Revision ID: 0021_inbox_routing
Revises: 0020_staff_alerts
Create Date: 2026-12-04 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0021_inbox_routing'
down_revision = '0020_staff_alerts'
branch_labels = None
depends_on = None

OPEN_ONLY = sa.text("state = 'ready'")


def routing_value(key: str):
    return sa.column('routing', sa.JSON)[key].as_string()


def upgrade() -> None:
    for key in ('desk', 'branch'):
        op.add_column('human_task', sa.Column(f'route_{key}', sa.Text(), sa.Computed(routing_value(key)),
                                              nullable=True))
    op.drop_index('ix_human_task_open', table_name='human_task')
    op.create_index('ix_human_task_open', 'human_task',
                    ['lane', 'route_desk', 'assignee', 'due_at', 'instance_id', 'id', 'route_branch'],
                    unique=False, postgresql_where=OPEN_ONLY, sqlite_where=OPEN_ONLY)
    op.drop_index('ix_human_task_state_lane_due', table_name='human_task')
    op.create_index('ix_human_task_state_lane_due', 'human_task',
                    ['state', 'lane', 'due_at', 'assignee', 'instance_id', 'route_desk', 'route_branch'], unique=False)
    op.create_index('ix_human_task_state_desk', 'human_task', ['state', 'route_desk', 'lane', 'assignee'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_human_task_state_desk', table_name='human_task')
    op.drop_index('ix_human_task_state_lane_due', table_name='human_task')
    op.create_index('ix_human_task_state_lane_due', 'human_task',
                    ['state', 'lane', 'due_at', 'assignee', 'instance_id'], unique=False)
    op.drop_index('ix_human_task_open', table_name='human_task')
    op.create_index('ix_human_task_open', 'human_task', ['lane', 'assignee', 'due_at', 'instance_id', 'id'],
                    unique=False, postgresql_where=OPEN_ONLY, sqlite_where=OPEN_ONLY)
    for key in ('branch', 'desk'):
        op.drop_column('human_task', f'route_{key}')
