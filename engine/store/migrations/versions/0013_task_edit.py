"""Inbox work: human_task.follow_up_at and search_text, saved_view, task_edit (who is editing, drafts)

Revision ID: 0013_task_edit
Revises: 0012_called_files
Create Date: 2026-12-03 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0013_task_edit'
down_revision = '0012_called_files'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
    op.create_table('saved_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('query', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username', 'name')
    )
    with op.batch_alter_table('saved_view', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_view_username'), ['username'], unique=False)
    op.create_table('task_edit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('human_task_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('saved_at', sa.DateTime(), nullable=True),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['human_task_id'], ['human_task.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('human_task_id', 'username')
    )
    with op.batch_alter_table('task_edit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_edit_human_task_id'), ['human_task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_edit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_edit_human_task_id'))
    op.drop_table('task_edit')
    with op.batch_alter_table('saved_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_view_username'))
    op.drop_table('saved_view')
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_column('search_text')
        batch_op.drop_column('follow_up_at')
