"""Long loops: human_task index on (instance_id, state), so a step reads only its instance's open tasks

Revision ID: 0015_loop
Revises: 0014_inbox_indexes
Create Date: 2026-12-04 03:30:00
"""

from alembic import op

revision = '0015_loop'
down_revision = '0014_inbox_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_instance_state', ['instance_id', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_instance_state')
