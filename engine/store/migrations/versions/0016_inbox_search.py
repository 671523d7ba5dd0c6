"""Inbox search by index and counts of open tasks: task_search_term, and ix_human_task_open

Each open task's names and codes are stored as every ending of each word (kind n / c, at most 12
characters) and its phones as every ending of 4 or more digits (kind p), so that a search for a part of
a name or code is one index range and one for a phone's last digits one index lookup
(engine/run/search_terms.py). Open tasks written before this revision get theirs from
`tourflow search-backfill`.

ix_human_task_open (lane, assignee, due_at, instance_id, id) WHERE state = 'ready' holds the open tasks
only: PostgreSQL counts them by lane (and claimed or not) and computes the live inbox's stamp from it
by an index-only scan, instead of a (parallel) scan of the table.

Revision ID: 0016_inbox_search
Revises: 0015_loop
Create Date: 2026-12-04 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016_inbox_search'
down_revision = '0015_loop'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'task_search_term',
        sa.Column('kind', sa.String(length=1), nullable=False),
        sa.Column('term', sa.String(length=48).with_variant(sa.String(length=48, collation='C'), 'postgresql'),
                  nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('kind', 'term', 'task_id'),
        sqlite_with_rowid=False,
    )
    op.create_index('ix_task_search_term_task_id', 'task_search_term', ['task_id'], unique=False)
    open_only = sa.text("state = 'ready'")
    op.create_index('ix_human_task_open', 'human_task', ['lane', 'assignee', 'due_at', 'instance_id', 'id'],
                    unique=False, postgresql_where=open_only, sqlite_where=open_only)


def downgrade() -> None:
    op.drop_index('ix_human_task_open', table_name='human_task')
    op.drop_index('ix_task_search_term_task_id', table_name='task_search_term')
    op.drop_table('task_search_term')
