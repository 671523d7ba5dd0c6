"""human_task.branch: a task whose data names a branch (营业网点) goes to that branch's staff

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("branch", sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f("ix_human_task_branch"), ["branch"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_human_task_branch"))
        batch_op.drop_column("branch")
